// The caching CUDA allocator's pool logic, on the host: a fake RawMemory (malloc/free with
// counters and an optional byte budget) stands in for cudaMalloc, so these run without a GPU
// and in a build without CUDA.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "tensor/cuda_allocator.h"
#include "tensor/error.h"

using namespace hmr;
using hmr::cuda::CachingAllocator;

namespace {

constexpr int64_t KiB = 1024, MiB = 1024 * 1024;

struct FakeRawMemory : cuda::RawMemory {
  int64_t budget = -1;  // bytes that may be live at once; -1 = unlimited
  int64_t in_use = 0;
  int mallocs = 0, frees = 0, failures = 0;
  std::set<void*> live;

  void* malloc(int64_t nbytes) override {
    if (budget >= 0 && in_use + nbytes > budget) {
      ++failures;
      return nullptr;
    }
    void* p = std::malloc(static_cast<size_t>(nbytes));
    sizes[p] = nbytes;
    in_use += nbytes;
    live.insert(p);
    ++mallocs;
    return p;
  }
  void free(void* p) override {
    EXPECT_EQ(live.erase(p), 1u) << "freed a block twice or one it never handed out";
    in_use -= sizes[p];
    sizes.erase(p);
    std::free(p);
    ++frees;
  }
  std::map<void*, int64_t> sizes;
};

}  // namespace

TEST(CudaAllocator, RoundsSmallSizesTo512BytesAndLargeTo2MiB) {
  EXPECT_EQ(CachingAllocator::round_size(0), 512);
  EXPECT_EQ(CachingAllocator::round_size(1), 512);
  EXPECT_EQ(CachingAllocator::round_size(512), 512);
  EXPECT_EQ(CachingAllocator::round_size(513), 1024);
  EXPECT_EQ(CachingAllocator::round_size(MiB - 1), MiB);  // 2048 * 512
  EXPECT_EQ(CachingAllocator::round_size(MiB), 2 * MiB);
  EXPECT_EQ(CachingAllocator::round_size(2 * MiB + 1), 4 * MiB);
  EXPECT_EQ(CachingAllocator::round_size(10 * MiB), 10 * MiB);
}

TEST(CudaAllocator, FreedBlockIsReusedForTheSameSizeWithoutASecondMalloc) {
  FakeRawMemory raw;
  CachingAllocator alloc(0, &raw);
  void* first = nullptr;
  {
    Storage s = alloc.allocate(1000);
    first = s->data();
    EXPECT_EQ(s->nbytes(), 1000);  // the storage reports what was asked for, not the block
    EXPECT_TRUE(s->device().is_cuda());
  }
  Storage again = alloc.allocate(1000);
  EXPECT_EQ(again->data(), first);
  EXPECT_EQ(raw.mallocs, 1);
  // 900 rounds to the same 1024-byte block size, so it may take the block too.
  again.reset();
  Storage close = alloc.allocate(900);
  EXPECT_EQ(close->data(), first);
  EXPECT_EQ(raw.mallocs, 1);
}

TEST(CudaAllocator, LiveBlocksAreNeverHandedOutTwice) {
  FakeRawMemory raw;
  CachingAllocator alloc(0, &raw);
  Storage a = alloc.allocate(4096);
  Storage b = alloc.allocate(4096);
  EXPECT_NE(a->data(), b->data());
  EXPECT_EQ(raw.mallocs, 2);
}

TEST(CudaAllocator, BigCachedBlockIsNotHandedToATinyRequest) {
  FakeRawMemory raw;
  CachingAllocator alloc(0, &raw);
  // The smallest large block, freed at once so that it sits in the cache.
  void* big = alloc.allocate(2 * MiB)->data();
  Storage tiny = alloc.allocate(100);
  EXPECT_NE(tiny->data(), big);
  EXPECT_EQ(raw.mallocs, 2);
  // A request of nearly the same size does take it.
  Storage similar = alloc.allocate(2 * MiB - 4096);
  EXPECT_EQ(similar->data(), big);
  EXPECT_EQ(raw.mallocs, 2);
}

TEST(CudaAllocator, BestFitPicksTheSmallestCachedBlockThatIsLargeEnough) {
  FakeRawMemory raw;
  CachingAllocator alloc(0, &raw);
  void* p1024 = nullptr;
  void* p2048 = nullptr;
  {
    Storage a = alloc.allocate(2048), b = alloc.allocate(1024);
    p2048 = a->data();
    p1024 = b->data();
  }
  EXPECT_EQ(alloc.allocate(600)->data(), p1024);  // 1024 fits a 1024-byte request; 2048 wastes more
  EXPECT_EQ(alloc.allocate(1500)->data(), p2048);
  EXPECT_EQ(raw.mallocs, 2);
}

