// Gradients of the elementwise ops (autograd/ops/elementwise.cpp) against f64 finite
// differences (hmr::gradcheck), with inputs inside each op's domain and away from its kinks,
// plus hand-worked cases where finite differences cannot decide (ties, bounds).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"

using namespace hmr;

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// f64 leaf of the given shape with values uniform in [lo, hi) (seeded, so runs repeat).
Tensor uniform(const Shape& shape, double lo, double hi, uint64_t seed) {
  Generator gen(seed);
  Tensor u = rand(shape, DType::F64, &gen);
  std::vector<double> v = u.to_vector<double>();
  for (double& x : v) x = lo + (hi - lo) * x;
  return tensor(v, shape.empty() ? Shape{} : shape, DType::F64).reshape(shape).detach().requires_grad_();
}

// Like uniform, but |x| in [lo, hi) with a random sign: keeps clear of a kink at 0.
Tensor away_from_zero(const Shape& shape, double lo, double hi, uint64_t seed) {
  Tensor m = uniform(shape, lo, hi, seed);
  Tensor s = uniform(shape, -1, 1, seed + 1000);
  std::vector<double> v = m.to_vector<double>(), sv = s.to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i) v[i] = sv[i] < 0 ? -v[i] : v[i];
  return tensor(v, {static_cast<int64_t>(v.size())}, DType::F64).reshape(shape).detach().requires_grad_();
}

void expect_gradcheck(const char* name, const Fn& f, const std::vector<Tensor>& inputs) {
  GradcheckResult r = gradcheck(f, inputs);
  EXPECT_TRUE(r.ok) << name << ": " << r.message;
}

void check_unary(const char* name, const std::function<Tensor(const Tensor&)>& op, const Tensor& x) {
  expect_gradcheck(name, [op](const std::vector<Tensor>& in) { return op(in[0]); }, {x});
}

}  // namespace

// ---- unary ------------------------------------------------------------------------------------

TEST(ElementwiseGrad, SmoothUnaryOps) {
  Shape s = {3, 4};
  Tensor real = uniform(s, -2, 2, 1);
  Tensor pos = uniform(s, 0.2, 3, 2);
  Tensor unit = uniform(s, -0.85, 0.85, 3);
  check_unary(
      "neg", [](const Tensor& x) { return neg(x); }, real);
  check_unary(
      "exp", [](const Tensor& x) { return exp(x); }, real);
  check_unary(
      "expm1", [](const Tensor& x) { return expm1(x); }, real);
  check_unary(
      "log", [](const Tensor& x) { return log(x); }, pos);
  check_unary(
      "log1p", [](const Tensor& x) { return log1p(x); }, unit);
  check_unary(
      "sqrt", [](const Tensor& x) { return sqrt(x); }, pos);
  check_unary(
      "rsqrt", [](const Tensor& x) { return rsqrt(x); }, pos);
  check_unary(
      "sin", [](const Tensor& x) { return sin(x); }, real);
  check_unary(
      "cos", [](const Tensor& x) { return cos(x); }, real);
  check_unary(
      "tan", [](const Tensor& x) { return tan(x); }, unit);
  check_unary(
      "asin", [](const Tensor& x) { return asin(x); }, unit);
  check_unary(
      "acos", [](const Tensor& x) { return acos(x); }, unit);
  check_unary(
      "atan", [](const Tensor& x) { return atan(x); }, real);
  check_unary(
      "tanh", [](const Tensor& x) { return tanh(x); }, real);
  check_unary(
      "sigmoid", [](const Tensor& x) { return sigmoid(x); }, real);
  check_unary(
      "square", [](const Tensor& x) { return square(x); }, real);
  check_unary(
      "erf", [](const Tensor& x) { return erf(x); }, real);
  check_unary(
      "gelu", [](const Tensor& x) { return gelu(x); }, real);
  check_unary(
      "silu", [](const Tensor& x) { return silu(x); }, real);
}

