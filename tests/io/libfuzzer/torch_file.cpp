// libFuzzer wrapper for hmr::fuzz::fuzz_torch_file (built only with -DHMR_FUZZ=ON and clang; see
// tests/CMakeLists.txt). Seeds: tests/fixtures/pickle/.
#include "tests/io/fuzz_pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return hmr::fuzz::fuzz_torch_file(data, size);
}
