// Fuzz entry points for the io parsers, one per parser: fuzz_<parser>(data, size) feeds the
// bytes to the parser, returns 0, and lets only non-hmr exceptions (bugs) escape. They are
// driven two ways: tests/io/test_fuzz.cpp runs a fixed number of deterministic mutations of a
// seed corpus in every test run, and tests/io/libfuzzer/<parser>.cpp wraps each one for
// clang's libFuzzer (-DHMR_FUZZ=ON). To add a parser: define fuzz_<parser> in
// tests/io/fuzz_<parser>.cpp, declare it here, add a libfuzzer/<parser>.cpp wrapper and seeds.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hmr::fuzz {

int fuzz_zip(const uint8_t* data, size_t size);
int fuzz_npy(const uint8_t* data, size_t size);
int fuzz_npz(const uint8_t* data, size_t size);
int fuzz_safetensors(const uint8_t* data, size_t size);
int fuzz_json(const uint8_t* data, size_t size);
int fuzz_image(const uint8_t* data, size_t size);

}  // namespace hmr::fuzz
