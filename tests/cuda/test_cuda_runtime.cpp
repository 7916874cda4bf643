// The CUDA runtime layer: device queries, streams, raw copies, the caching allocator on a real
// device (no cudaMalloc in a steady-state loop) and the library versions. Tests that need a GPU
// skip without one; the no-device behaviour is tested where there is none.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "autograd/ops.h"
#include "kernels/cuda_libs.h"
#include "tensor/cuda_context.h"

using namespace hmr;

#define HMR_SKIP_WITHOUT_GPU() \
  if (hmr::cuda::device_count() == 0) GTEST_SKIP() << hmr::cuda::unavailable_reason()

TEST(CudaRuntime, WithoutADeviceEveryCallThrowsCudaErrorWithTheReason) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "a device is present";
  std::string reason = cuda::unavailable_reason();
  EXPECT_NE(reason.find("no CUDA device"), std::string::npos) << reason;
  EXPECT_FALSE(cuda::is_available());
  EXPECT_THROW(cuda::device_properties(0), CudaError);
  EXPECT_THROW(cuda::current_stream(0), CudaError);
  EXPECT_THROW(cuda::allocate(16, 0), CudaError);
  EXPECT_THROW(Tensor::empty({4}, DType::F32, Device::cuda()), CudaError);
  try {
    cuda::allocator_stats(0);
    FAIL() << "expected CudaError";
  } catch (const CudaError& e) {
    EXPECT_EQ(std::string(e.what()), reason);
  }
}

TEST(CudaRuntime, LibraryVersionsAreKnownExactlyWhenBuiltWithCuda) {
  // Neither query needs a GPU, only the libraries.
  if (!cuda::compiled_with_cuda()) {
    EXPECT_EQ(cuda::cublas_version(), 0);
    EXPECT_EQ(cuda::cudnn_version(), 0);
    EXPECT_EQ(cuda::runtime_version(), 0);
    return;
  }
  EXPECT_GE(cuda::cublas_version(), 110000);  // CUBLAS_VERSION form: major * 10000 + ...
  EXPECT_GE(cuda::cudnn_version(), 8000);     // cuDNN 8 spelled 8xyz, cuDNN 9 spells 9xxyy
  EXPECT_GE(cuda::runtime_version(), 11000);  // CUDART_VERSION form: 1000 * major + 10 * minor
}

TEST(CudaRuntime, DevicePropertiesAreSane) {
  HMR_SKIP_WITHOUT_GPU();
  for (int d = 0; d < cuda::device_count(); ++d) {
    const cuda::DeviceProperties& p = cuda::device_properties(d);
    EXPECT_FALSE(p.name.empty());
    EXPECT_GT(p.total_memory, int64_t(1) << 30);
    EXPECT_GE(p.major, 7);  // the build targets sm_90; nothing older than Volta runs it anyway
    EXPECT_GT(p.multiprocessor_count, 0);
    EXPECT_GE(p.max_threads_per_multiprocessor, 1024);
    EXPECT_EQ(&cuda::device_properties(d), &p) << "queried once and cached";
  }
  EXPECT_THROW(cuda::device_properties(cuda::device_count()), CudaError);
  EXPECT_THROW(cuda::device_properties(-1), CudaError);
  EXPECT_GT(cuda::driver_version(), 0);
}

TEST(CudaRuntime, EachDeviceHasOneStream) {
  HMR_SKIP_WITHOUT_GPU();
  void* s = cuda::current_stream(0);
  EXPECT_NE(s, nullptr);
  EXPECT_EQ(cuda::current_stream(0), s);
  cuda::synchronize(0);
}

TEST(CudaRuntime, MemcpyRoundTripsThroughTheDevice) {
  HMR_SKIP_WITHOUT_GPU();
  std::vector<int32_t> host(1000), back(1000, -1);
  for (int i = 0; i < 1000; ++i) host[i] = i * 7 - 3;
  Storage a = cuda::allocate(4000, 0), b = cuda::allocate(4000, 0);
  cuda::memcpy(a->data(), Device::cuda(0), host.data(), Device::cpu(), 4000);
  cuda::memcpy(b->data(), Device::cuda(0), a->data(), Device::cuda(0), 4000);
  cuda::memcpy(back.data(), Device::cpu(), b->data(), Device::cuda(0), 4000);
  EXPECT_EQ(back, host);
}

TEST(CudaRuntime, SteadyStateLoopMakesNoNewCudaMalloc) {
  HMR_SKIP_WITHOUT_GPU();
  Tensor x = randn({512, 1024}).cuda();
  auto step = [&] {
    Tensor y = sigmoid(x * 2.0 + 1.0) - x;  // a handful of temporaries per step
    return y;
  };
  step();  // warm-up: the pool learns this step's sizes
  cuda::synchronize(0);
  auto before = cuda::allocator_stats(0);
  for (int i = 0; i < 50; ++i) step();
  cuda::synchronize(0);
  auto after = cuda::allocator_stats(0);
  EXPECT_EQ(after.num_device_allocs, before.num_device_allocs);
  EXPECT_GE(after.num_cache_hits - before.num_cache_hits, 50 * 3);
  EXPECT_EQ(after.allocated_bytes, before.allocated_bytes) << "every temporary went back to the pool";
  EXPECT_EQ(after.reserved_bytes, before.reserved_bytes);
}

TEST(CudaRuntime, EmptyCacheReturnsUnusedBlocksToTheDriver) {
  HMR_SKIP_WITHOUT_GPU();
  Tensor keep = Tensor::empty({1000}, DType::F32, Device::cuda());
  { Tensor tmp = Tensor::empty({1 << 20}, DType::F32, Device::cuda()); }
  auto cached = cuda::allocator_stats(0);
  EXPECT_GE(cached.reserved_bytes - cached.allocated_bytes, int64_t(4) << 20);
  cuda::empty_cache(0);
  auto emptied = cuda::allocator_stats(0);
  EXPECT_EQ(emptied.reserved_bytes, emptied.allocated_bytes);
  EXPECT_EQ(emptied.allocated_bytes, cached.allocated_bytes);
  EXPECT_GE(emptied.allocated_bytes, 4000);  // keep is still alive
}

TEST(CudaRuntime, HostReadsWaitForQueuedKernels) {
  HMR_SKIP_WITHOUT_GPU();
  // Kernels run asynchronously on the device's stream; reading to the host waits for them.
  Tensor x = ones({1 << 22}, Device::cuda());
  for (int i = 0; i < 20; ++i) x = x + 1.0;
  EXPECT_EQ(x.slice(0, (1 << 22) - 1, 1 << 22).item<double>(), 21.0);
}
