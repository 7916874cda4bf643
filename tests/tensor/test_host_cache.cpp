// The host block cache behind allocate_storage: large freed blocks are reused (same address),
// size classes waste at most a quarter, small blocks bypass it, the limit bounds it, and
// host_empty_cache() releases it; live-byte accounting is unaffected.
#include <gtest/gtest.h>

#include "tensor/storage.h"

namespace hmr {
namespace {

struct CacheReset {
  CacheReset() { set_host_cache_limit(int64_t{256} << 20); }
  ~CacheReset() { set_host_cache_limit(int64_t{2048} << 20); }
};

TEST(HostCache, ReusesAFreedLargeBlock) {
  CacheReset reset;
  const int64_t live0 = host_memory_stats().current_bytes;
  void* first = nullptr;
  {
    Storage s = allocate_storage(1 << 20, Device::cpu());
    first = s->data();
    EXPECT_EQ(host_memory_stats().current_bytes, live0 + (1 << 20));
  }
  EXPECT_EQ(host_memory_stats().current_bytes, live0);
  EXPECT_GE(host_memory_stats().cached_bytes, 1 << 20);
  // A slightly smaller request of the same size class gets the same block back.
  Storage again = allocate_storage((1 << 20) - 1000, Device::cpu());
  EXPECT_EQ(again->data(), first);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(again->data()) % 64, 0u);
}

TEST(HostCache, SizeClassesWasteAtMostAQuarter) {
  CacheReset reset;
  // Blocks of 5 MiB + 1 and 6 MiB share the class 6 MiB (steps of 1 MiB between 4 and 8 MiB):
  // the second request reuses the first block.
  void* p = nullptr;
  {
    Storage s = allocate_storage((int64_t{5} << 20) + 1, Device::cpu());
    p = s->data();
  }
  const int64_t cached = host_memory_stats().cached_bytes;
  EXPECT_GE(cached, int64_t{6} << 20);
  Storage t = allocate_storage(int64_t{6} << 20, Device::cpu());
  EXPECT_EQ(t->data(), p);
  EXPECT_EQ(host_memory_stats().cached_bytes, cached - (int64_t{6} << 20));
  // A 6 MiB + 1 request is in the next class (7 MiB): not served from a 6 MiB block.
  Storage u = allocate_storage((int64_t{6} << 20) + 1, Device::cpu());
  EXPECT_NE(u->data(), t->data());
}

TEST(HostCache, SmallBlocksBypassAndEmptyCacheReleases) {
  CacheReset reset;
  { Storage s = allocate_storage(1024, Device::cpu()); }
  EXPECT_EQ(host_memory_stats().cached_bytes, 0);
  { Storage s = allocate_storage(int64_t{2} << 20, Device::cpu()); }
  EXPECT_GT(host_memory_stats().cached_bytes, 0);
  host_empty_cache();
  EXPECT_EQ(host_memory_stats().cached_bytes, 0);
}

TEST(HostCache, LimitBoundsTheCache) {
  CacheReset reset;
  set_host_cache_limit(int64_t{3} << 20);
  {
    Storage a = allocate_storage(int64_t{2} << 20, Device::cpu());
    Storage b = allocate_storage(int64_t{2} << 20, Device::cpu());
  }
  EXPECT_EQ(host_memory_stats().cached_bytes, int64_t{2} << 20);  // the second did not fit
  set_host_cache_limit(0);
  { Storage c = allocate_storage(int64_t{2} << 20, Device::cpu()); }
  EXPECT_EQ(host_memory_stats().cached_bytes, 0);
}

}  // namespace
}  // namespace hmr