TEST(ElementwiseGrad, UnaryOpsWithKinksAwayFromThem) {
  Shape s = {2, 5};
  Tensor x = away_from_zero(s, 0.1, 2, 4);
  check_unary(
      "abs", [](const Tensor& t) { return abs(t); }, x);
  check_unary(
      "relu", [](const Tensor& t) { return relu(t); }, x);
  check_unary(
      "sign", [](const Tensor& t) { return sign(t); }, x);
  check_unary(
      "reciprocal", [](const Tensor& t) { return reciprocal(t); }, x);
  check_unary(
      "leaky_relu", [](const Tensor& t) { return leaky_relu(t, 0.2); }, x);
  check_unary(
      "elu", [](const Tensor& t) { return elu(t, 1.5); }, x);
  // softplus is linear above its threshold (1 here): check both sides, clear of 1.
  Tensor sp = tensor({-2.0, -0.4, 0.3, 0.8, 1.3, 2.5}, DType::F64).requires_grad_();
  check_unary(
      "softplus", [](const Tensor& t) { return softplus(t, 1.0); }, sp);
  // Piecewise constant: zero gradient away from the jumps (integers; halves for round).
  Tensor steps = tensor({-1.7, -0.8, 0.2, 0.35, 1.65, 2.3}, DType::F64).requires_grad_();
  check_unary(
      "floor", [](const Tensor& t) { return floor(t); }, steps);
  check_unary(
      "ceil", [](const Tensor& t) { return ceil(t); }, steps);
  check_unary(
      "round", [](const Tensor& t) { return round(t); }, steps);
}

TEST(ElementwiseGrad, ClampAwayFromTheBounds) {
  Tensor x = tensor({-2.0, -0.7, -0.2, 0.1, 0.6, 1.4, 2.2}, DType::F64).requires_grad_();
  check_unary(
      "clamp", [](const Tensor& t) { return clamp(t, -0.5, 1.0); }, x);
  check_unary(
      "clamp min", [](const Tensor& t) { return clamp(t, -0.5, std::nullopt); }, x);
  check_unary(
      "clamp max", [](const Tensor& t) { return clamp(t, std::nullopt, 1.0); }, x);
  // By hand: the gradient is 1 inside [-0.5, 1] and 0 outside.
  Tensor y = clamp(x, -0.5, 1.0);
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0, 1, 1, 1, 0, 0}));
}

// ---- binary -----------------------------------------------------------------------------------

TEST(ElementwiseGrad, ArithmeticWithBroadcasting) {
  // (3, 1) with (1, 4); (2, 3, 4) with (4); a 0-dim tensor with (2, 3).
  struct Pair {
    Shape a, b;
  };
  for (const Pair& p : {Pair{{3, 1}, {1, 4}}, Pair{{2, 3, 4}, {4}}, Pair{{}, {2, 3}}, Pair{{2, 3}, {}}}) {
    SCOPED_TRACE(str(p.a, " with ", p.b));
    Tensor a = uniform(p.a, -2, 2, 10), b = uniform(p.b, -2, 2, 11);
    Tensor bpos = uniform(p.b, 0.5, 2, 12);
    expect_gradcheck("add", [](const std::vector<Tensor>& in) { return add(in[0], in[1]); }, {a, b});
    expect_gradcheck("add alpha", [](const std::vector<Tensor>& in) { return add(in[0], in[1], 2.5); },
                     {a, b});
    expect_gradcheck("sub", [](const std::vector<Tensor>& in) { return sub(in[0], in[1]); }, {a, b});
    expect_gradcheck("sub alpha", [](const std::vector<Tensor>& in) { return sub(in[0], in[1], -3); },
                     {a, b});
    expect_gradcheck("mul", [](const std::vector<Tensor>& in) { return mul(in[0], in[1]); }, {a, b});
    expect_gradcheck("div", [](const std::vector<Tensor>& in) { return div(in[0], in[1]); }, {a, bpos});
    expect_gradcheck("atan2", [](const std::vector<Tensor>& in) { return atan2(in[0], in[1]); }, {a, b});
    expect_gradcheck("operators",
                     [](const std::vector<Tensor>& in) { return (in[0] + in[1]) * in[0] - in[1] / 4; },
                     {a, bpos});
  }
}

