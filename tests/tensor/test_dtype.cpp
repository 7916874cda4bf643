// Element types: sizes, names, PyTorch's promotion rules and the 16-bit float conversions.
// Expected promotions and conversions come from tests/fixtures/make_tensor_fixtures.py (torch).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "autograd/ops.h"
#include "fixtures/tensor_fixtures.inc"

using namespace hmr;

namespace {

constexpr DType kAll[kNumDTypes] = {DType::Bool, DType::U8,   DType::I32, DType::I64,
                                    DType::F16,  DType::BF16, DType::F32, DType::F64};

float float_of_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// A tensor of one element, 1-D (dimensioned) or 0-dim, of the given dtype.
Tensor sample(DType t, bool zero_dim) { return zero_dim ? Tensor::empty({}, t) : Tensor::empty({1}, t); }

}  // namespace

TEST(DType, ItemsizeMatchesTheStorageWidth) {
  const int64_t want[kNumDTypes] = {1, 1, 4, 8, 2, 2, 4, 8};
  for (int i = 0; i < kNumDTypes; ++i) EXPECT_EQ(itemsize(kAll[i]), want[i]) << dtype_name(kAll[i]);
  EXPECT_EQ(Tensor::empty({3}, DType::F64).itemsize(), 8);
}

TEST(DType, NamesAreTorchNamesWithoutPrefix) {
  const char* want[kNumDTypes] = {"bool",    "uint8",    "int32",   "int64",
                                  "float16", "bfloat16", "float32", "float64"};
  for (int i = 0; i < kNumDTypes; ++i) EXPECT_STREQ(dtype_name(kAll[i]), want[i]);
  EXPECT_EQ(str(DType::BF16), "bfloat16");
}

TEST(DType, CategoriesAndCppTypeMapping) {
  for (DType t : kAll) {
    bool fl = t == DType::F16 || t == DType::BF16 || t == DType::F32 || t == DType::F64;
    EXPECT_EQ(is_floating(t), fl) << t;
    EXPECT_EQ(is_integral(t), !fl && t != DType::Bool) << t;
    EXPECT_EQ(is_integral(t, true), !fl) << t;
  }
  EXPECT_EQ(dtype_of_v<float>, DType::F32);
  EXPECT_EQ(dtype_of_v<int32_t>, DType::I32);
  EXPECT_EQ(dtype_of_v<BFloat16>, DType::BF16);
  EXPECT_EQ(kDefaultFloat, DType::F32);
}

TEST(DType, PromoteTypesMatchesTorchForAll64Pairs) {
  for (int a = 0; a < kNumDTypes; ++a)
    for (int b = 0; b < kNumDTypes; ++b)
      EXPECT_EQ(promote_types(kAll[a], kAll[b]), kPromoteTypes[a][b]) << kAll[a] << " with " << kAll[b];
}

TEST(DType, ResultTypeOfTwoTensorsMatchesTorch) {
  // Kinds: 0 = 1-D tensor, 1 = 0-dim tensor (which only lifts the category).
  for (int ka = 0; ka < 2; ++ka)
    for (int kb = 0; kb < 2; ++kb)
      for (int a = 0; a < kNumDTypes; ++a)
        for (int b = 0; b < kNumDTypes; ++b)
          EXPECT_EQ(result_type(sample(kAll[a], ka), sample(kAll[b], kb)), kResultTypeTT[ka][kb][a][b])
              << kAll[a] << (ka ? " 0-dim" : " 1-D") << " with " << kAll[b] << (kb ? " 0-dim" : " 1-D");
}

TEST(DType, ResultTypeOfTensorAndScalarMatchesTorch) {
  const Scalar scalars[3] = {Scalar(true), Scalar(2), Scalar(2.5)};
  const char* kinds[3] = {"bool", "int", "float"};
  for (int ka = 0; ka < 2; ++ka)
    for (int a = 0; a < kNumDTypes; ++a)
      for (int s = 0; s < 3; ++s)
        EXPECT_EQ(result_type(sample(kAll[a], ka), scalars[s]), kResultTypeTS[ka][a][s])
            << kAll[a] << (ka ? " 0-dim" : " 1-D") << " with a " << kinds[s] << " scalar";
}

