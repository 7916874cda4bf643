// Elementwise ops through the public API (autograd/ops.h) on the CPU backend: every functor
// of kernels/functors.h against std:: math computed here, integer and bool semantics as in
// PyTorch, NaN handling, broadcasting, strided inputs, scalar overloads and error messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "kernels/elementwise.h"

using namespace hmr;

namespace {

const double kNaN = std::nan("");

// Runs f, expects an exception of type E whose message contains every one of parts
// (compared case-insensitively: kernel errors name ops as "Add", user ops as "add").
template <class E, class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  };
  try {
    f();
    ADD_FAILURE() << "no exception thrown";
  } catch (const E& e) {
    std::string msg = lower(e.what());
    for (const std::string& p : parts)
      EXPECT_NE(msg.find(lower(p)), std::string::npos) << "'" << p << "' not in: " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

Tensor vec(const std::vector<double>& v, DType t = DType::F64) { return tensor(v, {}, t); }

// |got - want| within a few ulps of the precision T was computed in; NaN matches NaN.
template <class T>
void expect_close(double got, double want, const std::string& what) {
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << what << ": want NaN, got " << got;
    return;
  }
  if (std::isinf(want)) {
    EXPECT_EQ(got, want) << what;
    return;
  }
  double eps = std::is_same_v<T, float> ? 4e-7 : 1e-15;
  EXPECT_NEAR(got, want, eps * std::max(1.0, std::fabs(want))) << what;
}

// Checks op(x) against ref(x) for every value, computing ref in float for f32 and in double
// for f64 (a generic lambda, so std:: picks the overload of the precision under test).
template <class Op, class Ref>
void check_unary(const char* name, Op op, Ref ref, const std::vector<double>& xs) {
  for (DType t : {DType::F32, DType::F64}) {
    std::vector<double> got = op(vec(xs, t)).template to_vector<double>();
    ASSERT_EQ(got.size(), xs.size());
    for (size_t i = 0; i < xs.size(); ++i) {
      std::string what = std::string(name) + "(" + std::to_string(xs[i]) + ") in " + dtype_name(t);
      if (t == DType::F32)
        expect_close<float>(got[i], static_cast<double>(ref(static_cast<float>(xs[i]))), what);
      else
        expect_close<double>(got[i], ref(xs[i]), what);
    }
  }
}

template <class Op, class Ref>
void check_binary(const char* name, Op op, Ref ref, const std::vector<double>& as,
                  const std::vector<double>& bs) {
  for (DType t : {DType::F32, DType::F64}) {
    Tensor y = op(vec(as, t), vec(bs, t));
    EXPECT_EQ(y.dtype(), t) << name;
    std::vector<double> got = y.template to_vector<double>();
    for (size_t i = 0; i < as.size(); ++i) {
      std::string what = std::string(name) + "(" + std::to_string(as[i]) + ", " + std::to_string(bs[i]) +
                         ") in " + dtype_name(t);
      if (t == DType::F32)
        expect_close<float>(
            got[i], static_cast<double>(ref(static_cast<float>(as[i]), static_cast<float>(bs[i]))), what);
      else
        expect_close<double>(got[i], ref(as[i], bs[i]), what);
    }
  }
}

const std::vector<double> kReal = {-3.5, -1.25, -0.5, -0.0, 0.0, 0.3, 1.0, 2.75, 7.0};
const std::vector<double> kPositive = {0.01, 0.3, 1.0, 2.5, 40.0};
const std::vector<double> kUnit = {-0.95, -0.5, 0.0, 0.25, 0.9};

std::vector<bool> bools(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DType::Bool);
  return t.to_vector<bool>();
}

// A tensor whose storage claims to be on CUDA device 0; only device checks may look at it.
Tensor fake_cuda(const Shape& sizes, DType dtype = DType::F32) {
  static char dummy[256];
  Storage s = wrap_storage(dummy, sizeof dummy, Device::cuda(0), nullptr, nullptr);
  return Tensor::make_view(s, sizes, contiguous_strides(sizes), 0, dtype);
}

}  // namespace

// ---- unary ops against std:: ------------------------------------------------------------------

TEST(Unary, ArithmeticAndRounding) {
  check_unary(
      "neg", [](const Tensor& x) { return neg(x); }, [](auto x) { return -x; }, kReal);
  check_unary(
      "abs", [](const Tensor& x) { return abs(x); }, [](auto x) { return std::fabs(x); }, kReal);
  check_unary(
      "square", [](const Tensor& x) { return square(x); }, [](auto x) { return x * x; }, kReal);
  check_unary(
      "sign", [](const Tensor& x) { return sign(x); },
      [](auto x) { return decltype(x)(x > 0 ? 1 : (x < 0 ? -1 : 0)); }, kReal);
  check_unary(
      "floor", [](const Tensor& x) { return floor(x); }, [](auto x) { return std::floor(x); }, kReal);
  check_unary(
      "ceil", [](const Tensor& x) { return ceil(x); }, [](auto x) { return std::ceil(x); }, kReal);
  check_unary(
      "reciprocal", [](const Tensor& x) { return reciprocal(x); }, [](auto x) { return decltype(x)(1) / x; },
      kPositive);
  // torch.round rounds half to even.
  std::vector<double> halves = {-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.4, -3.6};
  for (DType t : {DType::F32, DType::F64})
    EXPECT_EQ(round(vec(halves, t)).to_vector<double>(), (std::vector<double>{-2, -2, -0, 0, 2, 2, 3, -4}));
}

