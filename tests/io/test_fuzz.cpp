// Runs every io fuzz entry (tests/io/fuzz.h) on its seed files and on 2000 deterministic
// mutations of them, so each test run (and the sanitizer build) exercises the hostile-input
// paths without clang's libFuzzer. A failure names the parser and the mutation index; rerun
// with that index to reproduce.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "io/npy.h"
#include "tests/io/fuzz.h"
#include "tests/io/io_testing.h"

using hmr::testing::io_fixture;
using hmr::testing::read_bytes;

namespace hmr::fuzz {
// tests/io/fuzz_npy.cpp; declared here rather than in fuzz.h, which has no libFuzzer wrapper for it.
int fuzz_npy_strings(const uint8_t* data, size_t size);
}  // namespace hmr::fuzz

namespace {

using FuzzFn = int (*)(const uint8_t*, size_t);

// 2000 per parser by default; HMR_FUZZ_MUTATIONS=n runs a longer campaign locally.
int mutation_count() {
  const char* env = std::getenv("HMR_FUZZ_MUTATIONS");
  return env ? std::atoi(env) : 2000;
}

void run_corpus(FuzzFn fn, const std::vector<std::vector<uint8_t>>& seeds, uint64_t rng_seed) {
  hmr::testing::Rng rng(rng_seed);
  for (const auto& s : seeds) EXPECT_EQ(fn(s.data(), s.size()), 0);
  const int n = mutation_count();
  for (int i = 0; i < n; ++i) {
    std::vector<uint8_t> input = hmr::testing::mutate(seeds[rng.below(seeds.size())], rng);
    try {
      fn(input.data(), input.size());
    } catch (const std::exception& e) {
      ADD_FAILURE() << "mutation " << i << ": " << e.what();
    }
  }
}

std::vector<std::vector<uint8_t>> fixtures(std::initializer_list<const char*> names) {
  std::vector<std::vector<uint8_t>> out;
  for (const char* n : names) out.push_back(read_bytes(io_fixture(n)));
  return out;
}

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

}  // namespace

TEST(IoFuzz, Zip) {
  run_corpus(hmr::fuzz::fuzz_zip,
             fixtures({"python_stored_deflated.zip", "python_zip64.zip", "np_savez_compressed.npz"}), 1);
}

TEST(IoFuzz, Npy) {
  run_corpus(
      hmr::fuzz::fuzz_npy,
      fixtures({"np_le_f4.npy", "np_be_i2.npy", "np_fortran_f4.npy", "np_v3_f4.npy", "np_scalar_f8.npy"}), 2);
}

TEST(IoFuzz, Npz) {
  run_corpus(hmr::fuzz::fuzz_npz, fixtures({"np_savez.npz", "np_savez_compressed.npz"}), 3);
}

TEST(IoFuzz, Safetensors) { run_corpus(hmr::fuzz::fuzz_safetensors, fixtures({"handmade.safetensors"}), 4); }

TEST(IoFuzz, Json) {
  run_corpus(hmr::fuzz::fuzz_json,
             {bytes_of(R"({"a": [1, -2.5e-3, true, null, "x\u00e9\ud83d\ude00\n"], "b": {"c": -0}})"),
              bytes_of(R"([[[[{"k": 12345678901234567890}]]]])")},
             5);
}

TEST(IoFuzz, Image) {
  run_corpus(hmr::fuzz::fuzz_image, fixtures({"pil_rgb.png", "pil_smooth.jpg", "pil_rgb.bmp"}), 6);
}

TEST(IoFuzz, NpyStrings) {
  // Seeds as numpy writes them ('<U n', a 2-D array with a non-ASCII value) plus a '|S n' and a
  // fortran-order header, hand-built, so both decoders and the reorder are mutated.
  std::vector<std::vector<uint8_t>> seeds;
  seeds.push_back(hmr::io::npy_strings_to_bytes({{3}, {"images/a.jpg", "", "b\xc3\xa9\xf0\x9f\x98\x80"}}));
  seeds.push_back(hmr::io::npy_strings_to_bytes({{2, 2}, {"ab", "c", "def", "g"}}));
  auto handmade = [](const std::string& header, const std::string& payload) {
    std::string h = header;
    while ((10 + h.size() + 1) % 64 != 0) h += ' ';
    h += '\n';
    std::string b = std::string("\x93NUMPY\x01\x00", 8);
    b += static_cast<char>(h.size() & 0xff);
    b += static_cast<char>(h.size() >> 8);
    return bytes_of(b + h + payload);
  };
  seeds.push_back(handmade("{'descr': '|S3', 'fortran_order': False, 'shape': (2,), }", std::string("ab\0xyz", 6)));
  seeds.push_back(handmade("{'descr': '|S1', 'fortran_order': True, 'shape': (2, 3), }", "abcdef"));
  for (const auto& s : seeds) ASSERT_TRUE(hmr::io::npy_is_string_array(s.data(), s.size(), "seed"));
  EXPECT_EQ(hmr::io::npy_strings_from_bytes(seeds[3].data(), seeds[3].size(), "seed").values,
            (std::vector<std::string>{"a", "c", "e", "b", "d", "f"}));
  run_corpus(hmr::fuzz::fuzz_npy_strings, seeds, 7);
}
