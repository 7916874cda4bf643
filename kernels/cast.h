// Value conversion between element types, on host and device. 16-bit floats go through float;
// conversion to bool is "!= 0" as in PyTorch.
#pragma once

#include <type_traits>

#include "tensor/dtype.h"

namespace hmr {

template <class To, class From>
HMR_HOST_DEVICE To cast(From v) {
  constexpr bool from16 = std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>;
  constexpr bool to16 = std::is_same_v<To, Half> || std::is_same_v<To, BFloat16>;
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    if constexpr (from16) return static_cast<float>(v) != 0.0f;
    else return v != From(0);
  } else if constexpr (from16 && to16) {
    return To(static_cast<float>(v));
  } else if constexpr (from16) {
    return static_cast<To>(static_cast<float>(v));
  } else if constexpr (to16) {
    return To(static_cast<float>(v));
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace hmr
