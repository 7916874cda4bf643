// Helpers shared by the io tests: fixture paths (found from this file's location, so no build
// setting is needed), a scratch directory per test, and a deterministic byte mutator for the
// fuzz driver and the hostile-input tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "io/file.h"

namespace hmr::testing {

inline std::string io_fixture(const std::string& name) {
  // HMR_SOURCE_DIR is absolute (tests/CMakeLists.txt); __FILE__ is relative when the build
  // dir is inside the checkout.
  return std::string(HMR_SOURCE_DIR) + "/tests/fixtures/io/" + name;
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::string s = io::read_file(path);
  return std::vector<uint8_t>(s.begin(), s.end());
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  io::write_file_atomic(path, b.data(), b.size());
}

// A fresh directory under gtest's temp dir, removed with its files at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = ::testing::TempDir() + "hmr_io_XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) != nullptr) path_ = buf.data();
  }
  ~ScratchDir() {
    if (!path_.empty()) {
      std::string cmd = "rm -rf '" + path_ + "'";
      [[maybe_unused]] int rc = std::system(cmd.c_str());
    }
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// xorshift64*: deterministic, so a failing mutation reproduces from its index.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed ? seed : 1) {}
  uint64_t next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 2685821657736338717ULL;
  }
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }

 private:
  uint64_t s_;
};

// One to four random edits of the kinds that break parsers: bit flips, "interesting" byte and
// 32-bit values (0, 0xFF.., sizes near limits), truncation, insertion, deletion, chunk copies.
inline std::vector<uint8_t> mutate(const std::vector<uint8_t>& seed, Rng& rng) {
  static const uint32_t kInteresting[] = {0,          1,          0x7F,    0x80, 0xFF,    0xFFFF,
                                          0x7FFFFFFF, 0xFFFFFFFF, 0x10000, 64,   1u << 20};
  std::vector<uint8_t> b = seed;
  int edits = 1 + static_cast<int>(rng.below(4));
  for (int k = 0; k < edits; ++k) {
    size_t pos = rng.below(b.size() + 1);
    switch (rng.below(7)) {
      case 0:
        if (!b.empty()) b[rng.below(b.size())] ^= static_cast<uint8_t>(1u << rng.below(8));
        break;
      case 1:
        if (!b.empty()) b[rng.below(b.size())] = static_cast<uint8_t>(kInteresting[rng.below(5)]);
        break;
      case 2: {
        uint32_t v = kInteresting[rng.below(sizeof(kInteresting) / sizeof(kInteresting[0]))];
        for (size_t i = 0; i < 4 && pos + i < b.size(); ++i) b[pos + i] = static_cast<uint8_t>(v >> (8 * i));
        break;
      }
      case 3:
        b.resize(rng.below(b.size() + 1));
        break;
      case 4:
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(pos), static_cast<uint8_t>(rng.next()));
        break;
      case 5:
        if (pos < b.size()) b.erase(b.begin() + static_cast<std::ptrdiff_t>(pos));
        break;
      case 6:
        if (!b.empty()) {
          size_t from = rng.below(b.size()), len = 1 + rng.below(16);
          for (size_t i = 0; i < len && from + i < b.size() && pos + i < b.size(); ++i)
            b[pos + i] = b[from + i];
        }
        break;
    }
  }
  return b;
}

}  // namespace hmr::testing
