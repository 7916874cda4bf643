// Elementwise throughput: add, mul, exp on contiguous f32 vectors, written into a preallocated
// output (PyTorch twin: torch.add(a, b, out=c)), so the figure is the kernel's memory bandwidth:
// bytes read + written per second. Random fills (uniform_, normal_ into a 2^24 f32 tensor) count
// the bytes written. Twin: bench/torch/elementwise.py.
#include "kernels/elementwise.h"

#include "bench/common.h"

namespace hmr::bench {
namespace {

using kernels::BinaryOp;
using kernels::UnaryOp;

void binary_case(benchmark::State& state, BinaryOp op, int64_t n) {
  Tensor a = rand({n}, bench_device()), b = rand({n}, bench_device()), out = empty({n}, bench_device());
  timed_loop(state, [&] { kernels::binary(op, a, b, out); });
  state.SetBytesProcessed(state.iterations() * batch() * 3 * n * 4);  // read a, b; write out
}

void exp_case(benchmark::State& state, int64_t n) {
  Tensor a = rand({n}, bench_device()), out = empty({n}, bench_device());
  timed_loop(state, [&] { kernels::unary(UnaryOp::Exp, a, out); });
  state.SetBytesProcessed(state.iterations() * batch() * 2 * n * 4);  // read a; write out
}

void random_case(benchmark::State& state, bool normal, int64_t n) {
  Tensor out = empty({n}, bench_device());
  timed_loop(state, [&] {
    if (normal) kernels::normal(out, 0.0, 1.0, default_generator());
    else kernels::uniform(out, 0.0, 1.0, default_generator());
  });
  state.SetBytesProcessed(state.iterations() * batch() * n * 4);
}

void register_cases() {
  for (int64_t n : stream_sizes()) {
    std::string size = std::to_string(n);
    benchmark::RegisterBenchmark(("add/f32/" + size).c_str(), binary_case, BinaryOp::Add, n)->UseRealTime();
    benchmark::RegisterBenchmark(("mul/f32/" + size).c_str(), binary_case, BinaryOp::Mul, n)->UseRealTime();
    benchmark::RegisterBenchmark(("exp/f32/" + size).c_str(), exp_case, n)->UseRealTime();
  }
  const int64_t n = stream_sizes().back();
  const std::string size = std::to_string(n);
  benchmark::RegisterBenchmark(("uniform_/f32/" + size).c_str(), random_case, false, n)->UseRealTime();
  benchmark::RegisterBenchmark(("normal_/f32/" + size).c_str(), random_case, true, n)->UseRealTime();
}

}  // namespace
}  // namespace hmr::bench

HMR_BENCH_MAIN(hmr::bench::register_cases)
