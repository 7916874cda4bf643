// The caching CUDA allocator (PyTorch's idea, smaller): sizes are rounded up (512 B below
// 1 MiB, 2 MiB above), freed blocks go to a per-device pool keyed by size and are handed out
// again in stream order (one stream per device), so the steady state makes no cudaMalloc.
// When cudaMalloc fails the pool is emptied and the call retried once.
//
// The class itself is plain C++ over a RawMemory interface, so it builds and is tested
// without CUDA; only CachingAllocator::get (the per-device instances over cudaMalloc) needs it.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>

#include "tensor/cuda_context.h"

namespace hmr::cuda {

// How the allocator gets raw device memory; swapped for a fake in the host-only tests.
struct RawMemory {
  virtual ~RawMemory() = default;
  virtual void* malloc(int64_t nbytes) = 0;  // nullptr when out of memory
  virtual void free(void* p) = 0;
};

class CachingAllocator {
 public:
  // raw must outlive the allocator, and the allocator every Storage it hands out.
  CachingAllocator(int device, RawMemory* raw) : device_(device), raw_(raw) {}
  ~CachingAllocator();  // returns cached blocks to raw
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // The process-wide allocator of a CUDA device (never destroyed). Needs HMR_WITH_CUDA.
  static CachingAllocator& get(int device);

  Storage allocate(int64_t nbytes);
  AllocatorStats stats() const;
  void empty_cache();

  static int64_t round_size(int64_t nbytes);
  // Whether a cached block of block_size bytes may serve a request rounded to size bytes.
  static bool fits(int64_t block_size, int64_t size);

 private:
  static void release(void* ptr, void* ctx);
  void give_back(void* ptr);
  void* take_cached(int64_t& size);  // caller holds mu_
  void free_cached();                // caller holds mu_

  int device_;
  RawMemory* raw_;
  mutable std::mutex mu_;
  std::multimap<int64_t, void*> free_blocks_;  // size -> block
  std::map<void*, int64_t> live_blocks_;       // block -> size
  AllocatorStats stats_;
};

}  // namespace hmr::cuda
