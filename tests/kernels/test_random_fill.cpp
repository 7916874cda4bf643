// The CPU random fills against a scalar reimplementation from the Philox words (element i uses
// words 2 (i % 2), 2 (i % 2) + 1 of block offset + i / 2): uniform, randint and bernoulli must be
// bit-identical to it, and normal within a stated bound of a double-precision Box–Muller.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "autograd/ops.h"
#include "kernels/elementwise.h"
#include "tensor/philox.h"

using namespace hmr;

namespace {

struct Words {
  uint32_t w0, w1;
};

Words words_of(uint64_t seed, uint64_t offset, int64_t i) {
  Philox4x32 r = philox4x32(seed, offset + static_cast<uint64_t>(i) / 2);
  return i % 2 == 0 ? Words{r.v[0], r.v[1]} : Words{r.v[2], r.v[3]};
}

// Sizes around the batch (32 elements) and thread-split boundaries, odd and even.
const std::vector<int64_t> kSizes = {1, 2, 3, 31, 32, 33, 63, 65, 1000, 70001};
const std::vector<uint64_t> kOffsets = {0, 5, (1ull << 32) - 3};  // the last crosses the 32-bit carry

// The float normal's words turned into the kernel's (u1, u2), as float, exactly as the kernel does.
void unit_pair(Words w, float* u1, float* u2) {
  *u1 = 1.0f - static_cast<float>(w.w0 >> 8) * (1.0f / 16777216.0f) - 0x1p-25f;
  *u2 = static_cast<float>(w.w1 >> 8) * (1.0f / 16777216.0f);
}

// The bound on |z - z_double| for float normals (CPU and CUDA): the double reference evaluates
// Box–Muller exactly on the same float (u1, u2); the float path loses a few ulp in log, cos and
// 2 pi u (libm float: up to 0.61 of it, mostly the rounding of 2 pi u near a zero of cos; the
// CPU kernel, which reduces u exactly: 0.08 of it, over the 2^21 draws below).
double normal_float_bound(double z_ref) { return 3e-6 * std::max(1.0, std::fabs(z_ref)); }

}  // namespace

TEST(RandomFill, UniformIsBitIdenticalToTheWordMapping) {
  for (uint64_t offset : kOffsets)
    for (int64_t n : kSizes) {
      const uint64_t seed = 0x123456789abcull + n;
      Generator g32(seed), g64(seed);
      g32.set_state(seed, offset);
      g64.set_state(seed, offset);
      Tensor f = Tensor::empty({n}, DType::F32), d = Tensor::empty({n}, DType::F64);
      kernels::uniform(f, -1.5, 2.25, g32);
      kernels::uniform(d, -1.5, 2.25, g64);
      std::vector<float> fv = f.to_vector<float>();
      std::vector<double> dv = d.to_vector<double>();
      for (int64_t i = 0; i < n; ++i) {
        Words w = words_of(seed, offset, i);
        float uf = static_cast<float>(w.w0 >> 8) / 16777216.0f;
        float ef = -1.5f + 3.75f * uf;
        uint64_t bits = ((static_cast<uint64_t>(w.w0) << 21) ^ (w.w1 >> 11)) & ((1ull << 53) - 1);
        double ed = -1.5 + 3.75 * (static_cast<double>(bits) / 9007199254740992.0);
        ASSERT_EQ(fv[i], ef) << "f32 n=" << n << " offset=" << offset << " i=" << i;
        ASSERT_EQ(dv[i], ed) << "f64 n=" << n << " offset=" << offset << " i=" << i;
      }
    }
}

TEST(RandomFill, RandintIsBitIdenticalToTheWordMapping) {
  for (uint64_t offset : kOffsets)
    for (int64_t n : kSizes) {
      Generator g(77);
      g.set_state(77, offset);
      Tensor t = Tensor::empty({n}, DType::I64);
      kernels::randint(t, -1000, 123456789, g);
      Generator h(77);
      h.set_state(77, offset);
      Tensor s = Tensor::empty({n}, DType::I32);
      kernels::randint(s, -5, 7, h);
      std::vector<int64_t> tv = t.to_vector<int64_t>();
      std::vector<int32_t> sv = s.to_vector<int32_t>();
      for (int64_t i = 0; i < n; ++i) {
        Words w = words_of(77, offset, i);
        uint64_t bits = (static_cast<uint64_t>(w.w0) << 32) | w.w1;
        ASSERT_EQ(tv[i], -1000 + static_cast<int64_t>(bits % (123456789ull + 1000))) << "n=" << n << " i=" << i;
        ASSERT_EQ(sv[i], -5 + static_cast<int64_t>(bits % 12)) << "n=" << n << " i=" << i;
      }
    }
}

