// nn::init: the bounds below are worked out by hand from torch.nn.init's formulas; the draws
// are checked against those bounds and against the moments of a uniform distribution.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "autograd/ops.h"
#include "nn/init.h"

using namespace hmr;
namespace init = hmr::nn::init;

namespace {

struct Moments {
  double min, max, mean, var;
};

Moments moments(const Tensor& t) {
  std::vector<double> v = t.to_vector<double>();
  Moments m{v[0], v[0], 0, 0};
  for (double x : v) {
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
    m.mean += x;
  }
  m.mean /= static_cast<double>(v.size());
  for (double x : v) m.var += (x - m.mean) * (x - m.mean);
  m.var /= static_cast<double>(v.size());
  return m;
}

// U(-b, b) has mean 0 and variance b^2 / 3; with 20000+ draws the extremes come within 1% of b.
void expect_uniform_symmetric(const Tensor& t, double bound) {
  Moments m = moments(t);
  EXPECT_GE(m.min, -bound);
  EXPECT_LE(m.max, bound);
  EXPECT_LT(m.min, -0.99 * bound);
  EXPECT_GT(m.max, 0.99 * bound);
  EXPECT_NEAR(m.mean, 0.0, 0.02 * bound);
  EXPECT_NEAR(m.var, bound * bound / 3.0, 0.03 * bound * bound / 3.0);
}

}  // namespace

TEST(NnInit, FansOfLinearAndConvWeights) {
  EXPECT_EQ(init::fan_in_and_fan_out(empty({64, 3})), (std::pair<int64_t, int64_t>{3, 64}));
  // Conv weight (out 8, in 3, 5x5): fan_in = 3 * 25, fan_out = 8 * 25.
  EXPECT_EQ(init::fan_in_and_fan_out(empty({8, 3, 5, 5})), (std::pair<int64_t, int64_t>{75, 200}));
}

TEST(NnInit, FansOfAOneDimTensorThrowShapeErrorNamingTheShape) {
  try {
    init::fan_in_and_fan_out(empty({7}));
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("[7]"), std::string::npos) << e.what();
  }
}

TEST(NnInit, GainsMatchTorch) {
  EXPECT_DOUBLE_EQ(init::calculate_gain("linear"), 1.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain("conv2d"), 1.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain("sigmoid"), 1.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain("tanh"), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain("relu"), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(init::calculate_gain("selu"), 0.75);
  EXPECT_DOUBLE_EQ(init::calculate_gain("leaky_relu"), std::sqrt(2.0 / (1.0 + 0.01 * 0.01)));
  EXPECT_DOUBLE_EQ(init::calculate_gain("leaky_relu", std::sqrt(5.0)), std::sqrt(1.0 / 3.0));
  EXPECT_THROW(init::calculate_gain("swish"), ValueError);
}

TEST(NnInit, UniformStaysInRangeAndCoversIt) {
  Tensor t = empty({200, 100});
  init::uniform_(t, 2.0, 5.0);
  Moments m = moments(t);
  EXPECT_GE(m.min, 2.0);
  EXPECT_LT(m.max, 5.0);
  EXPECT_NEAR(m.mean, 3.5, 0.05);
  EXPECT_NEAR(m.var, 9.0 / 12.0, 0.03);
}

TEST(NnInit, KaimingUniformOfLinearWeightHasBoundOneOverSqrtFanIn) {
  // a = sqrt(5) (torch.nn.Linear): gain = sqrt(2 / 6), bound = gain * sqrt(3 / 100) = 1 / sqrt(100).
  Tensor w = empty({200, 100});
  init::kaiming_uniform_(w, std::sqrt(5.0));
  expect_uniform_symmetric(w, 0.1);
}

TEST(NnInit, KaimingUniformReluFanOut) {
  // gain sqrt(2), fan_out = 16 * 9 = 144: bound = sqrt(2) * sqrt(3 / 144) = sqrt(6) / 12.
  Tensor w = empty({16, 200, 3, 3});
  init::kaiming_uniform_(w, 0.0, "fan_out", "relu");
  expect_uniform_symmetric(w, std::sqrt(6.0) / 12.0);
}

TEST(NnInit, XavierUniformBound) {
  // gain 2, fans 300 + 100: bound = 2 * sqrt(6 / 400).
  Tensor w = empty({100, 300});
  init::xavier_uniform_(w, 2.0);
  expect_uniform_symmetric(w, 2.0 * std::sqrt(6.0 / 400.0));
}

TEST(NnInit, SameSeedSameDrawsAndLeafStaysALeaf) {
  Generator g1(42), g2(42);
  Tensor a = empty({8, 4}).requires_grad_();
  Tensor b = empty({8, 4}).requires_grad_();
  init::kaiming_uniform_(a, 0.0, "fan_in", "leaky_relu", &g1);
  init::kaiming_uniform_(b, 0.0, "fan_in", "leaky_relu", &g2);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_TRUE(a.is_leaf());
  EXPECT_TRUE(a.requires_grad());
  EXPECT_FALSE(a.grad_fn());
}

TEST(NnInit, WritesIntoAStridedView) {
  Tensor base = zeros({4, 6});
  Tensor view = base.t();  // (6, 4), non-contiguous
  init::uniform_(view, 1.0, 2.0);
  for (double v : base.to_vector<double>()) {
    EXPECT_GE(v, 1.0);
    EXPECT_LT(v, 2.0);
  }
}

TEST(NnInit, BadArgumentsThrowTypedErrors) {
  Tensor w = empty({4, 4});
  EXPECT_THROW(init::kaiming_uniform_(w, 0.0, "fan_avg"), ValueError);
  EXPECT_THROW(init::uniform_(w, 1.0, 0.0), ValueError);
  Tensor i = zeros({4, 4}, DType::I64);
  EXPECT_THROW(init::uniform_(i), DTypeError);
}

TEST(NnInit, NormalInitialisersHaveTorchsStd) {
  // kaiming_normal_(mode=fan_out, relu) on (64, 32, 3, 3): std = sqrt(2) / sqrt(64 * 9).
  Tensor w = empty({64, 32, 3, 3});
  init::kaiming_normal_(w, 0.0, "fan_out", "relu");
  Moments m = moments(w);
  double s = std::sqrt(2.0) / std::sqrt(64.0 * 9.0);
  EXPECT_NEAR(m.mean, 0.0, 0.03 * s);
  EXPECT_NEAR(std::sqrt(m.var), s, 0.02 * s);
  // xavier_normal_ on (200, 300): std = sqrt(2 / 500).
  Tensor x = empty({200, 300});
  init::xavier_normal_(x);
  EXPECT_NEAR(std::sqrt(moments(x).var), std::sqrt(2.0 / 500.0), 0.02 * std::sqrt(2.0 / 500.0));
  Tensor c = empty({3});
  init::constant_(c, 2.5);
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{2.5f, 2.5f, 2.5f}));
  EXPECT_THROW(init::normal_(c, 0.0, -1.0), ValueError);
}
