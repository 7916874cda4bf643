// Row-major byte gathers for the io formats. Contiguous CPU tensors are one memcpy; anything
// else goes through Tensor::to_vector, which already walks strides and copies from devices.
#include "io/tensor_bytes.h"

#include <cstring>
#include <limits>
#include <type_traits>

#include "tensor/dispatch.h"

namespace hmr::io {

std::vector<uint8_t> contiguous_bytes(const Tensor& t) {
  size_t n = static_cast<size_t>(t.numel() * t.itemsize());
  std::vector<uint8_t> out(n);
  if (n == 0) return out;
  if (!t.is_cuda() && t.is_contiguous()) {
    std::memcpy(out.data(), t.raw_data(), n);
    return out;
  }
  dispatch_all(t.dtype(), "contiguous_bytes", [&](auto tag) {
    // std::vector<bool> is bit-packed, so bools are gathered as bytes (0/1).
    using T = std::conditional_t<std::is_same_v<typename decltype(tag)::type, bool>, uint8_t,
                                 typename decltype(tag)::type>;
    std::vector<T> v = t.to_vector<T>();
    std::memcpy(out.data(), v.data(), n);
  });
  return out;
}

uint64_t checked_numel(const Shape& sizes, int64_t itemsize, const std::string& what) {
  constexpr uint64_t kLimit = uint64_t{1} << 62;
  uint64_t numel = 1;
  for (int64_t s : sizes) {
    HMR_CHECK(s >= 0, IOError, what, ": negative dimension in shape ", sizes);
    HMR_CHECK(s == 0 || numel <= kLimit / static_cast<uint64_t>(s), IOError, what, ": shape ", sizes,
              " is too large");
    numel *= static_cast<uint64_t>(s);
  }
  HMR_CHECK(numel <= kLimit / static_cast<uint64_t>(itemsize), IOError, what, ": shape ", sizes,
            " is too large");
  return numel;
}

Tensor tensor_from_bytes(const uint8_t* data, size_t n, const Shape& sizes, DType dtype,
                         const std::string& what) {
  uint64_t expected = checked_numel(sizes, itemsize(dtype), what) * static_cast<uint64_t>(itemsize(dtype));
  HMR_CHECK(expected == n, IOError, what, ": shape ", sizes, " of ", dtype, " needs ", expected,
            " bytes but ", n, " are present");
  Tensor t = Tensor::empty(sizes, dtype);
  if (n == 0) return t;
  if (dtype == DType::Bool) {
    auto* dst = static_cast<uint8_t*>(t.raw_data());
    for (size_t i = 0; i < n; ++i) dst[i] = data[i] != 0;
  } else {
    std::memcpy(t.raw_data(), data, n);
  }
  return t;
}

}  // namespace hmr::io
