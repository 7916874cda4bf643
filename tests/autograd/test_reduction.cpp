// Reductions (autograd/ops/reduction.cpp): values against hand results or naive loops written
// here, f64 gradchecks for every differentiable op (keepdim, several dims, strided inputs),
// dtype rules, empty tensors, NaN, and the errors for bad dims.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"

using namespace hmr;

namespace {

using Vec = std::vector<double>;

Tensor f64(const Vec& v, const Shape& s) { return tensor(v, s, DType::F64); }

Tensor randn64(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  return randn(s, DType::F64, &gen);
}

void expect_near(const Vec& got, const Vec& want, double tol = 1e-12) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) EXPECT_TRUE(std::isnan(got[i])) << "at " << i;
    else if (std::isinf(want[i])) EXPECT_EQ(got[i], want[i]) << "at " << i;
    else EXPECT_NEAR(got[i], want[i], tol * std::max(1.0, std::abs(want[i]))) << "at " << i;
  }
}

void expect_grad(const GradcheckFn& f, std::vector<Tensor> inputs) {
  for (auto& t : inputs) t.requires_grad_();
  auto r = gradcheck(f, inputs);
  EXPECT_TRUE(r.ok) << r.message;
}

// Naive reference for a (A, B, C) tensor reduced over dim 1: out[a][c] = fold over b.
template <class F>
Vec fold_dim1(const Vec& x, int64_t A, int64_t B, int64_t C, double init, F f) {
  Vec out(A * C, init);
  for (int64_t a = 0; a < A; ++a)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t c = 0; c < C; ++c) out[a * C + c] = f(out[a * C + c], x[(a * B + b) * C + c]);
  return out;
}

