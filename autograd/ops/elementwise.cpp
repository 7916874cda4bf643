// Elementwise ops: type promotion, forward through kernels/, backward beside each forward.
#include <cmath>

#include "autograd/function.h"
#include "autograd/ops.h"
#include "kernels/elementwise.h"
#include "kernels/plan.h"

namespace hmr {

using kernels::BinaryOp;
using kernels::UnaryOp;

namespace {

// A raw dtype conversion (no history): the kernels need one dtype per call.
Tensor as_dtype(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  Tensor out = Tensor::empty(t.sizes(), dtype, t.device());
  kernels::copy(out, t);
  return out;
}

// A 0-dim CPU tensor may meet a CUDA tensor (as in PyTorch); it moves to the other's device.
void align_devices(const char* op, Tensor& a, Tensor& b) {
  if (a.device() == b.device()) return;
  if (a.dim() == 0 && a.device().is_cpu()) a = a.to(b.device());
  else if (b.dim() == 0 && b.device().is_cpu()) b = b.to(a.device());
  HMR_CHECK(a.device() == b.device(), DeviceError, op, ": expected both tensors on one device but found ",
            a.device(), " and ", b.device());
}

Tensor binary_forward(BinaryOp op, Tensor a, Tensor b, DType compute) {
  const char* name = kernels::op_name(op);
  align_devices(name, a, b);
  Shape shape = kernels::broadcast_shapes(a.sizes(), b.sizes(), name);
  Tensor out = Tensor::empty(shape, kernels::returns_bool(op) ? DType::Bool : compute, a.device());
  kernels::binary(op, as_dtype(a, compute), as_dtype(b, compute), out);
  return out;
}

Tensor scalar_forward(BinaryOp op, const Tensor& a, double s, bool scalar_first, DType compute) {
  Tensor out = Tensor::empty(a.sizes(), kernels::returns_bool(op) ? DType::Bool : compute, a.device());
  kernels::binary_scalar(op, as_dtype(a, compute), s, scalar_first, out);
  return out;
}

DType floating_of(DType t) { return is_floating(t) ? t : kDefaultFloat; }

Tensor unary_forward(UnaryOp op, const Tensor& x, DType compute, kernels::UnaryParams p = {}) {
  Tensor out = Tensor::empty(x.sizes(), kernels::returns_bool(op) ? DType::Bool : compute, x.device());
  kernels::unary(op, as_dtype(x, compute), out, p);
  return out;
}

// Ops defined on floats only promote integers to the default float (torch.exp(int) is float32).
Tensor float_unary(UnaryOp op, const Tensor& x, kernels::UnaryParams p = {}) {
  return unary_forward(op, x, floating_of(x.dtype()), p);
}

Tensor binary_raw(BinaryOp op, const Tensor& a, const Tensor& b) {
  return binary_forward(op, a, b, result_type(a, b));
}

}  // namespace

// ---- arithmetic -----------------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  double al = alpha.to_double();
  Tensor bb = al == 1.0 ? b : mul(b, alpha);
  Tensor y = binary_raw(BinaryOp::Add, a, bb);
  return record("add", {a, bb}, y, [](const Tensor& g) { return std::vector<Tensor>{g, g}; });
}

Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  double al = alpha.to_double();
  Tensor bb = al == 1.0 ? b : mul(b, alpha);
  Tensor y = binary_raw(BinaryOp::Sub, a, bb);
  return record("sub", {a, bb}, y, [](const Tensor& g) { return std::vector<Tensor>{g, neg(g)}; });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = binary_raw(BinaryOp::Mul, a, b);
  SavedTensor sa(a.requires_grad() ? b : Tensor(), "mul other"), sb(b.requires_grad() ? a : Tensor(), "mul self");
  return record("mul", {a, b}, y, [sa, sb](const Tensor& g) {
    Tensor other = sa.unpack(), self = sb.unpack();
    return std::vector<Tensor>{other.defined() ? mul(g, other) : Tensor(),
                               self.defined() ? mul(g, self) : Tensor()};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward(BinaryOp::Div, a, b, floating_of(result_type(a, b)));
  SavedTensor sb(b, "div other"), sy(b.requires_grad() ? y : Tensor(), "div result");
  return record("div", {a, b}, y, [sb, sy](const Tensor& g) {
    Tensor other = sb.unpack();
    Tensor ga = div(g, other);
    Tensor gb = sy.defined() ? neg(mul(ga, sy.unpack())) : Tensor();
    return std::vector<Tensor>{ga, gb};
  });
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor y = binary_raw(BinaryOp::Pow, a, b);
  SavedTensor sa(a, "pow self"), sb(b, "pow exponent"), sy(y, "pow result");
  return record("pow", {a, b}, y, [sa, sb, sy](const Tensor& g) {
    Tensor base = sa.unpack(), e = sb.unpack(), r = sy.unpack();
    Tensor ga = mul(mul(g, e), pow(base, sub(e, 1)));
    // d/de base^e = base^e log(base); 0 where base == 0 and e >= 0 (PyTorch's convention).
    Tensor gb = mul(mul(g, r), log(base));
    gb = where(logical_and(eq(base, 0), ge(e, 0)), zeros_like(gb), gb);
    return std::vector<Tensor>{ga, gb};
  });
}

Tensor add(const Tensor& a, const Scalar& b) {
  DType t = result_type(a, b);
  Tensor y = scalar_forward(BinaryOp::Add, a, b.to_double(), false, t);
  return record("add", {a}, y, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor sub(const Tensor& a, const Scalar& b) {
  Tensor y = scalar_forward(BinaryOp::Sub, a, b.to_double(), false, result_type(a, b));
  return record("sub", {a}, y, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor rsub(const Tensor& a, const Scalar& b) {
  Tensor y = scalar_forward(BinaryOp::Sub, a, b.to_double(), true, result_type(a, b));
  return record("rsub", {a}, y, [](const Tensor& g) { return std::vector<Tensor>{neg(g)}; });
}

Tensor mul(const Tensor& a, const Scalar& b) {
  Tensor y = scalar_forward(BinaryOp::Mul, a, b.to_double(), false, result_type(a, b));
  return record("mul", {a}, y, [b](const Tensor& g) { return std::vector<Tensor>{mul(g, b)}; });
}

Tensor div(const Tensor& a, const Scalar& b) {
  Tensor y = scalar_forward(BinaryOp::Div, a, b.to_double(), false, floating_of(result_type(a, b)));
  return record("div", {a}, y, [b](const Tensor& g) { return std::vector<Tensor>{div(g, b)}; });
}

Tensor rdiv(const Tensor& a, const Scalar& b) {
  Tensor y = scalar_forward(BinaryOp::Div, a, b.to_double(), true, floating_of(result_type(a, b)));
  SavedTensor sa(a, "rdiv self"), sy(y, "rdiv result");
  return record("rdiv", {a}, y, [sa, sy](const Tensor& g) {
    return std::vector<Tensor>{neg(div(mul(g, sy.unpack()), sa.unpack()))};
  });
}

Tensor pow(const Tensor& a, const Scalar& exponent) {
  double e = exponent.to_double();
  HMR_CHECK(!(is_integral(a.dtype(), true) && !exponent.is_floating() && e < 0), ValueError,
            "pow: integers to negative integer powers are not allowed (", a.dtype(), " tensor, exponent ", e,
            ")");
  DType t = exponent.is_floating() ? floating_of(result_type(a, exponent)) : result_type(a, exponent);
  Tensor y = e == 2.0 ? unary_forward(UnaryOp::Square, a, t)
                      : scalar_forward(BinaryOp::Pow, a, e, false, t);
  SavedTensor sa(a, "pow self");
  return record("pow", {a}, y, [sa, e](const Tensor& g) {
    if (e == 0.0) return std::vector<Tensor>{zeros_like(g)};
    Tensor x = sa.unpack();
    Tensor d = e == 2.0 ? mul(x, 2.0) : mul(pow(x, e - 1.0), e);
    return std::vector<Tensor>{mul(g, d)};
  });
}

Tensor pow(const Scalar& base, const Tensor& exponent) {
  // torch.pow(2, int tensor) stays integral; a float base promotes through result_type.
  DType t = result_type(exponent, base);
  Tensor y = scalar_forward(BinaryOp::Pow, exponent, base.to_double(), true, t);
  SavedTensor sy(y, "pow result");
  double lb = std::log(base.to_double());
  return record("pow", {exponent}, y, [sy, lb](const Tensor& g) {
    return std::vector<Tensor>{mul(mul(g, sy.unpack()), lb)};
  });
}

namespace {
// max/min: the gradient goes to the selected input; ties split it evenly (PyTorch >= 1.7).
Tensor extremum(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  Tensor y = binary_raw(op, a, b);
  SavedTensor sa(a, name), sb(b, name);
  bool is_max = op == BinaryOp::Maximum;
  return record(name, {a, b}, y, [sa, sb, is_max](const Tensor& g) {
    Tensor x = sa.unpack(), z = sb.unpack();
    Tensor half = mul(g, 0.5);
    Tensor zero = zeros_like(g);
    Tensor a_wins = is_max ? gt(x, z) : lt(x, z);
    Tensor b_wins = is_max ? lt(x, z) : gt(x, z);
    Tensor tie = eq(x, z);
    Tensor ga = where(a_wins, g, where(tie, half, zero));
    Tensor gb = where(b_wins, g, where(tie, half, zero));
    return std::vector<Tensor>{ga, gb};
  });
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum(BinaryOp::Maximum, "maximum", a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum(BinaryOp::Minimum, "minimum", a, b); }

Tensor atan2(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward(BinaryOp::Atan2, a, b, floating_of(result_type(a, b)));
  SavedTensor sa(a, "atan2 self"), sb(b, "atan2 other");
  return record("atan2", {a, b}, y, [sa, sb](const Tensor& g) {
    Tensor x = sa.unpack(), z = sb.unpack();
    Tensor r = add(mul(x, x), mul(z, z));
    return std::vector<Tensor>{div(mul(g, z), r), neg(div(mul(g, x), r))};
  });
}

Tensor remainder(const Tensor& a, const Tensor& b) {
  Tensor y = binary_raw(BinaryOp::Remainder, a, b);
  SavedTensor sa(a, "remainder self"), sb(b, "remainder other");
  return record("remainder", {a, b}, y, [sa, sb](const Tensor& g) {
    return std::vector<Tensor>{g, neg(mul(g, floor(div(sa.unpack(), sb.unpack()))))};
  });
}

Tensor remainder(const Tensor& a, const Scalar& b) {
  Tensor y = scalar_forward(BinaryOp::Remainder, a, b.to_double(), false, result_type(a, b));
  return record("remainder", {a}, y, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

// ---- unary ----------------------------------------------------------------------------------

namespace {
// d/dx f(x) given x and y = f(x) (either may be unused).
template <class D>
Tensor unary_op(const char* name, UnaryOp op, const Tensor& x, bool floating, bool save_x, bool save_y,
                D derivative, kernels::UnaryParams p = {}) {
  Tensor y = floating ? float_unary(op, x, p) : unary_forward(op, x, x.dtype(), p);
  SavedTensor sx(save_x ? x : Tensor(), name), sy(save_y ? y : Tensor(), name);
  return record(name, {x}, y, [sx, sy, derivative](const Tensor& g) {
    return std::vector<Tensor>{derivative(g, sx.unpack(), sy.unpack())};
  });
}
constexpr bool kFloat = true, kSame = false, kX = true, kNoX = false, kY = true, kNoY = false;
}  // namespace

Tensor neg(const Tensor& x) {
  return unary_op("neg", UnaryOp::Neg, x, kSame, kNoX, kNoY, [](const Tensor& g, const Tensor&, const Tensor&) { return neg(g); });
}
Tensor abs(const Tensor& x) {
  return unary_op("abs", UnaryOp::Abs, x, kSame, kX, kNoY, [](const Tensor& g, const Tensor& x, const Tensor&) { return mul(g, sign(x)); });
}
Tensor exp(const Tensor& x) {
  return unary_op("exp", UnaryOp::Exp, x, kFloat, kNoX, kY, [](const Tensor& g, const Tensor&, const Tensor& y) { return mul(g, y); });
}
Tensor expm1(const Tensor& x) {
  return unary_op("expm1", UnaryOp::Expm1, x, kFloat, kNoX, kY, [](const Tensor& g, const Tensor&, const Tensor& y) { return mul(g, add(y, 1)); });
}
Tensor log(const Tensor& x) {
  return unary_op("log", UnaryOp::Log, x, kFloat, kX, kNoY, [](const Tensor& g, const Tensor& x, const Tensor&) { return div(g, x); });
}
Tensor log1p(const Tensor& x) {
  return unary_op("log1p", UnaryOp::Log1p, x, kFloat, kX, kNoY, [](const Tensor& g, const Tensor& x, const Tensor&) { return div(g, add(x, 1)); });
}
Tensor sqrt(const Tensor& x) {
  return unary_op("sqrt", UnaryOp::Sqrt, x, kFloat, kNoX, kY, [](const Tensor& g, const Tensor&, const Tensor& y) { return div(g, mul(y, 2)); });
}
Tensor rsqrt(const Tensor& x) {
  return unary_op("rsqrt", UnaryOp::Rsqrt, x, kFloat, kNoX, kY,
                  [](const Tensor& g, const Tensor&, const Tensor& y) { return mul(mul(g, pow(y, 3)), -0.5); });
}
Tensor sin(const Tensor& x) {
  return unary_op("sin", UnaryOp::Sin, x, kFloat, kX, kNoY, [](const Tensor& g, const Tensor& x, const Tensor&) { return mul(g, cos(x)); });
}
Tensor cos(const Tensor& x) {
  return unary_op("cos", UnaryOp::Cos, x, kFloat, kX, kNoY, [](const Tensor& g, const Tensor& x, const Tensor&) { return neg(mul(g, sin(x))); });
}
Tensor tan(const Tensor& x) {
  return unary_op("tan", UnaryOp::Tan, x, kFloat, kNoX, kY,
                  [](const Tensor& g, const Tensor&, const Tensor& y) { return mul(g, add(mul(y, y), 1)); });
}
Tensor asin(const Tensor& x) {
  return unary_op("asin", UnaryOp::Asin, x, kFloat, kX, kNoY,
                  [](const Tensor& g, const Tensor& x, const Tensor&) { return mul(g, rsqrt(rsub(mul(x, x), 1))); });
}
Tensor acos(const Tensor& x) {
  return unary_op("acos", UnaryOp::Acos, x, kFloat, kX, kNoY,
                  [](const Tensor& g, const Tensor& x, const Tensor&) { return neg(mul(g, rsqrt(rsub(mul(x, x), 1)))); });
}
Tensor atan(const Tensor& x) {
  return unary_op("atan", UnaryOp::Atan, x, kFloat, kX, kNoY,
                  [](const Tensor& g, const Tensor& x, const Tensor&) { return div(g, add(mul(x, x), 1)); });
}
Tensor tanh(const Tensor& x) {
  return unary_op("tanh", UnaryOp::Tanh, x, kFloat, kNoX, kY, [](const Tensor& g, const Tensor&, const Tensor& y) {
    return binary_forward(BinaryOp::TanhBackward, g, y, g.dtype());
  });
}
Tensor sigmoid(const Tensor& x) {
  return unary_op("sigmoid", UnaryOp::Sigmoid, x, kFloat, kNoX, kY, [](const Tensor& g, const Tensor&, const Tensor& y) {
    return binary_forward(BinaryOp::SigmoidBackward, g, y, g.dtype());
  });
}
Tensor relu(const Tensor& x) {
  return unary_op("relu", UnaryOp::Relu, x, kSame, kNoX, kY, [](const Tensor& g, const Tensor&, const Tensor& y) {
    return binary_forward(BinaryOp::ReluBackward, g, as_dtype(y, g.dtype()), g.dtype());
  });
}
namespace {
Tensor zero_grad_fn(const Tensor& g, const Tensor&, const Tensor&) { return zeros_like(g); }
}  // namespace
Tensor sign(const Tensor& x) { return unary_op("sign", UnaryOp::Sign, x, kSame, kNoX, kNoY, zero_grad_fn); }
Tensor floor(const Tensor& x) {
  if (!x.is_floating_point()) return x.clone();
  return unary_op("floor", UnaryOp::Floor, x, kFloat, kNoX, kNoY, zero_grad_fn);
}
Tensor ceil(const Tensor& x) {
  if (!x.is_floating_point()) return x.clone();
  return unary_op("ceil", UnaryOp::Ceil, x, kFloat, kNoX, kNoY, zero_grad_fn);
}
Tensor round(const Tensor& x) {
  if (!x.is_floating_point()) return x.clone();
  return unary_op("round", UnaryOp::Round, x, kFloat, kNoX, kNoY, zero_grad_fn);
}
Tensor reciprocal(const Tensor& x) {
  return unary_op("reciprocal", UnaryOp::Reciprocal, x, kFloat, kNoX, kY,
                  [](const Tensor& g, const Tensor&, const Tensor& y) { return neg(mul(g, mul(y, y))); });
}
Tensor square(const Tensor& x) {
  return unary_op("square", UnaryOp::Square, x, kSame, kX, kNoY, [](const Tensor& g, const Tensor& x, const Tensor&) { return mul(g, mul(x, 2)); });
}
Tensor erf(const Tensor& x) {
  return unary_op("erf", UnaryOp::Erf, x, kFloat, kX, kNoY, [](const Tensor& g, const Tensor& x, const Tensor&) {
    return mul(g, mul(exp(neg(mul(x, x))), 1.1283791670955126));  // 2 / sqrt(pi)
  });
}

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  HMR_CHECK(lo || hi, ValueError, "clamp: at least one of min and max must be given");
  UnaryOp op = lo && hi ? UnaryOp::Clamp : (lo ? UnaryOp::ClampMin : UnaryOp::ClampMax);
  kernels::UnaryParams p{lo ? *lo : *hi, hi ? *hi : 0.0};
  // A fractional bound lifts an integer tensor to the default float, as a float scalar would.
  auto fractional = [](std::optional<double> v) { return v && *v != std::floor(*v); };
  bool promote = !x.is_floating_point() && (fractional(lo) || fractional(hi));
  return unary_op(
      "clamp", op, x, promote, kX, kNoY,
      [lo, hi](const Tensor& g, const Tensor& x, const Tensor&) {
        Tensor keep;
        if (lo) keep = ge(x, *lo);
        if (hi) keep = keep.defined() ? logical_and(keep, le(x, *hi)) : le(x, *hi);
        return where(keep, g, zeros_like(g));
      },
      p);
}

Tensor leaky_relu(const Tensor& x, double slope) {
  return unary_op("leaky_relu", UnaryOp::LeakyRelu, x, kFloat, kX, kNoY, [slope](const Tensor& g, const Tensor& x, const Tensor&) {
    return where(gt(x, 0), g, mul(g, slope));
  }, {slope, 0});
}
Tensor elu(const Tensor& x, double alpha) {
  return unary_op("elu", UnaryOp::Elu, x, kFloat, kX, kY, [alpha](const Tensor& g, const Tensor& x, const Tensor& y) {
    return where(gt(x, 0), g, mul(g, add(y, alpha)));
  }, {alpha, 0});
}
Tensor gelu(const Tensor& x) {
  return unary_op("gelu", UnaryOp::Gelu, x, kFloat, kX, kNoY, [](const Tensor& g, const Tensor& x, const Tensor&) {
    // d/dx x Phi(x) = Phi(x) + x phi(x)
    Tensor cdf = mul(add(erf(mul(x, 0.70710678118654752440)), 1), 0.5);
    Tensor pdf = mul(exp(mul(mul(x, x), -0.5)), 0.39894228040143267794);
    return mul(g, add(cdf, mul(x, pdf)));
  });
}
Tensor silu(const Tensor& x) {
  return unary_op("silu", UnaryOp::Silu, x, kFloat, kX, kNoY, [](const Tensor& g, const Tensor& x, const Tensor&) {
    Tensor s = sigmoid(x);
    return mul(g, mul(s, add(mul(x, rsub(s, 1)), 1)));
  });
}
Tensor softplus(const Tensor& x, double threshold) {
  return unary_op("softplus", UnaryOp::Softplus, x, kFloat, kX, kNoY, [threshold](const Tensor& g, const Tensor& x, const Tensor&) {
    return where(gt(x, threshold), g, mul(g, sigmoid(x)));
  }, {threshold, 0});
}

// ---- comparisons and logic (no gradient) ------------------------------------------------------

#define HMR_COMPARE_OP(name, Op)                                                               \
  Tensor name(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::Op, a, b); }     \
  Tensor name(const Tensor& a, const Scalar& b) {                                              \
    return scalar_forward(BinaryOp::Op, a, b.to_double(), false, result_type(a, b));           \
  }
HMR_COMPARE_OP(eq, Eq)
HMR_COMPARE_OP(ne, Ne)
HMR_COMPARE_OP(lt, Lt)
HMR_COMPARE_OP(le, Le)
HMR_COMPARE_OP(gt, Gt)
HMR_COMPARE_OP(ge, Ge)
#undef HMR_COMPARE_OP

Tensor logical_and(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::LogicalAnd, a, b); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::LogicalOr, a, b); }
Tensor logical_xor(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::LogicalXor, a, b); }
Tensor logical_not(const Tensor& x) { return unary_forward(UnaryOp::LogicalNot, x, x.dtype()); }
Tensor isnan(const Tensor& x) { return unary_forward(UnaryOp::IsNan, x, x.dtype()); }
Tensor isinf(const Tensor& x) { return unary_forward(UnaryOp::IsInf, x, x.dtype()); }
Tensor isfinite(const Tensor& x) { return unary_forward(UnaryOp::IsFinite, x, x.dtype()); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  HMR_CHECK(cond.dtype() == DType::Bool, DTypeError, "where: expected a bool condition but found ", cond.dtype());
  Tensor ca = a, cb = b;
  align_devices("where", ca, cb);
  Tensor c = cond.device() == ca.device() ? cond : cond.to(ca.device());
  DType t = result_type(a, b);
  Shape shape = kernels::broadcast_shapes(kernels::broadcast_shapes(c.sizes(), ca.sizes(), "where"), cb.sizes(), "where");
  Tensor y = Tensor::empty(shape, t, ca.device());
  kernels::where(c, as_dtype(ca, t), as_dtype(cb, t), y);
  SavedTensor sc(c, "where condition");
  return record("where", {a, b}, y, [sc](const Tensor& g) {
    Tensor m = sc.unpack(), z = zeros_like(g);
    return std::vector<Tensor>{where(m, g, z), where(m, z, g)};
  });
}

Tensor where(const Tensor& cond, const Tensor& a, const Scalar& b) {
  return where(cond, a, full({}, b, {a.dtype(), a.device()}));
}

}  // namespace hmr
