// Single-precision exp, log and tanh for the host, written so that the CPU elementwise loops
// vectorise them: no branches, no errno, no libm calls — only arithmetic, selects and bit
// casts, which GCC turns into AVX2/FMA code 8 floats at a time. glibc's scalar expf stalls the
// loop one element at a time (4x slower than PyTorch's SLEEF-backed exp in bench/).
//
// Accuracy (tests/kernels/test_host_math.cpp, against double-precision libm over the full
// range): exp and log within 2 ulp, tanh within 3 ulp; the special values (±inf, NaN, 0,
// subnormal inputs and results, overflow) are exact. The polynomials are the classic minimax
// fits for these reduced ranges (as in Cephes and in every SIMD math library).
#pragma once

#include <cstdint>
#include <cstring>

namespace hmr::kernels::host_math {

inline float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline uint32_t float_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
// 2^k for integer k in [-126, 127], built from the exponent field.
inline float pow2i(int32_t k) { return bits_to_float(static_cast<uint32_t>(k + 127) << 23); }

// e^x = 2^n e^r with n = round(x / ln 2), |r| <= ln(2)/2; r by Cody–Waite (ln 2 in two parts,
// the high part exact in few bits so n * hi is exact). 2^n is applied as two factors so results
// down into the subnormal range and up to overflow come out right without branches.
inline float exp(float x) {
  const float xc = x < -104.0f ? -104.0f : (x > 89.0f ? 89.0f : x);
  const float n = __builtin_floorf(xc * 1.44269504088896341f + 0.5f);
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  const int32_t ni = static_cast<int32_t>(n);  // in [-150, 129]
  const int32_t n1 = ni >> 1;
  const float y = er * pow2i(n1) * pow2i(ni - n1);
  return x != x ? x : y;
}

// log x = k ln 2 + log m with m in [sqrt(1/2), sqrt(2)); log m = f - f^2/2 + f^3 P(f), f = m - 1.
// Subnormal x are scaled by 2^23 first; x < 0 gives NaN, 0 gives -inf, inf gives inf.
inline float log(float x) {
  const bool sub = x < 1.17549435e-38f;  // includes 0 and negatives, fixed up below
  const float xs = sub ? x * 8388608.0f : x;
  const uint32_t u = float_to_bits(xs);
  int32_t k = static_cast<int32_t>((u >> 23) & 0xff) - 126;  // xs = m' 2^k, m' in [0.5, 1)
  float m = bits_to_float((u & 0x007fffffu) | 0x3f000000u);
  const bool small_m = m < 0.70710678118654752f;
  k = small_m ? k - 1 : k;
  m = small_m ? m + m : m;  // now m in [sqrt(1/2), sqrt(2))
  const float f = m - 1.0f;
  const float z = f * f;
  float p = 7.0376836292e-2f;
  p = p * f - 1.1514610310e-1f;
  p = p * f + 1.1676998740e-1f;
  p = p * f - 1.2420140846e-1f;
  p = p * f + 1.4249322787e-1f;
  p = p * f - 1.6668057665e-1f;
  p = p * f + 2.0000714765e-1f;
  p = p * f - 2.4999993993e-1f;
  p = p * f + 3.3333331174e-1f;
  const float kf = static_cast<float>(sub ? k - 23 : k);
  float y = f * z * p;
  y = y + kf * -2.12194440e-4f;
  y = y - 0.5f * z;
  y = f + y;
  y = y + kf * 0.693359375f;
  y = x == 0.0f ? -__builtin_inff() : y;
  y = x < 0.0f ? __builtin_nanf("") : y;
  y = x == __builtin_inff() ? x : y;
  return x != x ? x : y;
}

// tanh: an odd polynomial near 0 (where 1 - 2/(e^2x + 1) would cancel), the exp form beyond,
// saturating to ±1 for large |x| (beyond 9.1 tanh rounds to 1 in float).
inline float tanh(float x) {
  const float ax = x < 0.0f ? -x : x;
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float near = x + x * z * p;
  const float e = exp(2.0f * (ax > 10.0f ? 10.0f : ax));
  float far = 1.0f - 2.0f / (e + 1.0f);
  far = x < 0.0f ? -far : far;
  float y = ax < 0.625f ? near : far;
  y = x == 0.0f ? x : y;  // keeps the sign of -0
  return x != x ? x : y;
}

}  // namespace hmr::kernels::host_math
