// Runs every io fuzz entry (tests/io/fuzz.h) on its seed files and on 2000 deterministic
// mutations of them, so each test run (and the sanitizer build) exercises the hostile-input
// paths without clang's libFuzzer. A failure names the parser and the mutation index; rerun
// with that index to reproduce.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/io/fuzz.h"
#include "tests/io/io_testing.h"

using hmr::testing::io_fixture;
using hmr::testing::read_bytes;

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
