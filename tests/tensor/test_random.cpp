// Random generators and the random factories: the Philox core against Random123's published
// answer, ranges and moments of rand/randn/randint, and reproducibility from (seed, offset).
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "autograd/ops.h"
#include "kernels/elementwise.h"
#include "tensor/philox.h"

using namespace hmr;

namespace {

struct Moments {
  double mean = 0, std = 0, min = INFINITY, max = -INFINITY;
};
Moments moments(const std::vector<double>& v) {
  Moments m;
  for (double x : v) {
    m.mean += x;
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
  }
  m.mean /= static_cast<double>(v.size());
  for (double x : v) m.std += (x - m.mean) * (x - m.mean);
  m.std = std::sqrt(m.std / static_cast<double>(v.size() - 1));
  return m;
}

}  // namespace

TEST(Philox, MatchesRandom123KnownAnswer) {
  // Random123 tests/kat_vectors: "philox4x32 10", counter 0 0 0 0, key 0 0.
  Philox4x32 r = philox4x32(0, 0);
  EXPECT_EQ(r.v[0], 0x6627e8d5u);
  EXPECT_EQ(r.v[1], 0xe169c58du);
  EXPECT_EQ(r.v[2], 0xbc57ac4cu);
  EXPECT_EQ(r.v[3], 0x9b00dbd8u);
}

TEST(Philox, UniformFromWordsStaysBelowOne) {
  EXPECT_EQ(philox_uniform(0), 0.0f);
  EXPECT_LT(philox_uniform(0xffffffffu), 1.0f);
  EXPECT_EQ(philox_uniform(0x80000000u), 0.5f);
  EXPECT_LT(philox_uniform_double(0xffffffffu, 0xffffffffu), 1.0);
  EXPECT_EQ(philox_uniform_double(0, 0), 0.0);
}

TEST(Random, RandIsUniformInZeroOne) {
  Generator gen(42);
  for (DType t : {DType::F32, DType::F64}) {
    Tensor x = rand({100000}, t, &gen);
    EXPECT_EQ(x.dtype(), t);
    Moments m = moments(x.to_vector<double>());
    EXPECT_GE(m.min, 0.0);
    EXPECT_LT(m.max, 1.0);
    // Mean 1/2 and std 1/sqrt(12) = 0.2887; the standard error of the mean is 0.0009.
    EXPECT_NEAR(m.mean, 0.5, 0.005) << t;
    EXPECT_NEAR(m.std, 0.28868, 0.005) << t;
    // Roughly a tenth in each tenth of the interval.
    std::vector<int> bins(10, 0);
    for (double v : x.to_vector<double>()) ++bins[static_cast<int>(v * 10)];
    for (int b : bins) EXPECT_NEAR(b, 10000, 500);
  }
}

TEST(Random, RandnHasMeanZeroStdOne) {
  Generator gen(7);
  for (DType t : {DType::F32, DType::F64}) {
    Tensor x = randn({100000}, t, &gen);
    Moments m = moments(x.to_vector<double>());
    EXPECT_NEAR(m.mean, 0.0, 0.015) << t;
    EXPECT_NEAR(m.std, 1.0, 0.015) << t;
    EXPECT_TRUE(std::isfinite(m.min) && std::isfinite(m.max));
    // P(|z| > 1) = 0.3173 for a standard normal.
    int outside = 0;
    for (double v : x.to_vector<double>()) outside += std::fabs(v) > 1.0;
    EXPECT_NEAR(outside / 100000.0, 0.3173, 0.01) << t;
  }
}

TEST(Random, RandintStaysInRangeAndHitsEveryValue) {
  Generator gen(3);
  Tensor x = randint(-3, 4, {20000}, DType::I64, &gen);
  EXPECT_EQ(x.dtype(), DType::I64);
  std::vector<int64_t> v = x.to_vector<int64_t>();
  std::set<int64_t> seen(v.begin(), v.end());
  EXPECT_EQ(seen, (std::set<int64_t>{-3, -2, -1, 0, 1, 2, 3}));
  Tensor y = randint(0, 10, {5000}, DType::I32, &gen);
  EXPECT_EQ(y.dtype(), DType::I32);
  for (int32_t k : y.to_vector<int32_t>()) EXPECT_TRUE(k >= 0 && k < 10);
  EXPECT_THROW(randint(5, 5, {3}, DType::I64, &gen), ValueError);
}