TEST(Unary, AbsClearsTheSignOfNegativeZero) {
  for (DType t : {DType::F32, DType::F64}) {
    double y = abs(vec({-0.0}, t)).to_vector<double>()[0];
    EXPECT_EQ(y, 0.0);
    EXPECT_FALSE(std::signbit(y)) << t;
  }
}

TEST(Unary, ExponentialsAndLogs) {
  check_unary(
      "exp", [](const Tensor& x) { return exp(x); }, [](auto x) { return std::exp(x); }, kReal);
  check_unary(
      "expm1", [](const Tensor& x) { return expm1(x); }, [](auto x) { return std::expm1(x); }, kReal);
  check_unary(
      "log", [](const Tensor& x) { return log(x); }, [](auto x) { return std::log(x); }, kPositive);
  check_unary(
      "log1p", [](const Tensor& x) { return log1p(x); }, [](auto x) { return std::log1p(x); }, kUnit);
  check_unary(
      "sqrt", [](const Tensor& x) { return sqrt(x); }, [](auto x) { return std::sqrt(x); }, kPositive);
  check_unary(
      "rsqrt", [](const Tensor& x) { return rsqrt(x); }, [](auto x) { return decltype(x)(1) / std::sqrt(x); },
      kPositive);
  // Outside the domain: NaN and -inf as in IEEE.
  std::vector<double> y = log(vec({-1.0, 0.0})).to_vector<double>();
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], -INFINITY);
  EXPECT_TRUE(std::isnan(sqrt(vec({-4.0})).item()));
}

TEST(Unary, Trigonometry) {
  check_unary(
      "sin", [](const Tensor& x) { return sin(x); }, [](auto x) { return std::sin(x); }, kReal);
  check_unary(
      "cos", [](const Tensor& x) { return cos(x); }, [](auto x) { return std::cos(x); }, kReal);
  check_unary(
      "tan", [](const Tensor& x) { return tan(x); }, [](auto x) { return std::tan(x); }, kUnit);
  check_unary(
      "asin", [](const Tensor& x) { return asin(x); }, [](auto x) { return std::asin(x); }, kUnit);
  check_unary(
      "acos", [](const Tensor& x) { return acos(x); }, [](auto x) { return std::acos(x); }, kUnit);
  check_unary(
      "atan", [](const Tensor& x) { return atan(x); }, [](auto x) { return std::atan(x); }, kReal);
  check_unary(
      "tanh", [](const Tensor& x) { return tanh(x); }, [](auto x) { return std::tanh(x); }, kReal);
  check_unary(
      "erf", [](const Tensor& x) { return erf(x); }, [](auto x) { return std::erf(x); }, kReal);
}

TEST(Unary, Activations) {
  // sigmoid(x) = (1 + tanh(x / 2)) / 2: a different formula from the kernel's 1 / (1 + e^-x).
  check_unary(
      "sigmoid", [](const Tensor& x) { return sigmoid(x); },
      [](auto x) { return (1 + std::tanh(x / 2)) / 2; }, kReal);
  check_unary(
      "relu", [](const Tensor& x) { return relu(x); }, [](auto x) { return x > 0 ? x : decltype(x)(0); },
      kReal);
  check_unary(
      "leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.1); },
      [](auto x) { return x > 0 ? x : x * decltype(x)(0.1); }, kReal);
  check_unary(
      "elu", [](const Tensor& x) { return elu(x, 1.5); },
      [](auto x) { return x > 0 ? x : decltype(x)(1.5) * std::expm1(x); }, kReal);
  check_unary(
      "gelu", [](const Tensor& x) { return gelu(x); },
      [](auto x) { return x * std::erfc(-x / std::sqrt(decltype(x)(2))) / 2; }, kReal);
  check_unary(
      "silu", [](const Tensor& x) { return silu(x); }, [](auto x) { return x * (1 + std::tanh(x / 2)) / 2; },
      kReal);
  // softplus is log(1 + e^x), and x itself above the threshold (here 2).
  check_unary(
      "softplus", [](const Tensor& x) { return softplus(x, 2.0); },
      [](auto x) { return x > 2 ? x : std::log(1 + std::exp(x)); }, kReal);
}

