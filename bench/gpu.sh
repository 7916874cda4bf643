#!/usr/bin/env bash
# For the GPU machine, which builds nothing: runs the CUDA tests of a build made elsewhere
# (carried along), then each benchmark on cuda beside its PyTorch twin, and prints one table.
#   BUILD_DIR=build-gpu bash bench/gpu.sh      (logs and the table also go to $OUT when set)
# Build it first on a CUDA machine: cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release
#   -DCMAKE_CUDA_ARCHITECTURES=90 && cmake --build build-gpu -j2
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build-gpu}
[[ -x "$build/bench/bench_gemm" ]] || { echo "gpu.sh: no benchmark programs in $build (see the header)" >&2; exit 1; }
build=$(cd "$build" && pwd)
logs=${OUT:-$(mktemp -d)}
mkdir -p "$logs"
python=${PYTHON:-python3}
families=(elementwise reduce gemm overhead resnet body render hmr_step smplify loader)
export LD_LIBRARY_PATH="$build/bench/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  echo "commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u '+%Y-%m-%d %H:%M UTC')"
} | tee "$logs/device.txt"

# ctest knows the build's absolute paths; where the build dir moved, run the test program itself.
status=0
if grep -q "CMAKE_CACHEFILE_DIR:INTERNAL=$build\$" "$build/CMakeCache.txt"; then
  ctest --test-dir "$build" -L cuda --no-tests=error --output-on-failure 2>&1 | tee "$logs/ctest.log" || status=1
else
  "$build/tests/test_cuda" 2>&1 | tee "$logs/ctest.log" || status=1
fi

results=()
for family in "${families[@]}"; do
  results+=("$logs/$family.json")
  "$build/bench/bench_$family" --device=cuda --benchmark_min_time=0.3 --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true --benchmark_out="$logs/$family.json" \
    --benchmark_out_format=json >"$logs/$family.txt" 2>&1 || status=1
  [[ -f "$root/bench/torch/$family.py" ]] || continue  # render has no torch twin
  "$python" "$root/bench/torch/$family.py" --device cuda >>"$logs/torch.jsonl" || status=1
done
"$python" "$root/bench/compare.py" --hmr "${results[@]}" --torch "$logs/torch.jsonl" --markdown | tee "$logs/table.md"
exit $status