TEST(Random, SameSeedSameValues) {
  Generator a(123), b(123);
  EXPECT_EQ(rand({1000}, DType::F32, &a).to_vector<float>(), rand({1000}, DType::F32, &b).to_vector<float>());
  EXPECT_EQ(randn({77}, DType::F64, &a).to_vector<double>(), randn({77}, DType::F64, &b).to_vector<double>());
  // The default generator too, through manual_seed.
  manual_seed(99);
  std::vector<float> first = rand({50}).to_vector<float>();
  manual_seed(99);
  EXPECT_EQ(rand({50}).to_vector<float>(), first);
}

TEST(Random, GeneratorOffsetAdvancesAndResumes) {
  Generator gen(5);
  EXPECT_EQ(gen.offset(), 0u);
  // Two 32-bit words per element, four per Philox block: n elements use ceil(n / 2) blocks.
  rand({7}, DType::F32, &gen);
  EXPECT_EQ(gen.offset(), 4u);
  randn({10}, DType::F64, &gen);
  EXPECT_EQ(gen.offset(), 9u);
  EXPECT_EQ(gen.seed(), 5u);
  // Successive draws differ; restoring (seed, offset) replays the stream.
  Generator g(11);
  std::vector<float> one = rand({64}, DType::F32, &g).to_vector<float>();
  uint64_t mid = g.offset();
  std::vector<float> two = rand({64}, DType::F32, &g).to_vector<float>();
  EXPECT_NE(one, two);
  g.set_state(11, mid);
  EXPECT_EQ(rand({64}, DType::F32, &g).to_vector<float>(), two);
  g.manual_seed(11);
  EXPECT_EQ(g.offset(), 0u);
  EXPECT_EQ(rand({64}, DType::F32, &g).to_vector<float>(), one);
}

TEST(Random, DifferentSeedsDiffer) {
  Generator a(1), b(2);
  std::vector<float> x = rand({256}, DType::F32, &a).to_vector<float>();
  std::vector<float> y = rand({256}, DType::F32, &b).to_vector<float>();
  int equal = 0;
  for (size_t i = 0; i < x.size(); ++i) equal += x[i] == y[i];
  EXPECT_LT(equal, 3);
}

TEST(Random, ShapeDoesNotChangeTheStream) {
  // Element i depends only on (seed, offset, i): a (4, 8) draw is the 32-element draw reshaped.
  Generator a(8), b(8);
  EXPECT_EQ(rand({4, 8}, DType::F32, &a).to_vector<float>(), rand({32}, DType::F32, &b).to_vector<float>());
}

TEST(Random, StridedOutputIsFilledInLogicalOrder) {
  // A transposed output gets the same values, element for element, as a contiguous one.
  Generator a(21), b(21);
  Tensor t = Tensor::empty({3, 5}).t();  // (5, 3), not contiguous
  kernels::uniform(t, 0.0, 1.0, a);
  Tensor c = rand({5, 3}, DType::F32, &b);
  EXPECT_EQ(t.to_vector<float>(), c.to_vector<float>());
}

TEST(Random, LikeVariantsKeepShapeAndDtype) {
  Generator gen(4);
  Tensor x = rand_like(Tensor::empty({2, 3}, DType::F64), &gen);
  EXPECT_EQ(x.sizes(), (Shape{2, 3}));
  EXPECT_EQ(x.dtype(), DType::F64);
  EXPECT_EQ(randn_like(x, &gen).dtype(), DType::F64);
  EXPECT_THROW(rand({2}, DType::I64, &gen), DTypeError);
}
