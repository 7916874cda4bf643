#include "tensor/storage.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "tensor/cuda_context.h"
#include "tensor/error.h"

namespace hmr {

namespace {
constexpr size_t kHostAlignment = 64;

std::atomic<int64_t> host_bytes{0};
std::atomic<int64_t> host_peak_bytes{0};
std::atomic<int64_t> host_storages{0};

void count_host_alloc(int64_t nbytes) {
  int64_t now = host_bytes.fetch_add(nbytes, std::memory_order_relaxed) + nbytes;
  int64_t peak = host_peak_bytes.load(std::memory_order_relaxed);
  while (now > peak && !host_peak_bytes.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
  host_storages.fetch_add(1, std::memory_order_relaxed);
}

// ctx carries the requested size, so the free side can un-count it without a lookup.
void free_host(void* p, void* ctx) {
  std::free(p);
  host_bytes.fetch_sub(static_cast<int64_t>(reinterpret_cast<uintptr_t>(ctx)), std::memory_order_relaxed);
  host_storages.fetch_sub(1, std::memory_order_relaxed);
}
}  // namespace

Storage allocate_storage(int64_t nbytes, Device device) {
  HMR_CHECK(nbytes >= 0, ValueError, "allocate: expected a non-negative size but found ", nbytes);
  if (device.is_cuda()) return cuda::allocate(nbytes, device.index);
  size_t rounded = (static_cast<size_t>(nbytes) + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
  void* p = rounded ? std::aligned_alloc(kHostAlignment, rounded) : nullptr;
  if (rounded && !p)
    throw Error(str("allocate: out of host memory allocating ", nbytes, " bytes"));
  if (p) count_host_alloc(nbytes);
  void* size_ctx = reinterpret_cast<void*>(static_cast<uintptr_t>(nbytes));
  return std::make_shared<StorageImpl>(p, nbytes, device, &free_host, size_ctx);
}

Storage wrap_storage(void* data, int64_t nbytes, Device device, DeleterFn deleter, void* ctx) {
  return std::make_shared<StorageImpl>(data, nbytes, device, deleter, ctx);
}

HostMemoryStats host_memory_stats() {
  HostMemoryStats s;
  s.current_bytes = host_bytes.load(std::memory_order_relaxed);
  s.peak_bytes = host_peak_bytes.load(std::memory_order_relaxed);
  s.current_storages = host_storages.load(std::memory_order_relaxed);
  return s;
}

}  // namespace hmr