TEST(Unary, ClampAndPowScalar) {
  check_unary(
      "clamp", [](const Tensor& x) { return clamp(x, -1.0, 2.0); },
      [](auto x) { return std::min(std::max(x, decltype(x)(-1)), decltype(x)(2)); }, kReal);
  check_unary(
      "clamp_min", [](const Tensor& x) { return clamp(x, 0.5, std::nullopt); },
      [](auto x) { return std::max(x, decltype(x)(0.5)); }, kReal);
  check_unary(
      "clamp_max", [](const Tensor& x) { return clamp(x, std::nullopt, 0.5); },
      [](auto x) { return std::min(x, decltype(x)(0.5)); }, kReal);
  check_unary(
      "pow 3", [](const Tensor& x) { return pow(x, 3); }, [](auto x) { return x * x * x; }, kReal);
  check_unary(
      "pow 2", [](const Tensor& x) { return pow(x, 2); }, [](auto x) { return x * x; }, kReal);
  check_unary(
      "pow 0.5", [](const Tensor& x) { return pow(x, 0.5); }, [](auto x) { return std::sqrt(x); }, kPositive);
  check_unary(
      "pow -1.5", [](const Tensor& x) { return pow(x, -1.5); },
      [](auto x) { return std::pow(x, decltype(x)(-1.5)); }, kPositive);
  check_unary(
      "pow 0", [](const Tensor& x) { return pow(x, 0); }, [](auto x) { return x - x + 1; }, kReal);
  // A minimum above the maximum gives the maximum everywhere (PyTorch: min(max(x, lo), hi)).
  EXPECT_EQ(clamp(vec({0, 2, 5}), 3.0, 1.0).to_vector<double>(), (std::vector<double>{1, 1, 1}));
  expect_error<ValueError>([] { clamp(vec({1}), std::nullopt, std::nullopt); }, {"clamp"});
}

TEST(Unary, SixteenBitFloatsComputeInFloatAndRound) {
  std::vector<double> xs = {-2.0, -0.3, 0.1, 0.7, 1.9};
  for (DType t : {DType::F16, DType::BF16}) {
    Tensor x = vec(xs, t);
    std::vector<float> in = x.to_vector<float>();  // the values after rounding to 16 bits
    std::vector<float> got = exp(x).to_vector<float>();
    EXPECT_EQ(exp(x).dtype(), t);
    for (size_t i = 0; i < xs.size(); ++i) {
      float want = t == DType::F16 ? static_cast<float>(Half(std::exp(in[i])))
                                   : static_cast<float>(BFloat16(std::exp(in[i])));
      EXPECT_EQ(got[i], want) << t << " exp(" << in[i] << ")";
    }
    std::vector<float> sum = add(x, x).to_vector<float>();
    for (size_t i = 0; i < xs.size(); ++i) EXPECT_EQ(sum[i], 2 * in[i]);
  }
}

// ---- NaN --------------------------------------------------------------------------------------

TEST(NaN, ClampMaximumMinimumAndReluPropagateIt) {
  for (DType t : {DType::F32, DType::F64}) {
    Tensor x = vec({kNaN, 1.0, kNaN, 5.0}, t);
    Tensor y = vec({2.0, kNaN, kNaN, 3.0}, t);
    std::vector<double> mx = maximum(x, y).to_vector<double>();
    std::vector<double> mn = minimum(x, y).to_vector<double>();
    for (int i = 0; i < 3; ++i) {
      EXPECT_TRUE(std::isnan(mx[i])) << "maximum, element " << i << ", " << t;
      EXPECT_TRUE(std::isnan(mn[i])) << "minimum, element " << i << ", " << t;
    }
    EXPECT_EQ(mx[3], 5.0);
    EXPECT_EQ(mn[3], 3.0);
    for (const Tensor& c : {clamp(x, 0.0, 2.0), clamp(x, 0.0, std::nullopt), clamp(x, std::nullopt, 2.0)}) {
      std::vector<double> v = c.to_vector<double>();
      EXPECT_TRUE(std::isnan(v[0]) && std::isnan(v[2])) << t;
    }
    // torch.relu(nan) is nan.
    EXPECT_TRUE(std::isnan(relu(vec({kNaN}, t)).item())) << t;
  }
}

TEST(NaN, PredicatesReturnBool) {
  Tensor x = vec({kNaN, INFINITY, -INFINITY, 0.0, -2.5}, DType::F32);
  EXPECT_EQ(bools(isnan(x)), (std::vector<bool>{true, false, false, false, false}));
  EXPECT_EQ(bools(isinf(x)), (std::vector<bool>{false, true, true, false, false}));
  EXPECT_EQ(bools(isfinite(x)), (std::vector<bool>{false, false, false, true, true}));
  // logical_not(NaN) is false: NaN is nonzero.
  EXPECT_EQ(bools(logical_not(x)), (std::vector<bool>{false, false, false, true, false}));
  // Integers are always finite.
  Tensor i = vec({1, -7}, DType::I64);
  EXPECT_EQ(bools(isnan(i)), (std::vector<bool>{false, false}));
  EXPECT_EQ(bools(isinf(i)), (std::vector<bool>{false, false}));
  EXPECT_EQ(bools(isfinite(i)), (std::vector<bool>{true, true}));
  // Comparisons with NaN are false, except !=.
  Tensor n = vec({kNaN});
  EXPECT_EQ(bools(eq(n, n)), std::vector<bool>{false});
  EXPECT_EQ(bools(ne(n, n)), std::vector<bool>{true});
  EXPECT_EQ(bools(lt(n, 1.0)), std::vector<bool>{false});
}

