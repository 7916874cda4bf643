#!/usr/bin/env bash
# Configures, builds and runs the whole test suite; README's test command, and what CI runs.
#   scripts/test.sh              Release build in build/ (CUDA code compiled when nvcc is found;
#                                GPU tests skip without a device)
#   scripts/test.sh --sanitize   CPU-only ASan + UBSan build in build-asan/
# BUILD_DIR, JOBS and extra CMAKE_ARGS may be set in the environment.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Installs only what is missing (a no-op on a machine that has everything).
bash "$root/scripts/install-deps.sh" --tests
jobs=${JOBS:-$(nproc)}
args=(-G Ninja -DHMR_BENCH=OFF)
if [[ "${1:-}" == "--sanitize" ]]; then
  build=${BUILD_DIR:-$root/build-asan}
  # RelWithDebInfo keeps the suite fast enough while giving sanitizer reports line numbers.
  args+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DHMR_SANITIZE=ON -DHMR_CUDA=OFF)
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
elif [[ $# -gt 0 ]]; then
  echo "usage: scripts/test.sh [--sanitize]" >&2
  exit 2
else
  build=${BUILD_DIR:-$root/build}
  args+=(-DCMAKE_BUILD_TYPE=Release)
fi

cmake -S "$root" -B "$build" "${args[@]}" ${CMAKE_ARGS:-}
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs"