TEST(ElementwiseGrad, OnlyOneInputRequiringGrad) {
  Tensor a = uniform({2, 3}, -1, 1, 20);
  Tensor b = uniform({3}, 0.5, 2, 21).detach();
  expect_gradcheck("mul", [](const std::vector<Tensor>& in) { return mul(in[0], in[1]); }, {a, b});
  expect_gradcheck("div", [](const std::vector<Tensor>& in) { return div(in[1], in[0] + 3); }, {a, b});
}

TEST(ElementwiseGrad, PowTensorTensor) {
  Tensor base = uniform({2, 3}, 0.3, 2.5, 30);
  Tensor expo = uniform({3}, -2, 2, 31);
  expect_gradcheck("pow", [](const std::vector<Tensor>& in) { return pow(in[0], in[1]); }, {base, expo});
  // d/de 0^e is taken as 0 for e >= 0 (the limit from positive bases is not finite at e = 0).
  Tensor zb = tensor({0.0, 2.0}, DType::F64).requires_grad_();
  Tensor ze = tensor({1.5, 3.0}, DType::F64).requires_grad_();
  pow(zb, ze).sum().backward();
  std::vector<double> ge = ze.grad().to_vector<double>();
  EXPECT_EQ(ge[0], 0.0);
  EXPECT_NEAR(ge[1], 8.0 * std::log(2.0), 1e-12);
  std::vector<double> gb = zb.grad().to_vector<double>();
  EXPECT_EQ(gb[0], 0.0);  // 1.5 * 0^0.5
  EXPECT_NEAR(gb[1], 3.0 * 4.0, 1e-12);
}

TEST(ElementwiseGrad, RemainderAwayFromJumps) {
  // a / b has fractional part in (0.1, 0.9), so floor(a / b) is locally constant.
  Tensor a = tensor({5.3, -7.4, 2.2, -1.1}, DType::F64).requires_grad_();
  Tensor b = tensor({2.0, 1.5, -0.9, -0.8}, DType::F64).requires_grad_();
  expect_gradcheck("remainder", [](const std::vector<Tensor>& in) { return remainder(in[0], in[1]); },
                   {a, b});
  expect_gradcheck("remainder scalar", [](const std::vector<Tensor>& in) { return remainder(in[0], 1.5); },
                   {a});
}

TEST(ElementwiseGrad, MaximumMinimumAwayFromTies) {
  Tensor a = uniform({3, 4}, -2, 2, 40);
  std::vector<double> av = a.to_vector<double>();
  Tensor off = away_from_zero({3, 4}, 0.1, 1, 41);
  std::vector<double> ov = off.to_vector<double>();
  for (size_t i = 0; i < av.size(); ++i) av[i] += ov[i];
  Tensor b = tensor(av, {3, 4}, DType::F64).requires_grad_();
  expect_gradcheck("maximum", [](const std::vector<Tensor>& in) { return maximum(in[0], in[1]); }, {a, b});
  expect_gradcheck("minimum", [](const std::vector<Tensor>& in) { return minimum(in[0], in[1]); }, {a, b});
  // Broadcast: a row against a matrix.
  Tensor row = uniform({4}, -3, 3, 42);
  Tensor mat = tensor({-2.5, -1.5, 0.5, 2.5, -0.5, 0.75, 1.2, -2.2}, {2, 4}, DType::F64).requires_grad_();
  std::vector<double> rv = row.to_vector<double>(), mv = mat.to_vector<double>();
  for (size_t i = 0; i < mv.size(); ++i) ASSERT_GT(std::fabs(mv[i] - rv[i % 4]), 0.05);
  expect_gradcheck("maximum broadcast", [](const std::vector<Tensor>& in) { return maximum(in[0], in[1]); },
                   {row, mat});
}

TEST(ElementwiseGrad, MaximumMinimumSplitTiesEvenly) {
  // Element 0 ties (2 vs 2), element 1 a wins, element 2 b wins. Upstream gradient (1, 10, 100).
  for (bool is_max : {true, false}) {
    Tensor a = tensor({2.0, is_max ? 5.0 : -5.0, 0.0}, DType::F64).requires_grad_();
    Tensor b = tensor({2.0, 1.0, is_max ? 3.0 : -3.0}, DType::F64).requires_grad_();
    Tensor y = is_max ? maximum(a, b) : minimum(a, b);
    y.backward(tensor({1.0, 10.0, 100.0}, DType::F64));
    EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0.5, 10.0, 0.0}))
        << (is_max ? "maximum" : "minimum");
    EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{0.5, 0.0, 100.0}))
        << (is_max ? "maximum" : "minimum");
  }
}

