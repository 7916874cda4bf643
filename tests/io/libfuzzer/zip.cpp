// libFuzzer wrapper for hmr::fuzz::fuzz_zip (built only with -DHMR_FUZZ=ON and clang; see
// tests/CMakeLists.txt). Seeds: tests/fixtures/io/.
#include "tests/io/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return hmr::fuzz::fuzz_zip(data, size);
}
