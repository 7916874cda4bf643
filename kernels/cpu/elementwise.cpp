// CPU backend of the elementwise kernels: dtype dispatch around the loop driver.
#include <cmath>

#include "kernels/cpu/loops.h"
#include "kernels/elementwise.h"
#include "kernels/host_math.h"
#include "kernels/random.h"
#include "tensor/dispatch.h"

namespace hmr::kernels::cpu {

void unary(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams params) {
  auto plan = plan_of<2>(op_name(op), out, {&x});
  char* base[2] = {static_cast<char*>(out.raw_data()), static_cast<char*>(x.raw_data())};
  switch (op) {
#define HMR_CASE(Name, Fn, kind, outk)                                                   \
  case UnaryOp::Name:                                                                    \
    HMR_DISPATCH_KIND_##kind(x.dtype(), #Name, [&](auto tag) {                           \
      using T = typename decltype(tag)::type;                                            \
      using A = acc_t<T>;                                                                \
      using O = std::conditional_t<HMR_IS_BOOL_OUT_##outk, bool, T>;                     \
      Fn fn;                                                                             \
      fn.a = params.a;                                                                   \
      fn.b = params.b;                                                                   \
      for_each<O, T>(plan, base, [fn](T v) { return cast<O>(fn(cast<A>(v))); });        \
    });                                                                                  \
    return;
    HMR_UNARY_OPS(HMR_CASE)
#undef HMR_CASE
  }
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  auto plan = plan_of<3>(op_name(op), out, {&a, &b});
  char* base[3] = {static_cast<char*>(out.raw_data()), static_cast<char*>(a.raw_data()),
                   static_cast<char*>(b.raw_data())};
  switch (op) {
#define HMR_CASE(Name, Fn, kind, outk)                                                     \
  case BinaryOp::Name:                                                                     \
    HMR_DISPATCH_KIND_##kind(a.dtype(), #Name, [&](auto tag) {                             \
      using T = typename decltype(tag)::type;                                              \
      using A = acc_t<T>;                                                                  \
      using O = std::conditional_t<HMR_IS_BOOL_OUT_##outk, bool, T>;                       \
      for_each<O, T, T>(plan, base,                                                        \
                        [](T u, T v) { return cast<O>(Fn{}(cast<A>(u), cast<A>(v))); });   \
    });                                                                                    \
    return;
    HMR_BINARY_OPS(HMR_CASE)
#undef HMR_CASE
  }
}

void binary_scalar(BinaryOp op, const Tensor& a, double s, bool scalar_first, const Tensor& out) {
  auto plan = plan_of<2>(op_name(op), out, {&a});
  char* base[2] = {static_cast<char*>(out.raw_data()), static_cast<char*>(a.raw_data())};
  switch (op) {
#define HMR_CASE(Name, Fn, kind, outk)                                                      \
  case BinaryOp::Name:                                                                      \
    HMR_DISPATCH_KIND_##kind(a.dtype(), #Name, [&](auto tag) {                              \
      using T = typename decltype(tag)::type;                                               \
      using A = acc_t<T>;                                                                   \
      using O = std::conditional_t<HMR_IS_BOOL_OUT_##outk, bool, T>;                        \
      const A sv = cast<A>(cast<T>(s));                                                     \
      if (scalar_first)                                                                     \
        for_each<O, T>(plan, base, [sv](T u) { return cast<O>(Fn{}(sv, cast<A>(u))); });    \
      else                                                                                  \
        for_each<O, T>(plan, base, [sv](T u) { return cast<O>(Fn{}(cast<A>(u), sv)); });    \
    });                                                                                     \
    return;
    HMR_BINARY_OPS(HMR_CASE)
#undef HMR_CASE
  }
}

void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  auto plan = plan_of<4>("where", out, {&cond, &a, &b});
  char* base[4] = {static_cast<char*>(out.raw_data()), static_cast<char*>(cond.raw_data()),
                   static_cast<char*>(a.raw_data()), static_cast<char*>(b.raw_data())};
  dispatch_all(a.dtype(), "where", [&](auto tag) {
    using T = typename decltype(tag)::type;
    for_each<T, bool, T, T>(plan, base, [](bool c, T u, T v) { return c ? u : v; });
  });
}

