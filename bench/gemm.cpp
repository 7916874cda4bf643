// Square f32 GEMM through hmr::matmul (Eigen on the CPU, cuBLAS on CUDA), in FLOP/s
// (2 n^3 per product). Twin: bench/torch/gemm.py (torch.matmul).
#include "bench/common.h"

namespace hmr::bench {
namespace {

void gemm_case(benchmark::State& state, int64_t n) {
  Tensor a = randn({n, n}, bench_device()), b = randn({n, n}, bench_device());
  timed_loop(state, [&] { benchmark::DoNotOptimize(matmul(a, b)); });
  double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  state.counters["FLOPS"] = benchmark::Counter(flops * static_cast<double>(state.iterations() * batch()),
                                               benchmark::Counter::kIsRate);
}

void register_cases() {
  for (int64_t n : {512, 1024, 2048})
    benchmark::RegisterBenchmark(("gemm/f32/" + std::to_string(n)).c_str(), gemm_case, n)->UseRealTime();
}

}  // namespace
}  // namespace hmr::bench

HMR_BENCH_MAIN(hmr::bench::register_cases)
