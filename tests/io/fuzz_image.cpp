// Fuzz entry for image decoding (stb PNG/JPEG/BMP behind decode_image). A 2^20-pixel cap keeps
// each input's allocation small; the cap itself is tested in test_image.cpp.
#include "io/image.h"
#include "tensor/error.h"
#include "tests/io/fuzz.h"

namespace hmr::fuzz {

int fuzz_image(const uint8_t* data, size_t size) {
  for (int channels : {0, 3}) {
    try {
      io::decode_image(data, size, "<fuzz>", channels, int64_t{1} << 20);
    } catch (const Error&) {
    }
  }
  return 0;
}

}  // namespace hmr::fuzz
