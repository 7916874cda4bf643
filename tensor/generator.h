// Seeded random generators. A generator is (seed, offset): each random op reserves a block of
// Philox counters starting at offset and advances it, so a run is reproducible from its seed
// and a checkpoint can store (seed, offset) to resume the exact stream.
#pragma once

#include <cstdint>
#include <mutex>

namespace hmr {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x853c49e6748fea9bULL) : seed_(seed) {}
  void manual_seed(uint64_t seed);
  uint64_t seed() const;
  uint64_t offset() const;
  void set_state(uint64_t seed, uint64_t offset);
  // Reserves n counters and returns the first; thread-safe.
  uint64_t reserve(uint64_t n);

 private:
  mutable std::mutex mu_;
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The process-wide default generator (one of DESIGN.md's few globals), shared by all devices:
// the stream of numbers does not depend on where a tensor lives.
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace hmr
