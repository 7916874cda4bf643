// The caching allocator's pool logic (host-only C++) and, with CUDA, its cudaMalloc backing.
// Blocks are never split: reuse relies on training loops asking for the same sizes each step,
// which the size rounding makes exact often enough.
#include "tensor/cuda_allocator.h"

#include <algorithm>
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
// Far above any device's memory, low enough that rounding up cannot overflow.
constexpr int64_t kMaxRequest = int64_t(1) << 60;
}  // namespace

int64_t CachingAllocator::round_size(int64_t nbytes) {
  if (nbytes <= 0) return kSmallRound;
  int64_t r = nbytes < kSmallLimit ? kSmallRound : kLargeRound;
  return (nbytes + r - 1) / r * r;
}

bool CachingAllocator::fits(int64_t block_size, int64_t size) {
  if (block_size < size) return false;
  // Small requests may waste up to their own size; large ones an eighth (at least one
  // rounding step), so a cached 2 MiB block never serves a 512 B tensor.
  int64_t waste = size < kSmallLimit ? size : std::max(kLargeRound, size / 8);
  return block_size - size <= waste;
}

CachingAllocator::~CachingAllocator() {
  std::lock_guard<std::mutex> lock(mu_);
  free_cached();
}

void* CachingAllocator::take_cached(int64_t& size) {
  auto it = free_blocks_.lower_bound(size);  // the smallest block that is large enough
  if (it == free_blocks_.end() || !fits(it->first, size)) return nullptr;
  void* ptr = it->second;
  size = it->first;
  free_blocks_.erase(it);
  ++stats_.num_cache_hits;
  return ptr;
}

void CachingAllocator::free_cached() {
  for (auto& [size, ptr] : free_blocks_) {
    raw_->free(ptr);
    stats_.reserved_bytes -= size;
  }
  free_blocks_.clear();
}

Storage CachingAllocator::allocate(int64_t nbytes) {
  HMR_CHECK(nbytes >= 0 && nbytes <= kMaxRequest, ValueError, "cuda allocate: expected a size in [0, ",
            kMaxRequest, "] bytes but found ", nbytes);
  int64_t size = round_size(nbytes);
  std::unique_lock<std::mutex> lock(mu_);
  void* ptr = take_cached(size);
  if (!ptr) {
    // cudaMalloc may take milliseconds; do not hold up frees and cache hits meanwhile.
    lock.unlock();
    ptr = raw_->malloc(size);
    lock.lock();
    if (!ptr) {
      // Cached blocks of other sizes may add up to what is needed once handed back.
      free_cached();
      lock.unlock();
      ptr = raw_->malloc(size);
      lock.lock();
    }
    HMR_CHECK(ptr, CudaError, "cuda allocate: out of memory on device ", device_, " allocating ",
              nbytes, " bytes (", stats_.reserved_bytes, " bytes reserved by hmr, ",
              stats_.allocated_bytes, " in live tensors)");
    ++stats_.num_device_allocs;
    stats_.reserved_bytes += size;
  }
  live_blocks_[ptr] = size;
  ++stats_.num_allocs;
  stats_.allocated_bytes += size;
  stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
  return wrap_storage(ptr, nbytes, Device::cuda(device_), &CachingAllocator::release, this);
}

void CachingAllocator::release(void* ptr, void* ctx) { static_cast<CachingAllocator*>(ctx)->give_back(ptr); }

void CachingAllocator::give_back(void* ptr) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_blocks_.find(ptr);
  // Only reachable through a Storage this allocator made, so the block is always known; a
  // deleter must not throw, hence no check here.
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
  free_cached();
}

#ifdef HMR_WITH_CUDA
namespace {

// cudaMalloc/cudaFree act on the calling thread's current device: switch to ours and back, so
// allocating never changes which device the caller's next launch goes to.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    if (cudaGetDevice(&previous_) != cudaSuccess) previous_ = device;
    if (previous_ != device) cudaSetDevice(device);
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

struct CudaRawMemory : RawMemory {
  explicit CudaRawMemory(int device) : device(device) {}
  void* malloc(int64_t nbytes) override {
    DeviceGuard guard(device);
    void* p = nullptr;
    if (cudaMalloc(&p, static_cast<size_t>(nbytes)) != cudaSuccess) {
      cudaGetLastError();  // out of memory is not sticky; clear it so later checks see success
      return nullptr;
    }
    return p;
  }
  // cudaFree waits for the device, so a block still read by queued kernels is safe to free.
  void free(void* p) override {
    DeviceGuard guard(device);
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