TEST(RandomFill, BernoulliIsBitIdenticalToTheWordMapping) {
  // p = 0.3 is not a multiple of 2^-53; 0.5 is (the threshold is then hit exactly); 0 and 1 the ends.
  for (double p : {0.3, 0.5, 0.0, 1.0, 1e-17})
    for (int64_t n : {int64_t{33}, int64_t{70001}}) {
      Generator g(3);
      g.set_state(3, 11);
      Tensor t = Tensor::empty({n}, DType::F32);
      kernels::bernoulli(t, p, g);
      Generator h(3);
      h.set_state(3, 11);
      Tensor b = Tensor::empty({n}, DType::Bool);
      kernels::bernoulli(b, p, h);
      std::vector<float> tv = t.to_vector<float>();
      std::vector<uint8_t> bv(n);
      for (int64_t i = 0; i < n; ++i) bv[i] = b.data<bool>()[i];
      for (int64_t i = 0; i < n; ++i) {
        Words w = words_of(3, 11, i);
        uint64_t bits = ((static_cast<uint64_t>(w.w0) << 21) ^ (w.w1 >> 11)) & ((1ull << 53) - 1);
        bool e = static_cast<double>(bits) / 9007199254740992.0 < p;
        ASSERT_EQ(tv[i], e ? 1.0f : 0.0f) << "p=" << p << " i=" << i;
        ASSERT_EQ(bv[i] != 0, e) << "p=" << p << " i=" << i;
      }
    }
}

TEST(RandomFill, DoubleNormalIsBoxMullerOnTheWords) {
  for (int64_t n : kSizes) {
    Generator g(9);
    g.set_state(9, 3);
    Tensor t = Tensor::empty({n}, DType::F64);
    kernels::normal(t, 0.25, 3.0, g);
    std::vector<double> v = t.to_vector<double>();
    for (int64_t i = 0; i < n; ++i) {
      Words w = words_of(9, 3, i);
      double u1 = 1.0 - (w.w0 + 0.5) * (1.0 / 4294967296.0);
      double u2 = w.w1 * (1.0 / 4294967296.0);
      double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
      ASSERT_EQ(v[i], 0.25 + 3.0 * z) << "n=" << n << " i=" << i;
    }
  }
}

TEST(RandomFill, FloatNormalIsWithinTheBoundOfDoubleBoxMuller) {
  const int64_t n = 1 << 21;
  Generator g(2024);
  Tensor t = Tensor::empty({n}, DType::F32);
  kernels::normal(t, 0.0, 1.0, g);
  std::vector<float> v = t.to_vector<float>();
  double worst = 0, worst_libm = 0;
  for (int64_t i = 0; i < n; ++i) {
    float u1, u2;
    unit_pair(words_of(2024, 0, i), &u1, &u2);
    double ref = std::sqrt(-2.0 * std::log(static_cast<double>(u1))) * std::cos(6.283185307179586 * u2);
    worst = std::max(worst, std::fabs(v[i] - ref) / normal_float_bound(ref));
    // The libm float formula (what kernels/random.h computes, and CUDA runs) meets the same bound.
    float libm = std::sqrt(-2.0f * std::log(u1)) * std::cos(6.2831853071795865f * u2);
    worst_libm = std::max(worst_libm, std::fabs(libm - ref) / normal_float_bound(ref));
  }
  EXPECT_LE(worst, 1.0) << "worst error as a fraction of the bound";
  EXPECT_LE(worst_libm, 1.0);
  // mean and std: the same draw, mapped as mean + std z in float.
  Generator h(2024);
  Tensor s = Tensor::empty({1000}, DType::F32);
  kernels::normal(s, 2.0, 0.5, h);
  std::vector<float> sv = s.to_vector<float>();
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sv[i], 2.0f + 0.5f * v[i]) << i;
}
