#include "tensor/cuda_allocator.h"

#include <memory>
#include <vector>

#include "tensor/error.h"

#ifdef HMR_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace hmr::cuda {

namespace {
constexpr int64_t kSmallLimit = 1 << 20;
constexpr int64_t kSmallRound = 512;
constexpr int64_t kLargeRound = 2 << 20;

struct FreeContext {
  CachingAllocator* allocator;
};
}  // namespace

int64_t CachingAllocator::round_size(int64_t nbytes) {
  if (nbytes <= 0) return kSmallRound;
  int64_t r = nbytes < kSmallLimit ? kSmallRound : kLargeRound;
  return (nbytes + r - 1) / r * r;
}

Storage CachingAllocator::allocate(int64_t nbytes) {
  int64_t size = round_size(nbytes);
  void* ptr = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Best fit among cached blocks, but never hand a huge block to a small request.
    auto it = free_blocks_.lower_bound(size);
    if (it != free_blocks_.end() && it->first <= size * 2 + kLargeRound) {
      ptr = it->second;
      size = it->first;
      free_blocks_.erase(it);
      ++stats_.num_cache_hits;
    }
  }
  if (!ptr) {
    ptr = raw_->malloc(size);
    if (!ptr) {
      empty_cache();
      ptr = raw_->malloc(size);
    }
    HMR_CHECK(ptr, CudaError, "cuda allocate: out of memory on device ", device_, " allocating ",
              nbytes, " bytes (", stats().reserved_bytes, " bytes reserved by hmr)");
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.num_device_allocs;
    stats_.reserved_bytes += size;
  }
  std::lock_guard<std::mutex> lock(mu_);
  live_blocks_[ptr] = size;
  ++stats_.num_allocs;
  stats_.allocated_bytes += size;
  if (stats_.allocated_bytes > stats_.peak_allocated_bytes)
    stats_.peak_allocated_bytes = stats_.allocated_bytes;
  return wrap_storage(ptr, nbytes, Device::cuda(device_), &CachingAllocator::release, this);
}

void CachingAllocator::release(void* ptr, void* ctx) { static_cast<CachingAllocator*>(ctx)->give_back(ptr); }

void CachingAllocator::give_back(void* ptr) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_blocks_.find(ptr);
  if (it == live_blocks_.end()) return;
  stats_.allocated_bytes -= it->second;
  free_blocks_.emplace(it->second, ptr);
  live_blocks_.erase(it);
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [size, ptr] : free_blocks_) {
    raw_->free(ptr);
    stats_.reserved_bytes -= size;
  }
  free_blocks_.clear();
}

#ifdef HMR_WITH_CUDA
namespace {
struct CudaRawMemory : RawMemory {
  explicit CudaRawMemory(int device) : device(device) {}
  void* malloc(int64_t nbytes) override {
    cudaSetDevice(device);
    void* p = nullptr;
    if (cudaMalloc(&p, static_cast<size_t>(nbytes)) != cudaSuccess) {
      cudaGetLastError();
      return nullptr;
    }
    return p;
  }
  void free(void* p) override {
    cudaSetDevice(device);
    cudaFree(p);
  }
  int device;
};
}  // namespace

CachingAllocator& CachingAllocator::get(int device) {
  // Allocators live for the whole process (tensors may be freed during static destruction).
  static std::mutex mu;
  static std::vector<CachingAllocator*> allocators;
  std::lock_guard<std::mutex> lock(mu);
  if (static_cast<int>(allocators.size()) <= device) allocators.resize(device + 1, nullptr);
  if (!allocators[device])
    allocators[device] = new CachingAllocator(device, new CudaRawMemory(device));
  return *allocators[device];
}
#endif

}  // namespace hmr::cuda
