// safetensors files (Hugging Face's format for weights): an 8-byte little-endian header length,
// a JSON header mapping each name to {"dtype", "shape", "data_offsets"} (plus an optional
// "__metadata__" string map), then the raw little-endian data. Dtypes: F64 F32 F16 BF16 I64 I32
// U8 BOOL. Loading checks the header against the file: sizes, offsets, overlaps, duplicates.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tensor/tensor_dict.h"

namespace hmr::io {

struct SafetensorsFile {
  TensorDict tensors;  // in header order
  std::map<std::string, std::string> metadata;
};

SafetensorsFile load_safetensors(const std::string& path);
// label names the source in errors.
SafetensorsFile safetensors_from_bytes(const uint8_t* data, size_t size, const std::string& label);

// Writes atomically. The header lists tensors in dict order; the data section orders them by
// decreasing item size (as the Python package does) so each one is aligned to its element
// size without gaps, which strict readers reject.
void save_safetensors(const std::string& path, const TensorDict& tensors,
                      const std::map<std::string, std::string>& metadata = {});
std::vector<uint8_t> safetensors_to_bytes(const TensorDict& tensors,
                                          const std::map<std::string, std::string>& metadata = {});

}  // namespace hmr::io
