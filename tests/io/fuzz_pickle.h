// Fuzz entry points for the pickle VM and the PyTorch checkpoint loader, in the shape of
// tests/io/fuzz.h: feed the bytes, walk what comes out, return 0; only non-hmr exceptions
// (bugs) escape. Driven by the deterministic-mutation test in tests/io/test_pickle.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hmr::fuzz {

int fuzz_pickle(const uint8_t* data, size_t size);
int fuzz_torch_file(const uint8_t* data, size_t size);

}  // namespace hmr::fuzz
