// Fuzz entries for safetensors files and for the JSON parser on its own.
#include <stdexcept>
#include <string_view>

#include "io/json.h"
#include "io/safetensors.h"
#include "tensor/error.h"
#include "tests/io/fuzz.h"

namespace hmr::fuzz {

int fuzz_safetensors(const uint8_t* data, size_t size) {
  try {
    io::safetensors_from_bytes(data, size, "<fuzz>");
  } catch (const Error&) {
  }
  return 0;
}

int fuzz_json(const uint8_t* data, size_t size) {
  try {
    io::Json v = io::parse_json(std::string_view(reinterpret_cast<const char*>(data), size), "<fuzz>");
    // Whatever parses must serialise and parse back to the same text.
    std::string text = io::to_json(v);
    if (io::to_json(io::parse_json(text, "<fuzz re-parse>")) != text)
      throw std::logic_error("json: write/parse round trip changed " + text);
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace hmr::fuzz