void copy_same_device(const Tensor& dst, const Tensor& src) {
  auto plan = plan_of<2>("copy", dst, {&src});
  char* base[2] = {static_cast<char*>(dst.raw_data()), static_cast<char*>(src.raw_data())};
  dispatch_all(dst.dtype(), "copy", [&](auto otag) {
    using O = typename decltype(otag)::type;
    dispatch_all(src.dtype(), "copy", [&](auto itag) {
      using I = typename decltype(itag)::type;
      for_each<O, I>(plan, base, [](I v) { return cast<O>(v); });
    });
  });
}

void fill(const Tensor& dst, double value) {
  auto plan = plan_of<1>("fill", dst, {});
  char* base[1] = {static_cast<char*>(dst.raw_data())};
  dispatch_all(dst.dtype(), "fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = cast<T>(value);
    for_each<T>(plan, base, [v]() { return v; });
  });
}

void arange(const Tensor& out, double start, double step) {
  dispatch_numeric(out.dtype(), "arange", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = out.data<T>();
    parallel_for(0, out.numel(), kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) o[i] = cast<T>(start + static_cast<double>(i) * step);
    });
  });
}

namespace {

// Random fills. Element i takes the words (2 (i % 2), 2 (i % 2) + 1) of Philox block
// offset + i / 2 (kernels/random.h, shared with CUDA); here each block is computed once for its
// two elements, kBlocks blocks at a time in struct-of-arrays form so that the ten rounds run
// 8 blocks per AVX2 instruction, and the draws then loop over plain word arrays and vectorise.
constexpr int kBlocks = 16;
constexpr int kBatch = 2 * kBlocks;  // elements per batch

// a[k], b[k]: the two words of element (2 counter + k); the same as random_words().
struct WordBatch {
  alignas(64) uint32_t a[kBatch];
  alignas(64) uint32_t b[kBatch];
};

void philox_batch(uint64_t seed, uint64_t counter, WordBatch& w) {
  alignas(64) uint32_t c0[kBlocks], c1[kBlocks], c2[kBlocks], c3[kBlocks];
  for (int l = 0; l < kBlocks; ++l) {
    const uint64_t c = counter + static_cast<uint64_t>(l);
    c0[l] = static_cast<uint32_t>(c);
    c1[l] = static_cast<uint32_t>(c >> 32);
    c2[l] = 0;
    c3[l] = 0;
  }
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    for (int l = 0; l < kBlocks; ++l) {
      const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0[l];
      const uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2[l];
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[l] ^ k0;
      const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[l] ^ k1;
      c1[l] = static_cast<uint32_t>(p1);
      c3[l] = static_cast<uint32_t>(p0);
      c0[l] = n0;
      c2[l] = n2;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  for (int l = 0; l < kBlocks; ++l) {
    w.a[2 * l] = c0[l];
    w.b[2 * l] = c1[l];
    w.a[2 * l + 1] = c2[l];
    w.b[2 * l + 1] = c3[l];
  }
}

// out[i] = draw(a_i, b_i) for the n elements of a contiguous output. Threads split the Philox
// blocks, so a thread's piece always starts on an even element.
template <class T, class Draw>
void random_fill(T* out, int64_t n, uint64_t seed, uint64_t offset, const Draw& draw) {
  const int64_t blocks = (n + 1) / 2;
  parallel_for(0, blocks, kGrain / 16, [&](int64_t b, int64_t e) {
    WordBatch w;
    const int64_t end = std::min(n, 2 * e);
    for (int64_t blk = b; blk < e; blk += kBlocks) {
      philox_batch(seed, offset + static_cast<uint64_t>(blk), w);
      T* o = out + 2 * blk;
      const int64_t count = std::min<int64_t>(kBatch, end - 2 * blk);
      if (count == kBatch) {
        for (int k = 0; k < kBatch; ++k) o[k] = draw(w.a[k], w.b[k]);
      } else {
        for (int64_t k = 0; k < count; ++k) o[k] = draw(w.a[k], w.b[k]);
      }
    }
  });
}

// philox_uniform(word) written so the int-to-float conversion vectorises (the value is the same:
// word >> 8 < 2^24 is exact either way).
inline float unit_float(uint32_t word) {
  return static_cast<float>(static_cast<int32_t>(word >> 8)) * (1.0f / 16777216.0f);
}

// cos(2 pi u) for u in [0, 1), branch-free so the normal fill vectorises. The reduction works on
// u, where it is exact (Sterbenz), and only the final |r| <= pi/4 is scaled by 2 pi; the sin and
// cos polynomials are the classic single-precision minimax fits on [-pi/4, pi/4].
inline float cos_2pi(float u) {
  const float t = u - __builtin_rintf(u);  // in [-1/2, 1/2], cos(2 pi t) = cos(2 pi u)
  const float a = t < 0.0f ? -t : t;       // cos is even
  // a in [0, 1/8]: cos(2 pi a); (1/8, 3/8]: sin(2 pi (1/4 - a)); (3/8, 1/2]: -cos(2 pi (1/2 - a)).
  const bool mid = a > 0.125f, high = a > 0.375f;
  const float x = high ? 0.5f - a : (mid ? 0.25f - a : a);
  const float r = x * 6.28318530717958647692f;
  const float z = r * r;
  float s = -1.9515295891e-4f;
  s = s * z + 8.3321608736e-3f;
  s = s * z - 1.6666654611e-1f;
  const float sin_r = r + r * z * s;
  float c = 2.443315711809948e-5f;
  c = c * z - 1.388731625493765e-3f;
  c = c * z + 4.166664568298827e-2f;
  const float cos_r = 1.0f - 0.5f * z + z * z * c;
  const float y = mid && !high ? sin_r : cos_r;
  return high ? -y : y;
}

// random_normal<float> with host_math's log and cos_2pi instead of libm's (which would keep the
// loop scalar); tests/kernels/test_random_fill.cpp bounds both against a double reference.
inline float normal_float(uint32_t w0, uint32_t w1) {
  const float u1 = 1.0f - unit_float(w0) - 0x1p-25f;  // in (0, 1]
  const float u2 = unit_float(w1);
  return __builtin_sqrtf(-2.0f * host_math::log(u1)) * cos_2pi(u2);
}

}  // namespace

void uniform(const Tensor& out, double low, double high, uint64_t seed, uint64_t offset) {
  dispatch_floating(out.dtype(), "uniform", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    const A lo = static_cast<A>(low), span = static_cast<A>(high - low);
    random_fill(out.data<T>(), out.numel(), seed, offset, [=](uint32_t a, uint32_t b) {
      if constexpr (sizeof(A) == 8) return cast<T>(lo + span * random_unit<A>({a, b}));
      else return cast<T>(lo + span * unit_float(a));
    });
  });
}

