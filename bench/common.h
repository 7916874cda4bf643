// Shared plumbing of the hmr benchmarks: a --device=cpu|cuda flag (stripped before Google
// Benchmark sees argv), the case sizes, and a timed loop that is honest on both backends: on
// CUDA each benchmark iteration launches a batch of ops and then synchronises, so the measured
// time covers the work rather than the launch queue, and the sync cost is spread over the batch.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "tensor/cuda_context.h"
#include "tensor/parallel.h"

namespace hmr::bench {

// Benchmark cases run on this device (set by --device before registration).
inline Device& bench_device() {
  static Device device = Device::cpu();
  return device;
}

// Ops per timed iteration: 1 on the CPU, a batch on CUDA (see the file comment).
inline int64_t batch() { return bench_device().is_cuda() ? 20 : 1; }

inline void sync() {
  if (bench_device().is_cuda()) cuda::synchronize(bench_device().index);
}

// Runs op() batch() times per iteration, synchronising after each batch.
template <class Op>
void timed_loop(benchmark::State& state, Op op) {
  op();  // warm-up: first-touch page faults, allocator caches, cuBLAS handles
  sync();
  int64_t n = batch();
  for (auto _ : state) {
    for (int64_t i = 0; i < n; ++i) op();
    sync();
  }
}

// Element counts of the bandwidth cases: 2^20 (fits in L2/L3), 2^22, 2^24 (main memory).
inline const std::vector<int64_t>& stream_sizes() {
  static const std::vector<int64_t> sizes = {1 << 20, 1 << 22, 1 << 24};
  return sizes;
}

// Parses and removes --device=...; sets the thread count (HMR_BENCH_THREADS, default: all).
inline void init(int* argc, char** argv) {
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    if (std::strncmp(argv[i], "--device=", 9) == 0)
      bench_device() = Device::parse(argv[i] + 9);
    else
      argv[out++] = argv[i];
  }
  *argc = out;
  if (const char* t = std::getenv("HMR_BENCH_THREADS")) set_num_threads(std::atoi(t));
  if (bench_device().is_cuda())
    HMR_CHECK(cuda::device_count() > 0, DeviceError, "bench: --device=cuda but ", cuda::unavailable_reason());
  benchmark::AddCustomContext("hmr_device", bench_device().str());
  benchmark::AddCustomContext("hmr_threads", std::to_string(num_threads()));
}

}  // namespace hmr::bench

// main() for a benchmark program whose cases are registered by register_cases().
#define HMR_BENCH_MAIN(register_cases)                                  \
  int main(int argc, char** argv) {                                     \
    try {                                                               \
      ::hmr::bench::init(&argc, argv);                                  \
      register_cases();                                                 \
    } catch (const std::exception& e) {                                 \
      std::fprintf(stderr, "%s: %s\n", argv[0], e.what());              \
      return 1;                                                         \
    }                                                                   \
    ::benchmark::Initialize(&argc, argv);                               \
    if (::benchmark::ReportUnrecognizedArguments(argc, argv)) return 1; \
    ::benchmark::RunSpecifiedBenchmarks();                              \
    ::benchmark::Shutdown();                                            \
    return 0;                                                           \
  }