// ---- binary ops -------------------------------------------------------------------------------

TEST(Binary, ArithmeticAgainstStd) {
  std::vector<double> a = {-3.5, -1.0, 0.0, 0.25, 2.0, 7.5};
  std::vector<double> b = {2.0, -0.5, 3.0, 4.0, -1.5, 0.75};
  check_binary(
      "add", [](const Tensor& x, const Tensor& y) { return add(x, y); }, [](auto x, auto y) { return x + y; },
      a, b);
  check_binary(
      "sub", [](const Tensor& x, const Tensor& y) { return sub(x, y); }, [](auto x, auto y) { return x - y; },
      a, b);
  check_binary(
      "mul", [](const Tensor& x, const Tensor& y) { return mul(x, y); }, [](auto x, auto y) { return x * y; },
      a, b);
  check_binary(
      "div", [](const Tensor& x, const Tensor& y) { return div(x, y); }, [](auto x, auto y) { return x / y; },
      a, b);
  check_binary(
      "maximum", [](const Tensor& x, const Tensor& y) { return maximum(x, y); },
      [](auto x, auto y) { return std::max(x, y); }, a, b);
  check_binary(
      "minimum", [](const Tensor& x, const Tensor& y) { return minimum(x, y); },
      [](auto x, auto y) { return std::min(x, y); }, a, b);
  check_binary(
      "atan2", [](const Tensor& x, const Tensor& y) { return atan2(x, y); },
      [](auto x, auto y) { return std::atan2(x, y); }, a, b);
  // Python's %: x - y * floor(x / y), the sign of the divisor.
  check_binary(
      "remainder", [](const Tensor& x, const Tensor& y) { return remainder(x, y); },
      [](auto x, auto y) { return x - y * std::floor(x / y); }, a, b);
  check_binary(
      "pow", [](const Tensor& x, const Tensor& y) { return pow(x, y); },
      [](auto x, auto y) { return std::pow(x, y); }, {0.5, 2.0, 3.0, 1.5, 10.0}, {2.0, -1.0, 0.5, 3.0, -2.0});
  check_binary(
      "add alpha", [](const Tensor& x, const Tensor& y) { return add(x, y, 2.5); },
      [](auto x, auto y) { return x + decltype(x)(2.5) * y; }, a, b);
  check_binary(
      "sub alpha", [](const Tensor& x, const Tensor& y) { return sub(x, y, 3); },
      [](auto x, auto y) { return x - 3 * y; }, a, b);
}

TEST(Binary, RemainderTakesTheSignOfTheDivisor) {
  // Hand values: -7.5 % 2 = 0.5, 7.5 % 2 = 1.5, -7.5 % -2 = -1.5, 7.5 % -2 = -0.5.
  EXPECT_EQ(remainder(vec({-7.5, 7.5}), 2.0).to_vector<double>(), (std::vector<double>{0.5, 1.5}));
  EXPECT_EQ(remainder(vec({-7.5, 7.5}), -2.0).to_vector<double>(), (std::vector<double>{-1.5, -0.5}));
  Tensor ai = vec({-7, 7, -7, 7, 6}, DType::I64), bi = vec({2, -2, -2, 2, 3}, DType::I64);
  Tensor r = remainder(ai, bi);
  EXPECT_EQ(r.dtype(), DType::I64);
  EXPECT_EQ(r.to_vector<int64_t>(), (std::vector<int64_t>{1, -1, -1, 1, 0}));
  EXPECT_EQ(remainder(vec({-7, 7}, DType::I32), 3).to_vector<int32_t>(), (std::vector<int32_t>{2, 1}));
}

TEST(Binary, BackwardHelperFunctors) {
  // The fused gradient kernels: g * (y > 0), g * (1 - y^2), g * y * (1 - y).
  Tensor g = vec({1.0, 2.0, -3.0}), y = vec({0.5, -0.25, 0.0});
  auto run = [&](kernels::BinaryOp op) {
    Tensor out = Tensor::empty({3}, DType::F64);
    kernels::binary(op, g, y, out);
    return out.to_vector<double>();
  };
  EXPECT_EQ(run(kernels::BinaryOp::ReluBackward), (std::vector<double>{1.0, 0.0, 0.0}));
  EXPECT_EQ(run(kernels::BinaryOp::TanhBackward), (std::vector<double>{0.75, 2.0 * (1 - 0.0625), -3.0}));
  EXPECT_EQ(run(kernels::BinaryOp::SigmoidBackward), (std::vector<double>{0.25, 2.0 * -0.25 * 1.25, 0.0}));
}

// ---- integers and bools -----------------------------------------------------------------------

