// Device discovery, streams and memory for CUDA. In a build without CUDA every query
// answers "none" and every allocation throws CudaError naming the reason.
#include "tensor/cuda_context.h"

#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "tensor/error.h"

#ifdef HMR_WITH_CUDA
#include <cuda_runtime_api.h>
#include "tensor/cuda_allocator.h"
#endif

namespace hmr::cuda {

#ifdef HMR_WITH_CUDA

#define HMR_CUDA_CHECK(expr)                                                          \
  do {                                                                                \
    cudaError_t err_ = (expr);                                                        \
    if (err_ != cudaSuccess)                                                          \
      throw ::hmr::CudaError(::hmr::str(#expr, " failed: ", cudaGetErrorString(err_))); \
  } while (0)

namespace {

struct Runtime {
  int count = 0;
  std::string reason;
  std::mutex mu;  // guards the lazily created streams and properties below
  std::vector<cudaStream_t> streams;
  std::vector<std::unique_ptr<DeviceProperties>> properties;
};

Runtime& runtime() {
  static Runtime* rt = [] {
    // Never destroyed: tensors freed during static destruction may still ask for a stream.
    auto* r = new Runtime;
    cudaError_t err = cudaGetDeviceCount(&r->count);
    if (err != cudaSuccess) {
      r->count = 0;
      r->reason = str("no CUDA device: ", cudaGetErrorString(err));
      cudaGetLastError();  // clear the sticky error
    } else if (r->count == 0) {
      r->reason = "no CUDA device: cudaGetDeviceCount found none";
    }
    r->streams.assign(r->count, nullptr);
    r->properties.resize(r->count);
    return r;
  }();
  return *rt;
}

void check_device(int device) {
  Runtime& rt = runtime();
  HMR_CHECK(rt.count > 0, CudaError, rt.reason);
  HMR_CHECK(device >= 0 && device < rt.count, CudaError, "cuda: expected a device index in [0, ",
            rt.count, ") but found ", device);
}

}  // namespace

bool compiled_with_cuda() { return true; }
int device_count() { return runtime().count; }
std::string unavailable_reason() { return runtime().reason; }

const DeviceProperties& device_properties(int device) {
  check_device(device);
  Runtime& rt = runtime();
  std::lock_guard<std::mutex> lock(rt.mu);
  if (!rt.properties[device]) {
    cudaDeviceProp p;
    HMR_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
    rt.properties[device] = std::make_unique<DeviceProperties>(
        DeviceProperties{p.name, static_cast<int64_t>(p.totalGlobalMem), p.major, p.minor,
                         p.multiProcessorCount, p.maxThreadsPerMultiProcessor});
  }
  return *rt.properties[device];
}

int runtime_version() {
  int v = 0;
  cudaRuntimeGetVersion(&v);
  return v;
}
int driver_version() {
  int v = 0;
  if (cudaDriverGetVersion(&v) != cudaSuccess) return 0;
  return v;
}

void set_device(int device) {
  check_device(device);
  HMR_CUDA_CHECK(cudaSetDevice(device));
}

void* current_stream(int device) {
  check_device(device);
  Runtime& rt = runtime();
  std::lock_guard<std::mutex> lock(rt.mu);
  if (!rt.streams[device]) {
    HMR_CUDA_CHECK(cudaSetDevice(device));
    HMR_CUDA_CHECK(cudaStreamCreateWithFlags(&rt.streams[device], cudaStreamNonBlocking));
  }
  return rt.streams[device];
}

void synchronize(int device) {
  HMR_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(current_stream(device))));
}

Storage allocate(int64_t nbytes, int device) {
  check_device(device);
  return CachingAllocator::get(device).allocate(nbytes);
}

AllocatorStats allocator_stats(int device) {
  check_device(device);
  return CachingAllocator::get(device).stats();
}

void empty_cache(int device) {
  check_device(device);
  CachingAllocator::get(device).empty_cache();
}

void memcpy(void* dst, Device dst_device, const void* src, Device src_device, int64_t nbytes) {
  if (nbytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, static_cast<size_t>(nbytes));
    return;
  }
  int dev = dst_device.is_cuda() ? dst_device.index : src_device.index;
  bool peer = dst_device.is_cuda() && src_device.is_cuda() && dst_device.index != src_device.index;
  // The source may still be written by kernels queued on its own device's stream.
  if (peer) synchronize(src_device.index);
  set_device(dev);
  auto stream = static_cast<cudaStream_t>(current_stream(dev));
  HMR_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(nbytes), cudaMemcpyDefault, stream));
  // Host buffers must be usable on return; a peer source may be freed and reused on its own
  // stream as soon as we return, which that stream would not order after this copy.
  if (dst_device.is_cpu() || src_device.is_cpu() || peer) HMR_CUDA_CHECK(cudaStreamSynchronize(stream));
}

namespace {
void free_pinned(void* p, void*) { cudaFreeHost(p); }
}  // namespace

Storage allocate_pinned(int64_t nbytes) {
  HMR_CHECK(device_count() > 0, CudaError, unavailable_reason());
  void* p = nullptr;
  HMR_CUDA_CHECK(cudaMallocHost(&p, static_cast<size_t>(nbytes)));
  return wrap_storage(p, nbytes, Device::cpu(), &free_pinned, nullptr);
}

#else  // !HMR_WITH_CUDA

namespace {
const char* kOff = "no CUDA device: hmr.cpp was built without CUDA (HMR_CUDA=OFF or nvcc not found)";
[[noreturn]] void unavailable() { throw CudaError(kOff); }
}  // namespace

bool compiled_with_cuda() { return false; }
int device_count() { return 0; }
std::string unavailable_reason() { return kOff; }
const DeviceProperties& device_properties(int) { unavailable(); }
int runtime_version() { return 0; }
int driver_version() { return 0; }
void set_device(int) { unavailable(); }
void* current_stream(int) { unavailable(); }
void synchronize(int) { unavailable(); }
Storage allocate(int64_t, int) { unavailable(); }
AllocatorStats allocator_stats(int) { unavailable(); }
void empty_cache(int) { unavailable(); }
void memcpy(void* dst, Device dst_device, const void* src, Device src_device, int64_t nbytes) {
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    if (nbytes) std::memcpy(dst, src, static_cast<size_t>(nbytes));
    return;
  }
  unavailable();
}
Storage allocate_pinned(int64_t) { unavailable(); }

#endif

bool is_available() { return device_count() > 0; }

}  // namespace hmr::cuda
