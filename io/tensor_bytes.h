// Raw element bytes in and out of tensors for the file formats (npy, safetensors): io/ may not
// call autograd ops, so the row-major gather of a strided or device tensor is done here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hmr::io {

// The elements of t in row-major order, as little-endian host bytes (numel * itemsize).
std::vector<uint8_t> contiguous_bytes(const Tensor& t);

// A new CPU tensor of shape sizes whose row-major elements are the n bytes at data; n must be
// numel * itemsize (IOError naming what otherwise). Bool bytes other than 0 become 1 so no
// invalid bool value ever reaches the tensor.
Tensor tensor_from_bytes(const uint8_t* data, size_t n, const Shape& sizes, DType dtype,
                         const std::string& what);

// The number of elements of a shape read from a file, or IOError when a dimension is negative
// or the product (times itemsize) overflows 63 bits.
uint64_t checked_numel(const Shape& sizes, int64_t itemsize, const std::string& what);

}  // namespace hmr::io
