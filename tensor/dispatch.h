// Dtype dispatch: turns a runtime DType into a compile-time type, once, for every backend.
//   HMR_DISPATCH_ALL(dtype, "op", [&](auto tag) { using T = typename decltype(tag)::type; ... });
#pragma once

#include "tensor/dtype.h"
#include "tensor/error.h"

namespace hmr {

template <class T> struct type_tag { using type = T; };

template <class F>
decltype(auto) dispatch_all(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Bool: return f(type_tag<bool>{});
    case DType::U8: return f(type_tag<uint8_t>{});
    case DType::I32: return f(type_tag<int32_t>{});
    case DType::I64: return f(type_tag<int64_t>{});
    case DType::F16: return f(type_tag<Half>{});
    case DType::BF16: return f(type_tag<BFloat16>{});
    case DType::F32: return f(type_tag<float>{});
    case DType::F64: return f(type_tag<double>{});
  }
  throw DTypeError(str(op, ": unsupported dtype ", t));
}

// Numeric types only (no bool): arithmetic ops.
template <class F>
decltype(auto) dispatch_numeric(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::U8: return f(type_tag<uint8_t>{});
    case DType::I32: return f(type_tag<int32_t>{});
    case DType::I64: return f(type_tag<int64_t>{});
    case DType::F16: return f(type_tag<Half>{});
    case DType::BF16: return f(type_tag<BFloat16>{});
    case DType::F32: return f(type_tag<float>{});
    case DType::F64: return f(type_tag<double>{});
    default: break;
  }
  throw DTypeError(str(op, ": expected a numeric dtype but found ", t));
}

// Floating types only: transcendental ops.
template <class F>
decltype(auto) dispatch_floating(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::F16: return f(type_tag<Half>{});
    case DType::BF16: return f(type_tag<BFloat16>{});
    case DType::F32: return f(type_tag<float>{});
    case DType::F64: return f(type_tag<double>{});
    default: break;
  }
  throw DTypeError(str(op, ": expected a floating dtype but found ", t));
}

}  // namespace hmr
