// Element types of a Tensor and PyTorch's type-promotion rules between them.
#pragma once

#include <cstdint>
#include <ostream>

#include "tensor/half.h"

namespace hmr {

// Ordered by promotion category as PyTorch orders them (bool < integers < floating).
enum class DType : uint8_t { Bool, U8, I32, I64, F16, BF16, F32, F64 };
constexpr int kNumDTypes = 8;

constexpr int64_t itemsize(DType t) {
  switch (t) {
    case DType::Bool:
    case DType::U8: return 1;
    case DType::F16:
    case DType::BF16: return 2;
    case DType::I32:
    case DType::F32: return 4;
    case DType::I64:
    case DType::F64: return 8;
  }
  return 0;
}

constexpr bool is_floating(DType t) {
  return t == DType::F16 || t == DType::BF16 || t == DType::F32 || t == DType::F64;
}
constexpr bool is_integral(DType t, bool include_bool = false) {
  return t == DType::U8 || t == DType::I32 || t == DType::I64 || (include_bool && t == DType::Bool);
}

const char* dtype_name(DType t);  // "float32", "int64", ... as PyTorch prints them
std::ostream& operator<<(std::ostream& os, DType t);

// torch.promote_types: the smallest type that holds both.
DType promote_types(DType a, DType b);

// The default floating type of factories and of integer -> float promotion.
constexpr DType kDefaultFloat = DType::F32;

// Maps a C++ scalar type to its DType, and back.
template <class T> struct dtype_of;
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::U8; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::I32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::I64; };
template <> struct dtype_of<Half> { static constexpr DType value = DType::F16; };
template <> struct dtype_of<BFloat16> { static constexpr DType value = DType::BF16; };
template <> struct dtype_of<float> { static constexpr DType value = DType::F32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::F64; };
template <class T> constexpr DType dtype_of_v = dtype_of<T>::value;

// The type arithmetic is done in: float for the 16-bit floats, the type itself otherwise.
template <class T> struct acc_type { using type = T; };
template <> struct acc_type<Half> { using type = float; };
template <> struct acc_type<BFloat16> { using type = float; };
template <class T> using acc_t = typename acc_type<T>::type;

}  // namespace hmr
