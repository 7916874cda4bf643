// Reduction throughput on f32: the sum of all elements, and the sum over the last dim of a
// (n / 1024, 1024) matrix; at 2^24 also the sums of a (n / 16, 16) matrix over its last dim
// (short rows) and over dim 0 (tall columns). The figure is input bytes read per second.
// Twin: bench/torch/reduce.py.
#include "bench/common.h"

namespace hmr::bench {
namespace {

constexpr int64_t kRowLength = 1024;

void sum_all_case(benchmark::State& state, int64_t n) {
  Tensor x = rand({n}, bench_device());
  timed_loop(state, [&] { benchmark::DoNotOptimize(sum(x)); });
  state.SetBytesProcessed(state.iterations() * batch() * n * 4);
}

void sum_lastdim_case(benchmark::State& state, int64_t n) {
  Tensor x = rand({n / kRowLength, kRowLength}, bench_device());
  timed_loop(state, [&] { benchmark::DoNotOptimize(sum(x, {-1})); });
  state.SetBytesProcessed(state.iterations() * batch() * n * 4);
}

void sum_narrow_case(benchmark::State& state, int64_t dim, int64_t n) {
  Tensor x = rand({n / 16, 16}, bench_device());
  timed_loop(state, [&] { benchmark::DoNotOptimize(sum(x, {dim})); });
  state.SetBytesProcessed(state.iterations() * batch() * n * 4);
}

void register_cases() {
  for (int64_t n : stream_sizes()) {
    std::string size = std::to_string(n);
    benchmark::RegisterBenchmark(("sum_all/f32/" + size).c_str(), sum_all_case, n)->UseRealTime();
    benchmark::RegisterBenchmark(("sum_lastdim/f32/" + size).c_str(), sum_lastdim_case, n)->UseRealTime();
  }
  const int64_t n = stream_sizes().back();
  const std::string size = std::to_string(n);
  benchmark::RegisterBenchmark(("sum_rows16/f32/" + size).c_str(), sum_narrow_case, 1, n)->UseRealTime();
  benchmark::RegisterBenchmark(("sum_dim0_16/f32/" + size).c_str(), sum_narrow_case, 0, n)->UseRealTime();
}

}  // namespace
}  // namespace hmr::bench

HMR_BENCH_MAIN(hmr::bench::register_cases)
