// Argument checks shared by hmr/geometry and hmr/metrics: each error names the function, the
// argument and the shape or dtype it found.
#pragma once

#include <string>
#include <vector>

#include "tensor/error.h"
#include "tensor/tensor.h"

namespace hmr::geometry {

// "(..., 3, 3)" for {3, 3}.
inline std::string trailing_shape_str(const Shape& trailing) {
  std::string s = "(...";
  for (int64_t d : trailing) s += ", " + std::to_string(d);
  return s + ")";
}

// t must be (..., trailing) with at least extra_dims leading dims.
inline void check_last_dims(const char* op, const Tensor& t, const Shape& trailing, const char* name,
                            int64_t extra_dims = 0) {
  const int64_t n = static_cast<int64_t>(trailing.size());
  bool ok = t.defined() && t.dim() >= n + extra_dims;
  for (int64_t i = 0; ok && i < n; ++i) ok = t.size(t.dim() - n + i) == trailing[i];
  HMR_CHECK(ok, ShapeError, op, ": expected ", name, " of shape ", trailing_shape_str(trailing),
            extra_dims ? " with leading dims" : "", " but found shape ", t.defined() ? t.sizes() : Shape{});
}

inline void check_float(const char* op, const Tensor& t) {
  HMR_CHECK(t.defined() && t.is_floating_point(), DTypeError, op,
            ": expected a floating-point tensor but found ", t.defined() ? str(t.dtype()) : "undefined");
}

// Two tensors that must have exactly the same shape (prediction vs. target).
inline void check_same_shape(const char* op, const Tensor& a, const Tensor& b, const char* a_name,
                             const char* b_name) {
  HMR_CHECK(a.sizes() == b.sizes(), ShapeError, op, ": expected ", a_name, " and ", b_name,
            " of one shape but found ", a.sizes(), " and ", b.sizes());
}

}  // namespace hmr::geometry
