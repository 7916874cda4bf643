#!/usr/bin/env bash
# Runs every CPU benchmark and its PyTorch twin (Debian's python3-torch, /usr/bin/python3) in
# one invocation on the same cores, and prints one table: case, hmr, torch, speed ratio.
#   bench/run_cpu.sh [--markdown]     THREADS (default 2), BUILD_DIR (default build-bench),
#                                     FAMILIES (default: all, e.g. "gemm resnet")
# Builds the benchmark programs (Release, CPU only) when they are missing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
threads=${THREADS:-2}
read -ra families <<<"${FAMILIES:-elementwise reduce gemm overhead resnet body render hmr_step smplify loader}"

if [[ ! -f "$build/build.ninja" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHMR_CUDA=OFF -DHMR_TESTS=OFF \
    -DHMR_BENCH=ON >/dev/null
fi
cmake --build "$build" -j 2 --target "${families[@]/#/bench_}" >/dev/null

logs=$(mktemp -d)
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads HMR_BENCH_THREADS=$threads
echo "commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u '+%Y-%m-%d %H:%M UTC'), $threads threads," \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
results=()
for family in "${families[@]}"; do
  results+=("$logs/$family.json")
  "$build/bench/bench_$family" --benchmark_min_time=0.3 --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true --benchmark_out="$logs/$family.json" \
    --benchmark_out_format=json >"$logs/$family.txt" 2>&1
  # A family without a twin (render: plain torch has no rasterizer) prints its figures alone.
  [[ -f "$root/bench/torch/$family.py" ]] || continue
  /usr/bin/python3 "$root/bench/torch/$family.py" --threads "$threads" >>"$logs/torch.jsonl"
done
python3 "$root/bench/compare.py" --hmr "${results[@]}" --torch "$logs/torch.jsonl" "$@"
echo "logs: $logs"
