// Fuzz entries for the numpy formats: one .npy array, and an .npz archive (zip + npy members).
#include <vector>

#include "io/npy.h"
#include "tensor/error.h"
#include "tests/io/fuzz.h"

namespace hmr::fuzz {

int fuzz_npy(const uint8_t* data, size_t size) {
  try {
    io::npy_from_bytes(data, size, "<fuzz>");
  } catch (const Error&) {
  }
  return 0;
}

int fuzz_npz(const uint8_t* data, size_t size) {
  try {
    io::npz_from_bytes(std::vector<uint8_t>(data, data + size), "<fuzz>");
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace hmr::fuzz