void normal(const Tensor& out, double mean, double std, uint64_t seed, uint64_t offset) {
  dispatch_floating(out.dtype(), "normal", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    const A m = static_cast<A>(mean), s = static_cast<A>(std);
    random_fill(out.data<T>(), out.numel(), seed, offset, [=](uint32_t a, uint32_t b) {
      if constexpr (sizeof(A) == 8) return cast<T>(m + s * random_normal<A>({a, b}));
      else return cast<T>(m + s * normal_float(a, b));
    });
  });
}

void randint(const Tensor& out, int64_t low, int64_t high, uint64_t seed, uint64_t offset) {
  dispatch_all(out.dtype(), "randint", [&](auto tag) {
    using T = typename decltype(tag)::type;
    random_fill(out.data<T>(), out.numel(), seed, offset,
                [=](uint32_t a, uint32_t b) { return cast<T>(random_int({a, b}, low, high)); });
  });
}

void bernoulli(const Tensor& out, double p, uint64_t seed, uint64_t offset) {
  // random_unit<double>(w) < p compares bits * 2^-53 with p, i.e. the 53-bit integer bits with
  // p 2^53 (exact): bits < ceil(p 2^53). An integer compare vectorises; the result is the same.
  const double scaled = p * 9007199254740992.0;
  const uint64_t threshold = !(scaled > 0) ? 0 : static_cast<uint64_t>(std::ceil(std::min(scaled, 9007199254740992.0)));
  dispatch_all(out.dtype(), "bernoulli", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T one = cast<T>(1.0), zero = cast<T>(0.0);
    random_fill(out.data<T>(), out.numel(), seed, offset, [=](uint32_t a, uint32_t b) {
      const uint64_t bits = ((static_cast<uint64_t>(a) << 21) ^ (b >> 11)) & ((1ull << 53) - 1);
      return bits < threshold ? one : zero;
    });
  });
}

}  // namespace hmr::kernels::cpu
