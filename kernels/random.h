// The per-element random draws behind rand/randn/randint/bernoulli, shared by both backends.
#pragma once

#include <cstdint>

#include "tensor/philox.h"

namespace hmr::kernels {

struct RandomWords {
  uint32_t w0, w1;
};

HMR_HOST_DEVICE RandomWords random_words(uint64_t seed, uint64_t offset, int64_t i) {
  Philox4x32 r = philox4x32(seed, offset + static_cast<uint64_t>(i) / 2);
  int k = static_cast<int>(i % 2) * 2;
  return {r.v[k], r.v[k + 1]};
}

// Uniform in [0, 1): 24 bits for float-sized results, 53 bits for double.
template <class T>
HMR_HOST_DEVICE T random_unit(RandomWords w) {
  if constexpr (sizeof(T) == 8) return static_cast<T>(philox_uniform_double(w.w0, w.w1));
  else return static_cast<T>(philox_uniform(w.w0));
}

// Standard normal by Box–Muller from the element's two words.
template <class T>
HMR_HOST_DEVICE T random_normal(RandomWords w) {
  if constexpr (sizeof(T) == 8) {
    double u1 = 1.0 - (w.w0 + 0.5) * (1.0 / 4294967296.0);  // in (0, 1)
    double u2 = w.w1 * (1.0 / 4294967296.0);
    return ::sqrt(-2.0 * ::log(u1)) * ::cos(6.283185307179586 * u2);
  } else {
    float u1 = 1.0f - philox_uniform(w.w0) - 0x1p-25f;  // in (0, 1)
    float u2 = philox_uniform(w.w1);
    return ::sqrtf(-2.0f * ::logf(u1)) * ::cosf(6.2831853071795865f * u2);
  }
}

HMR_HOST_DEVICE int64_t random_int(RandomWords w, int64_t low, int64_t high) {
  uint64_t bits = (static_cast<uint64_t>(w.w0) << 32) | w.w1;
  return low + static_cast<int64_t>(bits % static_cast<uint64_t>(high - low));
}

}  // namespace hmr::kernels
