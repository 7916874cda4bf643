// 16-bit floating-point storage types, usable on host and device. Arithmetic is done in
// float (see acc_t): these types only convert, exactly as IEEE binary16 and bfloat16 with
// round-to-nearest-even, so CPU and CUDA results agree bit for bit.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define HMR_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define HMR_HOST_DEVICE inline
#endif

namespace hmr {

namespace detail {
HMR_HOST_DEVICE uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
HMR_HOST_DEVICE float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}
}  // namespace detail

struct Half {
  uint16_t bits = 0;
  Half() = default;
  HMR_HOST_DEVICE Half(float f) : bits(from_float(f)) {}
  HMR_HOST_DEVICE operator float() const { return to_float(bits); }

  static HMR_HOST_DEVICE Half from_bits(uint16_t b) {
    Half h;
    h.bits = b;
    return h;
  }
  static HMR_HOST_DEVICE uint16_t from_float(float f) {
    uint32_t x = detail::float_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t abs = x & 0x7fffffffu;
    if (abs >= 0x47800000u) return uint16_t(sign | (abs > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (abs < 0x38800000u) {                                 // subnormal or zero
      // Add 0.5 (as a float with the exponent of the smallest normal) to let the FPU round.
      float r = detail::bits_float(abs) + 0.5f;
      return uint16_t(sign | (detail::float_bits(r) - 0x3f000000u));
    }
    uint32_t mant_odd = (abs >> 13) & 1u;
    abs += 0xc8000fffu + mant_odd;  // re-bias exponent (-112 << 23) and round to nearest even
    return uint16_t(sign | (abs >> 13));
  }
  static HMR_HOST_DEVICE float to_float(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) return detail::bits_float(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) {
      float m = float(mant) * 5.9604644775390625e-08f;  // 2^-24
      return sign ? -m : m;
    }
    return detail::bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
  }
};

struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  HMR_HOST_DEVICE BFloat16(float f) : bits(from_float(f)) {}
  HMR_HOST_DEVICE operator float() const { return detail::bits_float(uint32_t(bits) << 16); }

  static HMR_HOST_DEVICE BFloat16 from_bits(uint16_t b) {
    BFloat16 h;
    h.bits = b;
    return h;
  }
  static HMR_HOST_DEVICE uint16_t from_float(float f) {
    uint32_t x = detail::float_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);  // quiet NaN
    x += 0x7fffu + ((x >> 16) & 1u);  // round to nearest even
    return uint16_t(x >> 16);
  }
};

}  // namespace hmr