TEST(CudaAllocator, StatsCountBytesAllocsAndCacheHits) {
  FakeRawMemory raw;
  CachingAllocator alloc(0, &raw);
  {
    Storage a = alloc.allocate(1000);      // 1024-byte block
    Storage b = alloc.allocate(3 * MiB);   // 4 MiB block
    auto s = alloc.stats();
    EXPECT_EQ(s.allocated_bytes, 1024 + 4 * MiB);
    EXPECT_EQ(s.reserved_bytes, 1024 + 4 * MiB);
    EXPECT_EQ(s.peak_allocated_bytes, 1024 + 4 * MiB);
    EXPECT_EQ(s.num_device_allocs, 2);
    EXPECT_EQ(s.num_cache_hits, 0);
    EXPECT_EQ(s.num_allocs, 2);
  }
  auto s = alloc.stats();
  EXPECT_EQ(s.allocated_bytes, 0);
  EXPECT_EQ(s.reserved_bytes, 1024 + 4 * MiB);  // cached, not returned
  EXPECT_EQ(s.peak_allocated_bytes, 1024 + 4 * MiB);

  Storage c = alloc.allocate(1000);
  s = alloc.stats();
  EXPECT_EQ(s.allocated_bytes, 1024);
  EXPECT_EQ(s.num_cache_hits, 1);
  EXPECT_EQ(s.num_device_allocs, 2);
  EXPECT_EQ(s.num_allocs, 3);
  EXPECT_EQ(s.peak_allocated_bytes, 1024 + 4 * MiB);
}

TEST(CudaAllocator, SteadyStateLoopMakesNoNewRawMallocs) {
  FakeRawMemory raw;
  CachingAllocator alloc(0, &raw);
  auto step = [&] {
    Storage x = alloc.allocate(64 * KiB), y = alloc.allocate(3 * MiB), z = alloc.allocate(64 * KiB);
  };
  step();
  int after_warmup = raw.mallocs;
  for (int i = 0; i < 100; ++i) step();
  EXPECT_EQ(raw.mallocs, after_warmup);
  EXPECT_EQ(alloc.stats().num_cache_hits, 300);
}

TEST(CudaAllocator, OnRawMallocFailureEmptiesTheCacheAndRetries) {
  FakeRawMemory raw;
  raw.budget = 6 * MiB;
  CachingAllocator alloc(0, &raw);
  alloc.allocate(4 * MiB);  // freed at once: the cache holds 4 MiB of the 6 MiB budget
  EXPECT_EQ(raw.in_use, 4 * MiB);
  // 5 MiB rounds to a 6 MiB block: the cached 4 MiB cannot serve it and 4 + 6 exceeds the
  // budget, so the first raw malloc fails; freeing the cache makes the retry succeed.
  Storage big = alloc.allocate(5 * MiB);
  EXPECT_EQ(raw.failures, 1);
  EXPECT_EQ(raw.frees, 1);
  EXPECT_EQ(raw.mallocs, 2);
  auto s = alloc.stats();
  EXPECT_EQ(s.reserved_bytes, 6 * MiB);
  EXPECT_EQ(s.allocated_bytes, 6 * MiB);
}

TEST(CudaAllocator, OutOfMemoryAfterRetryThrowsCudaErrorNamingSizeAndDevice) {
  FakeRawMemory raw;
  raw.budget = 4 * MiB;
  CachingAllocator alloc(3, &raw);
  Storage held = alloc.allocate(2 * MiB);
  try {
    alloc.allocate(3 * MiB);
    FAIL() << "expected CudaError";
  } catch (const CudaError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("out of memory"), std::string::npos) << msg;
    EXPECT_NE(msg.find("device 3"), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::to_string(3 * MiB)), std::string::npos) << msg;
  }
  EXPECT_EQ(raw.failures, 2);  // the first try and the retry
  auto s = alloc.stats();
  EXPECT_EQ(s.allocated_bytes, 2 * MiB);  // a failed allocation leaves no trace
  EXPECT_EQ(s.reserved_bytes, 2 * MiB);
}

TEST(CudaAllocator, NegativeOrAbsurdSizesThrowValueError) {
  FakeRawMemory raw;
  CachingAllocator alloc(0, &raw);
  EXPECT_THROW(alloc.allocate(-1), ValueError);
  EXPECT_THROW(alloc.allocate(INT64_MAX), ValueError);
  EXPECT_EQ(raw.mallocs, 0);
}

TEST(CudaAllocator, EmptyCacheFreesCachedBlocksButNotLiveOnes) {
  FakeRawMemory raw;
  CachingAllocator alloc(0, &raw);
  Storage live = alloc.allocate(1000);
  alloc.allocate(2000);
  alloc.allocate(5 * MiB);
  EXPECT_EQ(raw.frees, 0);
  alloc.empty_cache();
  EXPECT_EQ(raw.frees, 2);
  EXPECT_EQ(raw.live.count(live->data()), 1u);
  auto s = alloc.stats();
  EXPECT_EQ(s.reserved_bytes, 1024);
  EXPECT_EQ(s.allocated_bytes, 1024);
  // The live block returns to the (now empty) pool when its storage goes.
  live.reset();
  alloc.empty_cache();
  EXPECT_EQ(raw.frees, 3);
  EXPECT_EQ(alloc.stats().reserved_bytes, 0);
}

TEST(CudaAllocator, DestructorReturnsCachedBlocks) {
  FakeRawMemory raw;
  {
    CachingAllocator alloc(0, &raw);
    alloc.allocate(1000);
    alloc.allocate(3 * MiB);
  }
  EXPECT_EQ(raw.mallocs, 2);
  EXPECT_EQ(raw.frees, 2);
  EXPECT_TRUE(raw.live.empty());
}
