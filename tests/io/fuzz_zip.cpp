// Fuzz entry for the zip reader: parse the directory, then read (inflate + CRC) every member.
#include <vector>

#include "io/zip.h"
#include "tensor/error.h"
#include "tests/io/fuzz.h"

namespace hmr::fuzz {

int fuzz_zip(const uint8_t* data, size_t size) {
  try {
    io::ZipReader zip = io::ZipReader::from_bytes(std::vector<uint8_t>(data, data + size), "<fuzz>");
    for (const io::ZipEntry& e : zip.entries()) {
      try {
        zip.read(e);
      } catch (const Error&) {
        // A bad member must not hide bugs in reading the others.
      }
    }
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace hmr::fuzz