TEST(DType, ArithmeticUsesTheResultType) {
  // A 0-dim float64 tensor lifts an int32 tensor to float64 (a category change), but leaves a
  // float16 tensor float16 (same category: the dimensioned operand decides).
  Tensor a = tensor({1, 2}, DType::I32);
  Tensor b = scalar_tensor(0.5, DType::F64);
  Tensor y = add(a, b);
  EXPECT_EQ(y.dtype(), DType::F64);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{1.5, 2.5}));
  EXPECT_EQ(add(tensor({1}, DType::F16), b).dtype(), DType::F16);
  EXPECT_EQ(mul(tensor({3}, DType::U8), 2).dtype(), DType::U8);
  EXPECT_EQ(mul(tensor({3}, DType::U8), 2.0).dtype(), DType::F32);
  EXPECT_EQ(add(tensor({1}, DType::F16), tensor({1}, DType::BF16)).dtype(), DType::F32);
}

TEST(Half, FromFloatMatchesTorchOnTrickyValues) {
  for (const HalfCase& c : kHalfCases) {
    float f = float_of_bits(c.f32);
    uint16_t got = Half(f).bits;
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(static_cast<float>(Half::from_bits(got)))) << "NaN stays NaN";
      continue;
    }
    EXPECT_EQ(got, c.f16) << std::hexfloat << f << " (bits 0x" << std::hex << c.f32 << ")";
  }
}

TEST(BFloat16, FromFloatMatchesTorchOnTrickyValues) {
  for (const HalfCase& c : kHalfCases) {
    float f = float_of_bits(c.f32);
    uint16_t got = BFloat16(f).bits;
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(static_cast<float>(BFloat16::from_bits(got)))) << "NaN stays NaN";
      continue;
    }
    EXPECT_EQ(got, c.bf16) << std::hexfloat << f << " (bits 0x" << std::hex << c.f32 << ")";
  }
}

TEST(Half, ToFloatIsExactForEveryBitPattern) {
  // IEEE binary16: (-1)^s * 2^(e-15) * (1 + m/1024), subnormals 2^-14 * m/1024, e = 31 inf/NaN.
  for (uint32_t b = 0; b < 0x10000; ++b) {
    uint32_t s = b >> 15, e = (b >> 10) & 31, m = b & 1023;
    float got = Half::from_bits(static_cast<uint16_t>(b));
    double want;
    if (e == 31)
      want = m ? NAN : INFINITY;
    else if (e == 0)
      want = std::ldexp(static_cast<double>(m), -24);
    else
      want = std::ldexp(1.0 + m / 1024.0, static_cast<int>(e) - 15);
    if (s) want = -want;
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << std::hex << b;
      continue;
    }
    ASSERT_EQ(static_cast<double>(got), want) << "bits 0x" << std::hex << b;
    ASSERT_EQ(std::signbit(got), s == 1) << "bits 0x" << std::hex << b;
    // Every representable value converts back to itself.
    ASSERT_EQ(Half(got).bits, b) << "round trip of 0x" << std::hex << b;
  }
}

TEST(BFloat16, ToFloatIsTheUpperHalfOfTheFloat) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    float got = BFloat16::from_bits(static_cast<uint16_t>(b));
    float want = float_of_bits(b << 16);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got));
      continue;
    }
    ASSERT_EQ(std::memcmp(&got, &want, 4), 0) << "bits 0x" << std::hex << b;
    ASSERT_EQ(BFloat16(got).bits, b) << "round trip of 0x" << std::hex << b;
  }
}

TEST(Half, TensorConversionUsesTheSameRounding) {
  // Tensor::to goes through the copy kernel; it must round exactly like the scalar type.
  std::vector<float> xs;
  for (const HalfCase& c : kHalfCases)
    if (!std::isnan(float_of_bits(c.f32))) xs.push_back(float_of_bits(c.f32));
  Tensor t = Tensor::from_vector(xs, {static_cast<int64_t>(xs.size())});
  std::vector<Half> h = t.to(DType::F16).to_vector<Half>();
  std::vector<BFloat16> bf = t.to(DType::BF16).to_vector<BFloat16>();
  size_t k = 0;
  for (const HalfCase& c : kHalfCases) {
    if (std::isnan(float_of_bits(c.f32))) continue;
    EXPECT_EQ(h[k].bits, c.f16) << xs[k];
    EXPECT_EQ(bf[k].bits, c.bf16) << xs[k];
    ++k;
  }
  // And back: f16 -> f32 is exact.
  std::vector<float> back = t.to(DType::F16).to(DType::F32).to_vector<float>();
  EXPECT_EQ(back[2], 1.0f);
}