template <class E>
void expect_throws_naming(const std::function<void()>& f, std::vector<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const E& e) {
    std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

// ---- values ---------------------------------------------------------------------------------------

TEST(Reduction, SumOverEachLayoutMatchesNaiveLoop) {
  // dim 1 of (A, B, C) is the "middle" layout; dims 0 / 2 are the column / row layouts.
  const int64_t A = 5, B = 7, C = 3;
  Tensor x = randn64({A, B, C}, 1);
  Vec xv = x.to_vector<double>();
  expect_near(sum(x, {1}).to_vector<double>(), fold_dim1(xv, A, B, C, 0.0, [](double a, double b) { return a + b; }));
  expect_near(sum(x, {0}).to_vector<double>(), fold_dim1(xv, 1, A, B * C, 0.0, [](double a, double b) { return a + b; }));
  expect_near(sum(x, {2}).to_vector<double>(), fold_dim1(xv, A * B, C, 1, 0.0, [](double a, double b) { return a + b; }));
  expect_near(sum(x, {-1, 0}).to_vector<double>(),
              sum(sum(x, {2}), {0}).to_vector<double>());
  double total = 0;
  for (double v : xv) total += v;
  expect_near({sum(x).item()}, {total});
}

TEST(Reduction, SumOfStridedViewsNeedsNoContiguousInput) {
  Tensor base = randn64({6, 8}, 2);
  Tensor t = base.t();                          // (8, 6), strides (1, 8)
  Tensor s = base.slice(1, 1, 8, 2);            // (6, 4), a gap between elements
  Tensor e = base.select(0, 0).expand({3, 8});  // stride 0
  expect_near(sum(t, {0}).to_vector<double>(), sum(base, {1}).to_vector<double>());
  expect_near(sum(t, {1}).to_vector<double>(), sum(base, {0}).to_vector<double>());
  expect_near(sum(s, {1}).to_vector<double>(), sum(s.contiguous(), {1}).to_vector<double>());
  expect_near(sum(e, {0}).to_vector<double>(), mul(base.select(0, 0), 3.0).to_vector<double>());
  Tensor p = randn64({2, 3, 4}, 3).permute({2, 0, 1});  // (4, 2, 3)
  expect_near(sum(p, {0, 2}).to_vector<double>(), sum(p.contiguous(), {0, 2}).to_vector<double>());
}

TEST(Reduction, KeepdimAndNegativeDimsShapeTheResult) {
  Tensor x = randn64({2, 3, 4}, 4);
  EXPECT_EQ(sum(x, {1}, true).sizes(), (Shape{2, 1, 4}));
  EXPECT_EQ(sum(x, {-1, 0}).sizes(), (Shape{3}));
  EXPECT_EQ(sum(x, {}, true).sizes(), (Shape{1, 1, 1}));
  EXPECT_EQ(sum(x).sizes(), (Shape{}));
  EXPECT_EQ(amax(x, {0, 2}, true).sizes(), (Shape{1, 3, 1}));
}

TEST(Reduction, LongFloatSumStaysAccurate) {
  // 2^20 ones and a chunked fold: float sums of this length must be exact.
  Tensor x = ones({1 << 20});
  EXPECT_EQ(sum(x).item<float>(), float(1 << 20));
  Tensor c = ones({1 << 12, 1 << 8});
  Vec want(1 << 8, double(1 << 12));
  expect_near(sum(c, {0}).to_vector<double>(), want);
}

TEST(Reduction, ProdMeanByHand) {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  expect_near(prod(x, {1}).to_vector<double>(), {6, 120});
  expect_near(prod(x, {0}).to_vector<double>(), {4, 10, 18});
  expect_near({prod(x).item()}, {720});
  expect_near(mean(x, {0}).to_vector<double>(), {2.5, 3.5, 4.5});
}

TEST(Reduction, EmptyTensorsGiveIdentities) {
  Tensor e = zeros({0, 3}, DType::F64);
  expect_near(sum(e, {0}).to_vector<double>(), {0, 0, 0});
  expect_near(prod(e, {0}).to_vector<double>(), {1, 1, 1});
  EXPECT_EQ(sum(e, {1}).sizes(), (Shape{0}));
  expect_near({sum(e).item()}, {0});
  expect_near({prod(e).item()}, {1});
  EXPECT_FALSE(any(e).item<bool>());
  EXPECT_TRUE(all(e).item<bool>());
  expect_near(logsumexp(e, {0}).to_vector<double>(), {-kInf, -kInf, -kInf});
  expect_near({norm(e).item()}, {0});
}

TEST(Reduction, ZeroDimTensorReducesToItself) {
  Tensor s = scalar_tensor(3.5, DType::F64);
  expect_near({sum(s).item(), sum(s, {0}).item(), amax(s, {-1}).item()}, {3.5, 3.5, 3.5});
  auto [v, i] = max(s, 0);
  EXPECT_EQ(v.item(), 3.5);
  EXPECT_EQ(i.item<int64_t>(), 0);
}

TEST(Reduction, IntegerAndBoolSumsAreInt64) {
  Tensor i = tensor({1, 2, 3, 4}, {2, 2}, DType::I32);
  Tensor s = sum(i, {0});
  EXPECT_EQ(s.dtype(), DType::I64);
  EXPECT_EQ(s.to_vector<int64_t>(), (std::vector<int64_t>{4, 6}));
  EXPECT_EQ(prod(i).dtype(), DType::I64);
  EXPECT_EQ(prod(i).item<int64_t>(), 24);
  Tensor b = tensor({1, 0, 1, 1}, {4}, DType::Bool);
  EXPECT_EQ(sum(b).dtype(), DType::I64);
  EXPECT_EQ(sum(b).item<int64_t>(), 3);
  // u8 would overflow at 256 in its own type.
  Tensor u = full({300}, 1, DType::U8);
  EXPECT_EQ(sum(u).item<int64_t>(), 300);
  EXPECT_EQ(amax(i).dtype(), DType::I32);
  EXPECT_EQ(amax(i).item<int64_t>(), 4);
  EXPECT_EQ(amin(b).dtype(), DType::Bool);
  EXPECT_FALSE(amin(b).item<bool>());
}

TEST(Reduction, HalfPrecisionAccumulatesInFloat) {
  // 4096 halves of 1: a half accumulator would stop at 2048 (its spacing there is 2).
  for (DType t : {DType::F16, DType::BF16}) {
    Tensor x = ones({4096}, t);
    EXPECT_EQ(sum(x).dtype(), t);
    EXPECT_EQ(sum(x).item<float>(), 4096.0f) << t;
  }
  Tensor h = tensor({1, -2, 3, 0.5}, {2, 2}, DType::F16);
  Tensor sm = softmax(h, 1);
  EXPECT_EQ(sm.dtype(), DType::F16);
  double e = std::exp(-3.0);
  expect_near(sm.to_vector<double>(), {1 / (1 + e), e / (1 + e), 1 / (1 + std::exp(-2.5)), std::exp(-2.5) / (1 + std::exp(-2.5))}, 2e-3);
}

TEST(Reduction, MaxMinValuesAndFirstIndex) {
  Tensor x = f64({3, 1, 3, 2,
                  -1, -5, 0, -5}, {2, 4});
  auto [v, i] = max(x, 1);
  expect_near(v.to_vector<double>(), {3, 0});
  EXPECT_EQ(i.to_vector<int64_t>(), (std::vector<int64_t>{0, 2}));  // first of the tied 3s
  auto [vn, in] = min(x, -1, true);
  EXPECT_EQ(vn.sizes(), (Shape{2, 1}));
  expect_near(vn.to_vector<double>(), {1, -5});
  EXPECT_EQ(in.to_vector<int64_t>(), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(in.dtype(), DType::I64);
  auto [v0, i0] = max(x, 0);
  expect_near(v0.to_vector<double>(), {3, 1, 3, 2});
  EXPECT_EQ(i0.to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(max(x).item(), 3);
  EXPECT_EQ(min(x).item(), -5);
}

TEST(Reduction, ArgmaxFlattensWithoutDim) {
  Tensor x = f64({0, 7, 2, 7, -9, 1}, {2, 3});
  EXPECT_EQ(argmax(x).item<int64_t>(), 1);
  EXPECT_EQ(argmin(x).item<int64_t>(), 4);
  EXPECT_EQ(argmax(x).sizes(), (Shape{}));
  EXPECT_EQ(argmax(x, std::nullopt, true).sizes(), (Shape{1, 1}));
  EXPECT_EQ(argmax(x, 0).to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(argmin(x, 1, true).sizes(), (Shape{2, 1}));
  // Flattened index follows logical order even when memory order differs.
  Tensor t = x.t();  // (3, 2): [[0, 7], [7, -9], [2, 1]]
  EXPECT_EQ(argmax(t).item<int64_t>(), 1);
  EXPECT_EQ(argmin(t).item<int64_t>(), 3);
  // Arg-reduction over the column layout (dim 0 of a long matrix).
  Tensor c = randn64({300, 5}, 5);
  Vec cv = c.to_vector<double>();
  std::vector<int64_t> want(5, 0);
  for (int64_t j = 0; j < 5; ++j)
    for (int64_t r = 1; r < 300; ++r)
      if (cv[r * 5 + j] > cv[want[j] * 5 + j]) want[j] = r;
  EXPECT_EQ(argmax(c, 0).to_vector<int64_t>(), want);
}

TEST(Reduction, NaNPropagatesThroughMaxAndMin) {
  Tensor x = f64({1, kNaN, 3, -2, 5, 0}, {2, 3});
  expect_near(amax(x, {1}).to_vector<double>(), {kNaN, 5});
  expect_near(amin(x, {1}).to_vector<double>(), {kNaN, -2});
  EXPECT_TRUE(std::isnan(max(x).item()));
  auto [v, i] = max(x, 1);
  EXPECT_TRUE(std::isnan(v.to_vector<double>()[0]));
  EXPECT_EQ(i.to_vector<int64_t>(), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(argmin(x).item<int64_t>(), 1);
}

TEST(Reduction, VarStdWithCorrection) {
  Tensor x = f64({1, 2, 3, 4, 10, 20, 30, 40}, {2, 4});
  // Row 0: mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5.
  expect_near(var(x, {1}).to_vector<double>(), {5.0 / 3, 500.0 / 3});
  expect_near(var(x, {1}, 0).to_vector<double>(), {5.0 / 4, 500.0 / 4});
  expect_near(hmr::std(x, {1}, 1, true).to_vector<double>(), {std::sqrt(5.0 / 3), std::sqrt(500.0 / 3)});
  EXPECT_EQ(hmr::std(x, {1}, 1, true).sizes(), (Shape{2, 1}));
  expect_near(var(x, {0}).to_vector<double>(), {40.5, 162, 364.5, 648});
  EXPECT_TRUE(std::isnan(var(f64({2}, {1})).item()));  // N - correction = 0, as torch
}

TEST(Reduction, NormForEachP) {
  Tensor x = f64({3, -4, 0, 1, 2, -2}, {2, 3});
  expect_near(norm(x, 2, {1}).to_vector<double>(), {5, 3});
  expect_near(norm(x, 1, {1}).to_vector<double>(), {7, 5});
  expect_near(norm(x, kInf, {1}).to_vector<double>(), {4, 2});
  expect_near(norm(x, -kInf, {1}).to_vector<double>(), {0, 1});
  expect_near(norm(x, 0, {1}).to_vector<double>(), {2, 3});
  expect_near(norm(x, 3, {1}).to_vector<double>(), {std::cbrt(91.0), std::cbrt(17.0)});
  expect_near({norm(x).item()}, {std::sqrt(34.0)});
}

TEST(Reduction, LogsumexpIsStableForLargeInputs) {
  Tensor x = f64({1000, 1000, -1000, -kInf, -kInf, -kInf}, {2, 3});
  expect_near(logsumexp(x, {1}).to_vector<double>(), {1000 + std::log(2.0), -kInf});
  Tensor y = f64({0.5, -1, 2}, {3});
  double want = std::log(std::exp(0.5) + std::exp(-1.0) + std::exp(2.0));
  expect_near({logsumexp(y, {0}).item()}, {want});
  EXPECT_EQ(logsumexp(tensor({1, 2}, {2}, DType::I64), {0}).dtype(), kDefaultFloat);
}

TEST(Reduction, AnyAllGiveBool) {
  Tensor x = tensor({0, 0, 1, 2, 3, 4}, {2, 3}, DType::I32);
  Tensor a = any(x, {1});
  EXPECT_EQ(a.dtype(), DType::Bool);
  EXPECT_EQ(a.to_vector<bool>(), (std::vector<bool>{true, true}));
  EXPECT_EQ(all(x, {1}).to_vector<bool>(), (std::vector<bool>{false, true}));
  EXPECT_EQ(all(x, {0}).to_vector<bool>(), (std::vector<bool>{false, false, true}));
  EXPECT_FALSE(any(zeros({5})).item<bool>());
}

TEST(Reduction, SoftmaxMatchesDirectFormulaAlongEveryDim) {
  Tensor x = mul(randn64({3, 4, 5}, 6), 10.0);
  Vec xv = x.to_vector<double>();
  const int64_t sizes[3] = {3, 4, 5};
  for (int64_t d = 0; d < 3; ++d) {
    Vec want(xv.size()), want_log(xv.size());
    int64_t inner = 1;
    for (int64_t k = d + 1; k < 3; ++k) inner *= sizes[k];
    int64_t n = sizes[d], outer = int64_t(xv.size()) / (n * inner);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        double s = 0;
        for (int64_t r = 0; r < n; ++r) s += std::exp(xv[(o * n + r) * inner + i]);
        for (int64_t r = 0; r < n; ++r) {
          int64_t k = (o * n + r) * inner + i;
          want[k] = std::exp(xv[k]) / s;
          want_log[k] = xv[k] - std::log(s);
        }
      }
    expect_near(softmax(x, d).to_vector<double>(), want, 1e-10);
    expect_near(log_softmax(x, d - 3).to_vector<double>(), want_log, 1e-10);
  }
  // Huge inputs do not overflow: subtracting the row max keeps exp finite.
  Tensor big = tensor({1000, 1001}, {2});
  expect_near(softmax(big, 0).to_vector<double>(), {1 / (1 + std::exp(1.0)), 1 / (1 + std::exp(-1.0))}, 1e-6);
  expect_near(softmax(x.transpose(0, 2), 1).to_vector<double>(),
              softmax(x.transpose(0, 2).contiguous(), 1).to_vector<double>(), 1e-12);
}

// ---- gradients ------------------------------------------------------------------------------------

TEST(ReductionGrad, SumMeanProd) {
  expect_grad([](const std::vector<Tensor>& in) { return sum(in[0], {0, 2}, true); }, {randn64({2, 3, 4}, 10)});
  expect_grad([](const std::vector<Tensor>& in) { return mean(in[0], {-1}); }, {randn64({3, 4}, 11)});
  expect_grad([](const std::vector<Tensor>& in) { return prod(in[0], {1}); }, {randn64({3, 4}, 12)});
  expect_grad([](const std::vector<Tensor>& in) { return prod(in[0].t(), {0, 1}, true); }, {randn64({3, 4}, 13)});
}

TEST(ReductionGrad, ProdWithZeros) {
  // Row 0 has one zero (its entry gets the product of the others), row 1 two (all zero),
  // row 2 none. Finite differences agree: the function is a polynomial.
  Tensor x = f64({2, 0, 3, 0, 5, 0, 1.5, -2, 4}, {3, 3});
  expect_grad([](const std::vector<Tensor>& in) { return prod(in[0], {1}); }, {x});
  Tensor y = x.detach().clone().requires_grad_();
  prod(y, {1}).sum().backward();
  expect_near(y.grad().to_vector<double>(), {0, 6, 0, 0, 0, 0, -8, 6, -3});
  Tensor z = x.detach().clone().requires_grad_();
  prod(z).backward();
  expect_near(z.grad().to_vector<double>(), Vec(9, 0.0));
}

TEST(ReductionGrad, AmaxSplitsTiesEvenly) {
  Tensor x = f64({1, 3, 3, 2, 0, 5}, {2, 3}).requires_grad_();
  amax(x, {1}).sum().backward();
  expect_near(x.grad().to_vector<double>(), {0, 0.5, 0.5, 0, 0, 1});
  Tensor y = f64({4, 4, 4, 1}, {4}).requires_grad_();
  max(y).backward();
  expect_near(y.grad().to_vector<double>(), {1.0 / 3, 1.0 / 3, 1.0 / 3, 0});
  expect_grad([](const std::vector<Tensor>& in) { return amin(in[0], {0, 2}, true); }, {randn64({3, 2, 4}, 14)});
  expect_grad([](const std::vector<Tensor>& in) { return amax(in[0].t(), {1}); }, {randn64({5, 3}, 15)});
  expect_grad([](const std::vector<Tensor>& in) { return min(in[0]); }, {randn64({4, 3}, 16)});
}

TEST(ReductionGrad, MaxAlongDimSendsGradientToTheIndex) {
  Tensor x = f64({1, 3, 3, 2, 0, 5}, {2, 3}).requires_grad_();
  auto [v, i] = max(x, 1);
  EXPECT_FALSE(i.requires_grad());
  mul(v, f64({10, 20}, {2})).sum().backward();
  expect_near(x.grad().to_vector<double>(), {0, 10, 0, 0, 0, 20});  // the first 3 only
  expect_grad([](const std::vector<Tensor>& in) { return max(in[0], 0).first; }, {randn64({4, 3}, 17)});
  expect_grad([](const std::vector<Tensor>& in) { return min(in[0], -1, true).first; }, {randn64({2, 3, 4}, 18)});
  expect_grad([](const std::vector<Tensor>& in) { return max(in[0].transpose(0, 1), 1).first; }, {randn64({4, 3}, 19)});
}

TEST(ReductionGrad, VarStd) {
  expect_grad([](const std::vector<Tensor>& in) { return var(in[0], {1}); }, {randn64({3, 5}, 20)});
  expect_grad([](const std::vector<Tensor>& in) { return var(in[0], {0, 2}, 0, true); }, {randn64({3, 2, 4}, 21)});
  expect_grad([](const std::vector<Tensor>& in) { return hmr::std(in[0], {}); }, {randn64({3, 4}, 22)});
  expect_grad([](const std::vector<Tensor>& in) { return hmr::std(in[0].t(), {1}, 2, true); }, {randn64({6, 3}, 23)});
}

TEST(ReductionGrad, NormEachP) {
  Tensor x = randn64({3, 4}, 24);
  for (double p : {1.0, 2.0, 3.0, 1.5, kInf, -kInf}) {
    expect_grad([p](const std::vector<Tensor>& in) { return norm(in[0], p, {1}); }, {x});
    expect_grad([p](const std::vector<Tensor>& in) { return norm(in[0].t(), p, {0}, true); }, {x});
  }
  expect_grad([](const std::vector<Tensor>& in) { return norm(in[0]); }, {randn64({2, 3, 2}, 25)});
}

TEST(ReductionGrad, TwoNormOfZeroVectorHasZeroGradient) {
  Tensor x = zeros({2, 3}, DType::F64).requires_grad_();
  norm(x, 2, {1}).sum().backward();
  expect_near(x.grad().to_vector<double>(), Vec(6, 0.0));
  Tensor y = zeros({3}, DType::F64).requires_grad_();
  norm(y, 3).backward();
  expect_near(y.grad().to_vector<double>(), Vec(3, 0.0));
}

TEST(ReductionGrad, Logsumexp) {
  expect_grad([](const std::vector<Tensor>& in) { return logsumexp(in[0], {1}); }, {randn64({3, 4}, 26)});
  expect_grad([](const std::vector<Tensor>& in) { return logsumexp(in[0], {0, 2}, true); }, {randn64({2, 3, 4}, 27)});
  // Large inputs: the gradient is the softmax, finite.
  Tensor x = f64({1000, 1000}, {2}).requires_grad_();
  logsumexp(x, {0}).backward();
  expect_near(x.grad().to_vector<double>(), {0.5, 0.5});
}

TEST(ReductionGrad, SoftmaxAndLogSoftmax) {
  for (int64_t d : {0, 1, -1}) {
    expect_grad([d](const std::vector<Tensor>& in) { return softmax(in[0], d); }, {randn64({3, 4, 2}, 28)});
    expect_grad([d](const std::vector<Tensor>& in) { return log_softmax(in[0], d); }, {randn64({3, 4, 2}, 29)});
  }
  expect_grad([](const std::vector<Tensor>& in) { return softmax(in[0].t(), 1); }, {randn64({5, 3}, 30)});
  expect_grad([](const std::vector<Tensor>& in) { return log_softmax(in[0].t(), 0); }, {randn64({5, 3}, 31)});
}

// ---- errors ---------------------------------------------------------------------------------------

TEST(ReductionErrors, BadDimsNameTheOp) {
  Tensor x = zeros({2, 3});
  expect_throws_naming<IndexError>([&] { sum(x, {2}); }, {"sum", "out of range", "2"});
  expect_throws_naming<IndexError>([&] { amax(x, {-3}); }, {"amax", "-3"});
  expect_throws_naming<ShapeError>([&] { sum(x, {1, -1}); }, {"sum", "more than once", "[1, -1]"});
  expect_throws_naming<IndexError>([&] { max(x, 5); }, {"max", "5"});
  expect_throws_naming<IndexError>([&] { softmax(x, 2); }, {"softmax", "2"});
  expect_throws_naming<IndexError>([&] { argmax(x, -4); }, {"argmax", "-4"});
}

TEST(ReductionErrors, MaxOfEmptyIsAnError) {
  Tensor e = zeros({0, 3});
  expect_throws_naming<ShapeError>([&] { max(e); }, {"max", "empty", "[0, 3]"});
  expect_throws_naming<ShapeError>([&] { amax(e, {0}); }, {"amax", "dim 0", "[0, 3]"});
  expect_throws_naming<ShapeError>([&] { min(e, 0); }, {"min", "dim 0", "[0, 3]"});
  expect_throws_naming<ShapeError>([&] { argmax(e); }, {"argmax", "[0, 3]"});
  EXPECT_EQ(amax(e, {1}).sizes(), (Shape{0}));  // reducing a non-empty dim of an empty tensor is fine
}

TEST(ReductionErrors, FloatOnlyOpsRefuseIntegers) {
  Tensor i = tensor({1, 2}, {2}, DType::I64);
  expect_throws_naming<DTypeError>([&] { mean(i); }, {"mean", "int64"});
  expect_throws_naming<DTypeError>([&] { var(i); }, {"var", "int64"});
  expect_throws_naming<DTypeError>([&] { hmr::std(i); }, {"std", "int64"});
  expect_throws_naming<DTypeError>([&] { norm(i); }, {"norm", "int64"});
  expect_throws_naming<DTypeError>([&] { softmax(i, 0); }, {"softmax", "int64"});
  expect_throws_naming<DTypeError>([&] { log_softmax(i, 0); }, {"log_softmax", "int64"});
}