TEST(ElementwiseGrad, WhereRoutesTheGradient) {
  Tensor cond = tensor({1, 0, 1}, {3, 1}, DType::Bool);
  Tensor a = uniform({1, 4}, -1, 1, 50);
  Tensor b = uniform({}, -1, 1, 51);
  expect_gradcheck("where", [cond](const std::vector<Tensor>& in) { return where(cond, in[0], in[1]); },
                   {a, b});
  expect_gradcheck("where scalar", [cond](const std::vector<Tensor>& in) { return where(cond, in[0], 0.5); },
                   {a});
  // By hand: a gets the rows where cond holds (2 of 3), summed over them; b the other 4 elements.
  where(cond, a, b).sum().backward();
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{2, 2, 2, 2}));
  EXPECT_EQ(b.grad().item(), 4.0);
}

// ---- scalar overloads -------------------------------------------------------------------------

TEST(ElementwiseGrad, ScalarOverloads) {
  Tensor x = uniform({2, 3}, 0.3, 2, 60);
  auto one = [](std::function<Tensor(const Tensor&)> f) {
    return [f](const std::vector<Tensor>& in) { return f(in[0]); };
  };
  expect_gradcheck("add scalar", one([](const Tensor& t) { return add(t, 1.5); }), {x});
  expect_gradcheck("sub scalar", one([](const Tensor& t) { return sub(t, 2); }), {x});
  expect_gradcheck("rsub", one([](const Tensor& t) { return rsub(t, 2); }), {x});
  expect_gradcheck("mul scalar", one([](const Tensor& t) { return mul(t, -3.0); }), {x});
  expect_gradcheck("div scalar", one([](const Tensor& t) { return div(t, 4.0); }), {x});
  expect_gradcheck("rdiv", one([](const Tensor& t) { return rdiv(t, 2.0); }), {x});
  expect_gradcheck("pow 2", one([](const Tensor& t) { return pow(t, 2); }), {x});
  expect_gradcheck("pow 3", one([](const Tensor& t) { return pow(t, 3); }), {x});
  expect_gradcheck("pow -1.5", one([](const Tensor& t) { return pow(t, -1.5); }), {x});
  expect_gradcheck("pow 0", one([](const Tensor& t) { return pow(t, 0) * t; }), {x});
  expect_gradcheck("scalar pow", one([](const Tensor& t) { return pow(2.5, t); }), {x});
  expect_gradcheck("operators", one([](const Tensor& t) { return (2 - t) * 3 + 1 / t - t / 2 + (-t); }), {x});
}

TEST(ElementwiseGrad, ComparisonsAreNotDifferentiable) {
  Tensor x = uniform({3}, -1, 1, 70);
  EXPECT_FALSE(gt(x, 0.0).requires_grad());
  EXPECT_FALSE(eq(x, x).requires_grad());
  EXPECT_FALSE(isnan(x).requires_grad());
  EXPECT_TRUE(exp(x).requires_grad());
}

TEST(ElementwiseGrad, MixedDtypesGiveEachInputItsOwnDtypeAndShape) {
  // f32 (3, 1) + f64 (4): the output is f64 (3, 4); each gradient comes back in its input's
  // dtype and shape, summed over the broadcast dims.
  Tensor a = tensor({1, 2, 3}, {3, 1}, DType::F32).requires_grad_();
  Tensor b = tensor({1, 2, 3, 4}, DType::F64).requires_grad_();
  Tensor y = a * b;
  EXPECT_EQ(y.dtype(), DType::F64);
  y.sum().backward();
  EXPECT_EQ(a.grad().dtype(), DType::F32);
  EXPECT_EQ(a.grad().sizes(), (Shape{3, 1}));
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{10, 10, 10}));
  EXPECT_EQ(b.grad().dtype(), DType::F64);
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{6, 6, 6, 6}));
}
