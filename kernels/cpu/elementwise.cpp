// CPU backend of the elementwise kernels: dtype dispatch around the loop driver.

// Vectorising host_math's selects needs -fno-trapping-math, set for all of kernels/ in
// kernels/CMakeLists.txt.

#include <cmath>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

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
constexpr int kBlocks = 32;
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
#if defined(__AVX2__)
  // GCC does not vectorise the 32x32->64 products of the scalar loop below; vpmuludq gives
  // them for the even lanes, and for the odd lanes after a shift.
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  auto mulhilo = [](__m256i a, __m256i m, __m256i& hi, __m256i& lo) {
    const __m256i even = _mm256_mul_epu32(a, m), odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  };
  // The groups of 8 blocks interleave within each round: one group's rounds are a dependency
  // chain (multiply latency), several side by side keep the multipliers busy.
  constexpr int kGroups = kBlocks / 8;
  __m256i x0[kGroups], x1[kGroups], x2[kGroups], x3[kGroups];
  auto load = [](const uint32_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); };
  for (int g = 0; g < kGroups; ++g) {
    x0[g] = load(c0 + 8 * g);
    x1[g] = load(c1 + 8 * g);
    x2[g] = load(c2 + 8 * g);
    x3[g] = load(c3 + 8 * g);
  }
  for (int round = 0; round < 10; ++round) {
    const __m256i r0 = _mm256_set1_epi32(static_cast<int>(k0)), r1 = _mm256_set1_epi32(static_cast<int>(k1));
    for (int g = 0; g < kGroups; ++g) {
      __m256i hi0, lo0, hi1, lo1;
      mulhilo(x0[g], m0, hi0, lo0);
      mulhilo(x2[g], m1, hi1, lo1);
      x0[g] = _mm256_xor_si256(_mm256_xor_si256(hi1, x1[g]), r0);
      x2[g] = _mm256_xor_si256(_mm256_xor_si256(hi0, x3[g]), r1);
      x1[g] = lo1;
      x3[g] = lo0;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  auto store = [](uint32_t* p, __m256i v) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), v); };
  for (int g = 0; g < kGroups; ++g) {
    store(c0 + 8 * g, x0[g]);
    store(c1 + 8 * g, x1[g]);
    store(c2 + 8 * g, x2[g]);
    store(c3 + 8 * g, x3[g]);
  }
#else
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
#endif
  for (int l = 0; l < kBlocks; ++l) {
    w.a[2 * l] = c0[l];
    w.b[2 * l] = c1[l];
    w.a[2 * l + 1] = c2[l];
    w.b[2 * l + 1] = c3[l];
  }
}

// Fills the n elements of a contiguous output batch by batch: fill_batch(words, out, count)
// writes count <= kBatch values. Threads split the Philox blocks, so a thread's piece always
// starts on an even element.
template <class T, class FillBatch>
void random_fill_batches(T* out, int64_t n, uint64_t seed, uint64_t offset, const FillBatch& fill_batch) {
  const int64_t blocks = (n + 1) / 2;
  parallel_for(0, blocks, kGrain / 16, [&](int64_t b, int64_t e) {
    WordBatch w;
    const int64_t end = std::min(n, 2 * e);
    for (int64_t blk = b; blk < e; blk += kBlocks) {
      philox_batch(seed, offset + static_cast<uint64_t>(blk), w);
      fill_batch(w, out + 2 * blk, std::min<int64_t>(kBatch, end - 2 * blk));
    }
  });
}

// out[i] = draw(a_i, b_i); a full batch runs a loop of constant length, which vectorises.
template <class T, class Draw>
void random_fill(T* out, int64_t n, uint64_t seed, uint64_t offset, const Draw& draw) {
  random_fill_batches(out, n, seed, offset, [&](const WordBatch& w, T* o, int64_t count) {
    if (count == kBatch) {
      for (int k = 0; k < kBatch; ++k) o[k] = draw(w.a[k], w.b[k]);
    } else {
      for (int64_t k = 0; k < count; ++k) o[k] = draw(w.a[k], w.b[k]);
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
  const bool use_sin = mid != high;  // not &&: a branch would keep the loop scalar
  const float y = use_sin ? sin_r : cos_r;
  return high ? -y : y;
}

// random_normal<float> with host_math's log and cos_2pi instead of libm's (which would keep the
// loop scalar); tests/kernels/test_random_fill.cpp bounds both against a double reference.
// Three passes over a batch: the square root has its own, as sqrtf's errno handling stops GCC
// from vectorising it inside a loop (the result is the same correctly rounded root).
template <class T>
void normal_float_batch(const WordBatch& w, T* o, int64_t count, float mean, float std) {
  alignas(32) float r[kBatch], c[kBatch];
  for (int k = 0; k < kBatch; ++k) {
    const float u1 = 1.0f - unit_float(w.a[k]) - 0x1p-25f;  // in (0, 1]
    r[k] = -2.0f * host_math::log(u1);
    c[k] = cos_2pi(unit_float(w.b[k]));
  }
#if defined(__AVX2__)
  for (int k = 0; k < kBatch; k += 8) _mm256_store_ps(r + k, _mm256_sqrt_ps(_mm256_load_ps(r + k)));
#else
  for (int k = 0; k < kBatch; ++k) r[k] = std::sqrt(r[k]);
#endif
  for (int64_t k = 0; k < count; ++k) o[k] = cast<T>(mean + std * (r[k] * c[k]));
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
    if constexpr (sizeof(A) == 8) {
      random_fill(out.data<T>(), out.numel(), seed, offset,
                  [=](uint32_t a, uint32_t b) { return cast<T>(m + s * random_normal<A>({a, b})); });
    } else {
      random_fill_batches(out.data<T>(), out.numel(), seed, offset,
                          [=](const WordBatch& w, T* o, int64_t count) { normal_float_batch(w, o, count, m, s); });
    }
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
