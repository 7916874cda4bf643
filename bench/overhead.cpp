// Per-op overhead: `a + b` on 1 and 16 f32 elements through the full user API (argument
// checks, type promotion, output allocation, dispatch, the grad-mode check), in time per op.
// Twin: bench/torch/overhead.py, which also pays the Python interpreter per call.
#include "bench/common.h"

namespace hmr::bench {
namespace {

void tiny_add_case(benchmark::State& state, int64_t n) {
  Tensor a = rand({n}, bench_device()), b = rand({n}, bench_device());
  timed_loop(state, [&] { benchmark::DoNotOptimize(a + b); });
  state.SetItemsProcessed(state.iterations() * batch());
}

void register_cases() {
  for (int64_t n : {1, 16})
    benchmark::RegisterBenchmark(("tiny_add/f32/" + std::to_string(n)).c_str(), tiny_add_case, n)
        ->UseRealTime();
}

}  // namespace
}  // namespace hmr::bench

HMR_BENCH_MAIN(hmr::bench::register_cases)
