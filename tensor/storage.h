// A refcounted block of memory on one device. Views of a tensor share one Storage; the
// version counter lives here so that every view sees an in-place write (autograd uses it
// to refuse gradients computed from overwritten data).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "tensor/device.h"

namespace hmr {

// Frees what an Allocator handed out. Plain function pointer + context keeps Storage small.
using DeleterFn = void (*)(void* ptr, void* ctx);

class StorageImpl {
 public:
  StorageImpl(void* data, int64_t nbytes, Device device, DeleterFn deleter, void* ctx)
      : data_(data), nbytes_(nbytes), device_(device), deleter_(deleter), ctx_(ctx) {}
  ~StorageImpl() {
    if (deleter_ && data_) deleter_(data_, ctx_);
  }
  StorageImpl(const StorageImpl&) = delete;
  StorageImpl& operator=(const StorageImpl&) = delete;

  void* data() const { return data_; }
  int64_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  uint32_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_;
  int64_t nbytes_;
  Device device_;
  DeleterFn deleter_;
  void* ctx_;
  std::atomic<uint32_t> version_{0};
};

using Storage = std::shared_ptr<StorageImpl>;

// Allocates nbytes on device: 64-byte aligned host memory, or the caching CUDA allocator.
Storage allocate_storage(int64_t nbytes, Device device);

// Wraps memory the caller owns; deleter (may be null) runs when the last view is gone.
Storage wrap_storage(void* data, int64_t nbytes, Device device, DeleterFn deleter, void* ctx);

// Host memory held by storages from allocate_storage (requested bytes, not the alignment
// padding). A process-wide counter, updated on allocation and free, so tests can show that
// a training loop or a dropped graph gives its memory back. Wrapped memory is not counted.
struct HostMemoryStats {
  int64_t current_bytes = 0;
  int64_t peak_bytes = 0;
  int64_t current_storages = 0;
  int64_t cached_bytes = 0;  // freed blocks kept for reuse (not in current_bytes)
};
HostMemoryStats host_memory_stats();

// Freed host blocks of 128 KiB and more are cached for reuse (see storage.cpp for why);
// host_empty_cache() gives them back to the system. The limit (bytes; 0 disables caching)
// starts at HMR_HOST_CACHE_MB MiB, default 2048; setting it empties the cache.
void host_empty_cache();
void set_host_cache_limit(int64_t bytes);

}  // namespace hmr