TEST(Integer, TrueDivisionPromotesToFloat) {
  Tensor a = vec({1, 7, -7}, DType::I64), b = vec({2, 2, 2}, DType::I64);
  Tensor q = div(a, b);
  EXPECT_EQ(q.dtype(), DType::F32);
  EXPECT_EQ(q.to_vector<double>(), (std::vector<double>{0.5, 3.5, -3.5}));
  EXPECT_EQ((a / 4).dtype(), DType::F32);
  EXPECT_EQ((a / 4).to_vector<double>(), (std::vector<double>{0.25, 1.75, -1.75}));
  EXPECT_EQ((2 / vec({4, 8}, DType::I32)).to_vector<double>(), (std::vector<double>{0.5, 0.25}));
  // f64 stays f64.
  EXPECT_EQ(div(a, vec({2}, DType::F64)).dtype(), DType::F64);
}

TEST(Integer, ArithmeticStaysIntegral) {
  Tensor a = vec({5, -3, 12}, DType::I64), b = vec({2, 4, -5}, DType::I64);
  EXPECT_EQ(add(a, b).dtype(), DType::I64);
  EXPECT_EQ(add(a, b).to_vector<int64_t>(), (std::vector<int64_t>{7, 1, 7}));
  EXPECT_EQ(mul(a, b).to_vector<int64_t>(), (std::vector<int64_t>{10, -12, -60}));
  EXPECT_EQ(abs(a).to_vector<int64_t>(), (std::vector<int64_t>{5, 3, 12}));
  EXPECT_EQ(neg(a).to_vector<int64_t>(), (std::vector<int64_t>{-5, 3, -12}));
  EXPECT_EQ(sign(a).to_vector<int64_t>(), (std::vector<int64_t>{1, -1, 1}));
  EXPECT_EQ(maximum(a, b).to_vector<int64_t>(), (std::vector<int64_t>{5, 4, 12}));
  EXPECT_EQ(relu(a).to_vector<int64_t>(), (std::vector<int64_t>{5, 0, 12}));
  EXPECT_EQ(square(a).to_vector<int64_t>(), (std::vector<int64_t>{25, 9, 144}));
  EXPECT_EQ(floor(a).to_vector<int64_t>(), a.to_vector<int64_t>());
  // uint8 wraps around: 5 - 7 = 254.
  EXPECT_EQ(sub(vec({5}, DType::U8), vec({7}, DType::U8)).to_vector<int>(), std::vector<int>{254});
  // int32 with an int64 tensor is int64; with an int scalar it stays int32.
  EXPECT_EQ(add(vec({1}, DType::I32), vec({1}, DType::I64)).dtype(), DType::I64);
  EXPECT_EQ(add(vec({1}, DType::I32), 5).dtype(), DType::I32);
  // A float scalar makes the result the default float.
  Tensor h = add(a, 0.5);
  EXPECT_EQ(h.dtype(), DType::F32);
  EXPECT_EQ(h.to_vector<double>(), (std::vector<double>{5.5, -2.5, 12.5}));
  // Transcendental ops on integers compute in float32, as torch.exp(int tensor).
  EXPECT_EQ(exp(vec({0, 1}, DType::I64)).dtype(), DType::F32);
  EXPECT_FLOAT_EQ(exp(vec({0, 1}, DType::I64)).to_vector<float>()[1], std::exp(1.0f));
  EXPECT_EQ(sqrt(vec({4, 9}, DType::I32)).to_vector<double>(), (std::vector<double>{2, 3}));
}

TEST(Integer, PowOnIntegers) {
  Tensor p = pow(vec({2, 3, -2, 0, 5}, DType::I64), vec({3, 2, 3, 0, 1}, DType::I64));
  EXPECT_EQ(p.dtype(), DType::I64);
  EXPECT_EQ(p.to_vector<int64_t>(), (std::vector<int64_t>{8, 9, -8, 1, 5}));
  // Negative integer exponents of tensors: 1 and -1 keep their magnitude, others give 0.
  Tensor n = pow(vec({-1, -1, 2, 1}, DType::I64), vec({-1, -2, -1, -3}, DType::I64));
  EXPECT_EQ(n.to_vector<int64_t>(), (std::vector<int64_t>{-1, 1, 0, 1}));
  EXPECT_EQ(pow(vec({3, -4}, DType::I32), 2).to_vector<int32_t>(), (std::vector<int32_t>{9, 16}));
  EXPECT_EQ(pow(vec({3, -4}, DType::I32), 3).to_vector<int32_t>(), (std::vector<int32_t>{27, -64}));
  EXPECT_EQ(pow(vec({3, -4}, DType::I32), 2).dtype(), DType::I32);
  // A float exponent gives a float result; an int base with an int tensor exponent stays int.
  Tensor f = pow(vec({4, 9}, DType::I64), 0.5);
  EXPECT_EQ(f.dtype(), DType::F32);
  EXPECT_EQ(f.to_vector<double>(), (std::vector<double>{2, 3}));
  Tensor s = pow(2, vec({1, 2, 3}, DType::I64));
  EXPECT_EQ(s.dtype(), DType::I64);
  EXPECT_EQ(s.to_vector<int64_t>(), (std::vector<int64_t>{2, 4, 8}));
  EXPECT_EQ(pow(2.0, vec({1, 2}, DType::I64)).dtype(), DType::F32);
  EXPECT_EQ(pow(2.0, vec({-1, 0.5})).to_vector<double>(), (std::vector<double>{0.5, std::sqrt(2.0)}));
  // torch: "Integers to negative integer powers are not allowed."
  expect_error<ValueError>([] { pow(vec({2}, DType::I64), -1); }, {"pow", "negative"});
}

