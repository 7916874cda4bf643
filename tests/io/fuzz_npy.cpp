// Fuzz entries for the numpy formats: one .npy array, an .npz archive (zip + npy members), and
// the string-array reader that dataset annotation files go through.
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

// The annotation loader asks npy_is_string_array first and then reads the values, so the entry
// does the same; the values' UTF-8 is walked too, since the decoder builds it from raw code points.
int fuzz_npy_strings(const uint8_t* data, size_t size) {
  try {
    if (io::npy_is_string_array(data, size, "<fuzz>")) {
      const io::NpyStrings s = io::npy_strings_from_bytes(data, size, "<fuzz>");
      size_t total = 0;
      for (const std::string& v : s.values) total += v.size();
      (void)total;
    }
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace hmr::fuzz
