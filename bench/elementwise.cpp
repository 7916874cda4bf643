// Elementwise throughput: add, mul, exp on contiguous f32 vectors, written into a preallocated
// output (PyTorch twin: torch.add(a, b, out=c)), so the figure is the kernel's memory bandwidth:
// bytes read + written per second. Twin: bench/torch/elementwise.py.
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

void register_cases() {
  for (int64_t n : stream_sizes()) {
    std::string size = std::to_string(n);
    benchmark::RegisterBenchmark(("add/f32/" + size).c_str(), binary_case, BinaryOp::Add, n)->UseRealTime();
    benchmark::RegisterBenchmark(("mul/f32/" + size).c_str(), binary_case, BinaryOp::Mul, n)->UseRealTime();
    benchmark::RegisterBenchmark(("exp/f32/" + size).c_str(), exp_case, n)->UseRealTime();
  }
}

}  // namespace
}  // namespace hmr::bench

HMR_BENCH_MAIN(hmr::bench::register_cases)