TEST(Integer, ClampWithFractionalBoundsPromotes) {
  // torch.clamp(tensor([1, 2, 3]), min=1.5) is tensor([1.5, 2., 3.]).
  Tensor y = clamp(vec({1, 2, 3}, DType::I64), 1.5, std::nullopt);
  EXPECT_EQ(y.dtype(), DType::F32);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{1.5, 2, 3}));
  // Whole bounds keep the integer dtype.
  Tensor z = clamp(vec({-5, 2, 9}, DType::I32), 0.0, 4.0);
  EXPECT_EQ(z.dtype(), DType::I32);
  EXPECT_EQ(z.to_vector<int32_t>(), (std::vector<int32_t>{0, 2, 4}));
}

TEST(Bool, ComparisonsReturnBool) {
  Tensor a = vec({1, 2, 3}), b = vec({3, 2, 1});
  EXPECT_EQ(bools(eq(a, b)), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(bools(ne(a, b)), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(bools(lt(a, b)), (std::vector<bool>{true, false, false}));
  EXPECT_EQ(bools(le(a, b)), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(bools(gt(a, b)), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(bools(ge(a, b)), (std::vector<bool>{false, true, true}));
  EXPECT_EQ(bools(a == 2), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(bools(a != 2), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(bools(a < 2), (std::vector<bool>{true, false, false}));
  EXPECT_EQ(bools(a <= 2), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(bools(a > 2), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(bools(a >= 2), (std::vector<bool>{false, true, true}));
  EXPECT_EQ(bools(a == b), bools(eq(a, b)));
  EXPECT_EQ(bools(a < b), bools(lt(a, b)));
  // An integer tensor against a fractional scalar compares in float: 1 < 1.5, 2 > 1.5.
  Tensor i = vec({1, 2}, DType::I64);
  EXPECT_EQ(bools(lt(i, 1.5)), (std::vector<bool>{true, false}));
  EXPECT_EQ(bools(eq(i, 1.5)), (std::vector<bool>{false, false}));
  // Mixed dtypes promote before comparing: int 1 == float 1.0.
  EXPECT_EQ(bools(eq(i, vec({1.0, 2.5}))), (std::vector<bool>{true, false}));
}

TEST(Bool, LogicalOpsTreatNonzeroAsTrue) {
  Tensor a = vec({0, 0, 1.5, -2}), b = vec({0, 3, 0, 0.5});
  EXPECT_EQ(bools(logical_and(a, b)), (std::vector<bool>{false, false, false, true}));
  EXPECT_EQ(bools(logical_or(a, b)), (std::vector<bool>{false, true, true, true}));
  EXPECT_EQ(bools(logical_xor(a, b)), (std::vector<bool>{false, true, true, false}));
  EXPECT_EQ(bools(logical_not(a)), (std::vector<bool>{true, true, false, false}));
  EXPECT_EQ(bools(a && b), bools(logical_and(a, b)));
  EXPECT_EQ(bools(a || b), bools(logical_or(a, b)));
  EXPECT_EQ(bools(!a), bools(logical_not(a)));
  Tensor t = vec({1, 0, 1}, DType::Bool), f = vec({1, 1, 0}, DType::Bool);
  EXPECT_EQ(bools(logical_and(t, f)), (std::vector<bool>{true, false, false}));
  EXPECT_EQ(bools(maximum(t, f)), (std::vector<bool>{true, true, true}));
}

TEST(Where, SelectsAndPromotes) {
  Tensor c = vec({1, 0, 1}, DType::Bool);
  Tensor y = where(c, vec({1, 2, 3}), vec({-1, -2, -3}));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{1, -2, 3}));
  // (3, 1) condition, (1, 2) and 0-dim values broadcast to (3, 2); int and f64 promote to f64.
  Tensor w =
      where(c.reshape({3, 1}), vec({10, 20}, DType::I64).reshape({1, 2}), scalar_tensor(0.5, DType::F64));
  EXPECT_EQ(w.sizes(), (Shape{3, 2}));
  EXPECT_EQ(w.dtype(), DType::F64);
  EXPECT_EQ(w.to_vector<double>(), (std::vector<double>{10, 20, 0.5, 0.5, 10, 20}));
  EXPECT_EQ(where(c, vec({1, 2, 3}), 9.0).to_vector<double>(), (std::vector<double>{1, 9, 3}));
  expect_error<DTypeError>(
      [] {
        where(vec({1, 0}), vec({1, 2}), vec({3, 4}));
      },
      {"where", "bool", "float64"});
}

// ---- broadcasting and strides -----------------------------------------------------------------

TEST(Broadcast, ColumnAgainstRow) {
  Tensor a = vec({1, 2, 3}).reshape({3, 1});
  Tensor b = vec({10, 20, 30, 40}).reshape({1, 4});
  Tensor y = a * b + a;
  EXPECT_EQ(y.sizes(), (Shape{3, 4}));
  std::vector<double> got = y.to_vector<double>();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_EQ(got[i * 4 + j], (i + 1) * 10.0 * (j + 1) + (i + 1));
}

TEST(Broadcast, TrailingVectorAgainstThreeDims) {
  Tensor a = arange(0, 24, 1, DType::F64).reshape({2, 3, 4});
  Tensor b = vec({1, -1, 2, -2});
  std::vector<double> got = sub(a, b).to_vector<double>();
  EXPECT_EQ(sub(a, b).sizes(), (Shape{2, 3, 4}));
  const double bv[4] = {1, -1, 2, -2};
  for (int k = 0; k < 24; ++k) EXPECT_EQ(got[k], k - bv[k % 4]);
  std::vector<double> rev = sub(b, a).to_vector<double>();
  for (int k = 0; k < 24; ++k) EXPECT_EQ(rev[k], bv[k % 4] - k);
}

TEST(Broadcast, ZeroDimAgainstNDim) {
  Tensor s = scalar_tensor(3, DType::F64);
  Tensor m = arange(0, 6, 1, DType::F64).reshape({2, 3});
  EXPECT_EQ(mul(s, m).sizes(), (Shape{2, 3}));
  EXPECT_EQ(mul(s, m).to_vector<double>(), (std::vector<double>{0, 3, 6, 9, 12, 15}));
  EXPECT_EQ(sub(m, s).to_vector<double>(), (std::vector<double>{-3, -2, -1, 0, 1, 2}));
  Tensor both = add(s, s);
  EXPECT_EQ(both.dim(), 0);
  EXPECT_EQ(both.item(), 6.0);
  // Broadcasting against an empty dim gives an empty result.
  EXPECT_EQ(add(Tensor::empty({0, 3}, DType::F64), vec({1, 2, 3})).sizes(), (Shape{0, 3}));
}

TEST(Strided, TransposedAndSteppedInputs) {
  Tensor m = arange(0, 12, 1, DType::F64).reshape({3, 4});
  Tensor t = m.t();  // (4, 3): element (i, j) = 4 j + i
  Tensor y = add(t, t.contiguous());
  EXPECT_EQ(y.sizes(), (Shape{4, 3}));
  std::vector<double> got = y.to_vector<double>();
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_EQ(got[i * 3 + j], 2.0 * (4 * j + i));
  // Every other column (1, 3) of each row: 1, 3, 5, 7, 9, 11.
  Tensor s = m.slice(1, 1, 4, 2);
  EXPECT_EQ(mul(s, 2).to_vector<double>(), (std::vector<double>{2, 6, 10, 14, 18, 22}));
  EXPECT_EQ(exp(s).to_vector<double>()[5], std::exp(11.0));
  // A transposed operand against a stepped one.
  Tensor u = arange(0, 16, 1, DType::F64).reshape({4, 4}).slice(0, 0, 4, 2);  // rows 0 and 2
  Tensor v = arange(0, 8, 1, DType::F64).reshape({4, 2}).t();                 // (2, 4)
  std::vector<double> uv = mul(u, v).to_vector<double>();
  // u = [[0..3], [8..11]], v = [[0, 2, 4, 6], [1, 3, 5, 7]].
  EXPECT_EQ(uv, (std::vector<double>{0, 2, 8, 18, 8, 27, 50, 77}));
}

TEST(Strided, LargeStridedLoopAcrossThreadChunks) {
  // Over 32768 elements the CPU driver splits the range between threads; chunks start in the
  // middle of rows, so each must find its multi-index and strides itself.
  const int64_t r = 301, c = 257;
  Tensor base = arange(0, r * c, 1, DType::F64).reshape({r, c});
  Tensor t = base.t();  // (257, 301), strides (1, 257)
  Tensor y = add(t, mul(t, 0.5));
  std::vector<double> got = y.to_vector<double>();
  for (int64_t i = 0; i < c; ++i)
    for (int64_t j = 0; j < r; ++j)
      ASSERT_EQ(got[i * r + j], 1.5 * static_cast<double>(j * c + i)) << i << "," << j;
  // And writing into a strided output.
  Tensor out = Tensor::empty({r, c}, DType::F64).t();
  kernels::unary(kernels::UnaryOp::Neg, t, out);
  std::vector<double> neg_got = out.to_vector<double>();
  for (int64_t k = 0; k < r * c; k += 97) ASSERT_EQ(neg_got[k], -got[k] / 1.5);
}

// ---- scalars and operators --------------------------------------------------------------------

TEST(Scalar, OverloadsAndOperators) {
  Tensor a = vec({1, 2, 4});
  EXPECT_EQ((a + 2).to_vector<double>(), (std::vector<double>{3, 4, 6}));
  EXPECT_EQ((2 + a).to_vector<double>(), (std::vector<double>{3, 4, 6}));
  EXPECT_EQ((a - 2).to_vector<double>(), (std::vector<double>{-1, 0, 2}));
  EXPECT_EQ((2 - a).to_vector<double>(), (std::vector<double>{1, 0, -2}));
  EXPECT_EQ(rsub(a, 2).to_vector<double>(), (std::vector<double>{1, 0, -2}));
  EXPECT_EQ((a * 1.5).to_vector<double>(), (std::vector<double>{1.5, 3, 6}));
  EXPECT_EQ((1.5 * a).to_vector<double>(), (std::vector<double>{1.5, 3, 6}));
  EXPECT_EQ((a / 4).to_vector<double>(), (std::vector<double>{0.25, 0.5, 1}));
  EXPECT_EQ((4 / a).to_vector<double>(), (std::vector<double>{4, 2, 1}));
  EXPECT_EQ(rdiv(a, 4).to_vector<double>(), (std::vector<double>{4, 2, 1}));
  EXPECT_EQ((-a).to_vector<double>(), (std::vector<double>{-1, -2, -4}));
  EXPECT_EQ((a + a).to_vector<double>(), (std::vector<double>{2, 4, 8}));
  EXPECT_EQ((a - a).to_vector<double>(), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ((a * a).to_vector<double>(), (std::vector<double>{1, 4, 16}));
  EXPECT_EQ((a / a).to_vector<double>(), (std::vector<double>{1, 1, 1}));
  // The scalar never widens a float tensor: f32 * 0.1 stays f32 (the scalar rounds to f32).
  Tensor f = vec({3}, DType::F32);
  EXPECT_EQ((f * 0.1).dtype(), DType::F32);
  EXPECT_EQ((f * 0.1).to_vector<float>()[0], 3.0f * 0.1f);
  EXPECT_EQ((vec({1}, DType::F16) + 2.5).dtype(), DType::F16);
  // A bool scalar with an int tensor keeps the tensor's type.
  EXPECT_EQ(add(vec({1}, DType::I32), true).dtype(), DType::I32);
}

// ---- errors -----------------------------------------------------------------------------------

TEST(Errors, IncompatibleBroadcastNamesOpAndShapes) {
  expect_error<ShapeError>([] { add(Tensor::empty({2, 3}), Tensor::empty({4})); }, {"add", "[2, 3]", "[4]"});
  expect_error<ShapeError>([] { mul(Tensor::empty({3}), Tensor::empty({2, 2})); }, {"mul", "[3]", "[2, 2]"});
  expect_error<ShapeError>(
      [] {
        maximum(Tensor::empty({5, 1}), Tensor::empty({3, 4}));
      },
      {"maximum", "[5, 1]", "[3, 4]"});
  expect_error<ShapeError>([] { eq(Tensor::empty({2}), Tensor::empty({3})); }, {"eq", "[2]", "[3]"});
  expect_error<ShapeError>(
      [] {
        where(vec({1, 0}, DType::Bool), vec({1, 2, 3}), vec({1}));
      },
      {"where", "[2]", "[3]"});
}

TEST(Errors, DeviceMismatchNamesOpAndDevices) {
  Tensor gpu = fake_cuda({3});
  expect_error<DeviceError>([&] { add(Tensor::empty({3}), gpu); }, {"add", "cpu", "cuda:0"});
  expect_error<DeviceError>([&] { mul(gpu, Tensor::empty({3})); }, {"mul", "cpu", "cuda:0"});
  Tensor out = Tensor::empty({3});
  expect_error<DeviceError>([&] { kernels::unary(kernels::UnaryOp::Exp, gpu, out); },
                            {"exp", "cpu", "cuda:0"});
}

TEST(Errors, DtypeMismatchAtTheKernelNamesOpAndDtypes) {
  // The ops promote; the kernels insist on one dtype and say which.
  Tensor a = Tensor::empty({2}, DType::F32), b = Tensor::empty({2}, DType::F64);
  expect_error<DTypeError>(
      [&] { kernels::binary(kernels::BinaryOp::Add, a, b, Tensor::empty({2}, DType::F32)); },
      {"add", "float32", "float64"});
  expect_error<DTypeError>([&] { kernels::unary(kernels::UnaryOp::Exp, a, Tensor::empty({2}, DType::I64)); },
                           {"exp", "float32", "int64"});
  expect_error<DTypeError>(
      [&] { kernels::binary(kernels::BinaryOp::Lt, a, a, Tensor::empty({2}, DType::F32)); },
      {"lt", "bool", "float32"});
  // Ops undefined on a dtype say so.
  expect_error<DTypeError>([] { neg(vec({1, 0}, DType::Bool)); }, {"neg", "bool"});
}
