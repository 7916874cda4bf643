// The elementwise math of hmr.cpp, written once for both backends. Each functor is a small
// struct with a templated call operator taking and returning the accumulation type (float for
// the 16-bit floats); the CPU loop driver and the CUDA launcher wrap loads, stores and
// conversions around it. A new op is one functor here and one line in the lists below.
//
// Lists: X(Name, Functor, kind), where kind is the set of dtypes the op is defined on:
//   Floating (transcendental math; integer inputs are promoted before reaching a kernel),
//   Numeric (any number, not bool), All (bool too). Predicates and comparisons return bool.
#pragma once

#include <cmath>
#include <type_traits>

#include "kernels/host_math.h"
#include "tensor/dtype.h"

namespace hmr::kernels {

// C math functions exist on both host and device for float and double.
namespace math {
#define HMR_MATH1(name, fname)                                        \
  HMR_HOST_DEVICE float name(float x) { return ::fname(x); }          \
  HMR_HOST_DEVICE double name(double x) { return ::name(x); }
// exp, log and tanh in float use host_math on the CPU so the loops vectorise (host_math.h).
#ifdef __CUDA_ARCH__
#define HMR_MATH1_HOSTVEC(name, fname) HMR_MATH1(name, fname)
#else
#define HMR_MATH1_HOSTVEC(name, fname)                                \
  HMR_HOST_DEVICE float name(float x) { return host_math::name(x); }  \
  HMR_HOST_DEVICE double name(double x) { return ::name(x); }
#endif
HMR_MATH1_HOSTVEC(exp, expf)
HMR_MATH1_HOSTVEC(log, logf)
HMR_MATH1(log1p, log1pf)
HMR_MATH1(expm1, expm1f)
HMR_MATH1(sqrt, sqrtf)
HMR_MATH1(sin, sinf)
HMR_MATH1(cos, cosf)
HMR_MATH1(tan, tanf)
HMR_MATH1_HOSTVEC(tanh, tanhf)
HMR_MATH1(floor, floorf)
HMR_MATH1(ceil, ceilf)
HMR_MATH1(nearbyint, nearbyintf)
HMR_MATH1(erf, erff)
HMR_MATH1(fabs, fabsf)
HMR_MATH1(asin, asinf)
HMR_MATH1(acos, acosf)
HMR_MATH1(atan, atanf)
#undef HMR_MATH1_HOSTVEC
#undef HMR_MATH1
HMR_HOST_DEVICE float pow(float a, float b) { return ::powf(a, b); }
HMR_HOST_DEVICE double pow(double a, double b) { return ::pow(a, b); }
HMR_HOST_DEVICE float atan2(float a, float b) { return ::atan2f(a, b); }
HMR_HOST_DEVICE double atan2(double a, double b) { return ::atan2(a, b); }
HMR_HOST_DEVICE float fmod(float a, float b) { return ::fmodf(a, b); }
HMR_HOST_DEVICE double fmod(double a, double b) { return ::fmod(a, b); }
template <class T> HMR_HOST_DEVICE bool isnan(T x) {
  if constexpr (std::is_floating_point_v<T>) return x != x;
  else return false;
}
}  // namespace math

// Parameters of a unary op (clamp bounds, a scalar exponent, a slope); most ops ignore them.
struct UnaryParams {
  double a = 0, b = 0;
};

// ---- unary -----------------------------------------------------------------------------------
#define HMR_UNARY(Name, expr)                                                  \
  struct Name : UnaryParams {                                                  \
    template <class T> HMR_HOST_DEVICE T operator()(T x) const { return expr; } \
  };
HMR_UNARY(NegFn, -x)
HMR_UNARY(ExpFn, math::exp(x))
HMR_UNARY(Expm1Fn, math::expm1(x))
HMR_UNARY(LogFn, math::log(x))
HMR_UNARY(Log1pFn, math::log1p(x))
HMR_UNARY(SqrtFn, math::sqrt(x))
HMR_UNARY(RsqrtFn, T(1) / math::sqrt(x))
HMR_UNARY(SinFn, math::sin(x))
HMR_UNARY(CosFn, math::cos(x))
HMR_UNARY(TanFn, math::tan(x))
HMR_UNARY(AsinFn, math::asin(x))
HMR_UNARY(AcosFn, math::acos(x))
HMR_UNARY(AtanFn, math::atan(x))
HMR_UNARY(TanhFn, math::tanh(x))
HMR_UNARY(SigmoidFn, T(1) / (T(1) + math::exp(-x)))
HMR_UNARY(ReluFn, x < T(0) ? T(0) : x)  // NaN passes through, as torch.relu
HMR_UNARY(SignFn, T((T(0) < x) - (x < T(0))))
HMR_UNARY(FloorFn, math::floor(x))
HMR_UNARY(CeilFn, math::ceil(x))
HMR_UNARY(RoundFn, math::nearbyint(x))  // half to even, as torch.round
HMR_UNARY(ReciprocalFn, T(1) / x)
HMR_UNARY(SquareFn, x * x)
HMR_UNARY(ErfFn, math::erf(x))
// Parameterised: clamp to [a, b] (NaN propagates), x^a, leaky slope a, ELU alpha a.
// min(max(x, a), b): with a > b every value becomes b, as in PyTorch.
HMR_UNARY(ClampFn, math::isnan(x) ? x : ((x < T(a) ? T(a) : x) > T(b) ? T(b) : (x < T(a) ? T(a) : x)))
HMR_UNARY(ClampMinFn, math::isnan(x) ? x : (x < T(a) ? T(a) : x))
HMR_UNARY(ClampMaxFn, math::isnan(x) ? x : (x > T(a) ? T(a) : x))
HMR_UNARY(PowScalarFn, math::pow(x, T(a)))
HMR_UNARY(LeakyReluFn, x > T(0) ? x : x * T(a))
HMR_UNARY(EluFn, x > T(0) ? x : T(a) * math::expm1(x))
HMR_UNARY(GeluFn, T(0.5) * x * (T(1) + math::erf(x * T(0.70710678118654752440))))
HMR_UNARY(SiluFn, x / (T(1) + math::exp(-x)))
// softplus with PyTorch's beta = 1 and threshold a (linear above it)
HMR_UNARY(SoftplusFn, x > T(a) ? x : math::log1p(math::exp(x)))
#undef HMR_UNARY
// fabs for floats: abs(-0.0) is +0.0, which "x < 0 ? -x : x" would miss.
struct AbsFn : UnaryParams {
  template <class T>
  HMR_HOST_DEVICE T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>)
      return math::fabs(x);
    else
      return x < T(0) ? T(-x) : x;
  }
};

// ---- predicates (return bool) ----------------------------------------------------------------
#define HMR_PREDICATE(Name, expr)                                                   \
  struct Name : UnaryParams {                                                       \
    template <class T> HMR_HOST_DEVICE bool operator()(T x) const { return expr; }  \
  };
HMR_PREDICATE(IsNanFn, math::isnan(x))
HMR_PREDICATE(IsInfFn, !math::isnan(x) && (x - x != x - x))
HMR_PREDICATE(IsFiniteFn, x - x == x - x)
HMR_PREDICATE(LogicalNotFn, !static_cast<bool>(x))
#undef HMR_PREDICATE

// ---- binary ----------------------------------------------------------------------------------
#define HMR_BINARY(Name, expr)                                                          \
  struct Name {                                                                         \
    template <class T> HMR_HOST_DEVICE T operator()(T x, T y) const { return expr; }    \
  };
HMR_BINARY(AddFn, x + y)
HMR_BINARY(SubFn, x - y)
HMR_BINARY(MulFn, x * y)
HMR_BINARY(MaximumFn, (math::isnan(x) || x > y) ? x : y)
HMR_BINARY(MinimumFn, (math::isnan(x) || x < y) ? x : y)
HMR_BINARY(Atan2Fn, math::atan2(x, y))
// Gradient helpers that would otherwise cost three kernels: g * (y > 0), g * (1 - y*y).
HMR_BINARY(ReluBackwardFn, y > T(0) ? x : T(0))
HMR_BINARY(TanhBackwardFn, x * (T(1) - y * y))
HMR_BINARY(SigmoidBackwardFn, x * y * (T(1) - y))
#undef HMR_BINARY

// Integer division by zero gives 0 instead of trapping (ops promote true division to float,
// so only direct kernel callers can reach it).
struct DivFn {
  template <class T> HMR_HOST_DEVICE T operator()(T x, T y) const {
    if constexpr (std::is_integral_v<T>) return y == T(0) ? T(0) : T(x / y);
    else return x / y;
  }
};
struct PowFn {
  template <class T> HMR_HOST_DEVICE T operator()(T x, T y) const {
    if constexpr (std::is_integral_v<T>) {
      // Negative powers truncate to 0 except for bases 1 and -1 (PyTorch's integer pow).
      if (y < T(0)) return x == T(1) ? T(1) : (x == T(-1) ? ((y & T(1)) ? T(-1) : T(1)) : T(0));
      T r = 1;
      for (T e = y, b = x; e > T(0); e = T(e >> 1), b = T(b * b))
        if (e & T(1)) r = T(r * b);
      return r;
    } else {
      return math::pow(x, y);
    }
  }
};
// Python's %: the result has the sign of the divisor.
struct RemainderFn {
  template <class T> HMR_HOST_DEVICE T operator()(T x, T y) const {
    if constexpr (std::is_integral_v<T>) {
      if (y == T(0)) return T(0);
      T r = T(x % y);
      return (r != T(0) && ((r < T(0)) != (y < T(0)))) ? T(r + y) : r;
    } else {
      T r = math::fmod(x, y);
      return (r != T(0) && ((r < T(0)) != (y < T(0)))) ? r + y : r;
    }
  }
};

#define HMR_COMPARE(Name, expr)                                                          \
  struct Name {                                                                          \
    template <class T> HMR_HOST_DEVICE bool operator()(T x, T y) const { return expr; }  \
  };
HMR_COMPARE(EqFn, x == y)
HMR_COMPARE(NeFn, x != y)
HMR_COMPARE(LtFn, x < y)
HMR_COMPARE(LeFn, x <= y)
HMR_COMPARE(GtFn, x > y)
HMR_COMPARE(GeFn, x >= y)
HMR_COMPARE(LogicalAndFn, static_cast<bool>(x) && static_cast<bool>(y))
HMR_COMPARE(LogicalOrFn, static_cast<bool>(x) || static_cast<bool>(y))
HMR_COMPARE(LogicalXorFn, static_cast<bool>(x) != static_cast<bool>(y))
#undef HMR_COMPARE

// The op lists. kind: Floating | Numeric | All; out: Same | Bool.
#define HMR_UNARY_OPS(X)                  \
  X(Neg, NegFn, Numeric, Same)            \
  X(Abs, AbsFn, Numeric, Same)            \
  X(Exp, ExpFn, Floating, Same)           \
  X(Expm1, Expm1Fn, Floating, Same)       \
  X(Log, LogFn, Floating, Same)           \
  X(Log1p, Log1pFn, Floating, Same)       \
  X(Sqrt, SqrtFn, Floating, Same)         \
  X(Rsqrt, RsqrtFn, Floating, Same)       \
  X(Sin, SinFn, Floating, Same)           \
  X(Cos, CosFn, Floating, Same)           \
  X(Tan, TanFn, Floating, Same)           \
  X(Asin, AsinFn, Floating, Same)         \
  X(Acos, AcosFn, Floating, Same)         \
  X(Atan, AtanFn, Floating, Same)         \
  X(Tanh, TanhFn, Floating, Same)         \
  X(Sigmoid, SigmoidFn, Floating, Same)   \
  X(Relu, ReluFn, Numeric, Same)          \
  X(Sign, SignFn, Numeric, Same)          \
  X(Floor, FloorFn, Floating, Same)       \
  X(Ceil, CeilFn, Floating, Same)         \
  X(Round, RoundFn, Floating, Same)       \
  X(Reciprocal, ReciprocalFn, Floating, Same) \
  X(Square, SquareFn, Numeric, Same)      \
  X(Erf, ErfFn, Floating, Same)           \
  X(Clamp, ClampFn, Numeric, Same)        \
  X(ClampMin, ClampMinFn, Numeric, Same)  \
  X(ClampMax, ClampMaxFn, Numeric, Same)  \
  X(PowScalar, PowScalarFn, Floating, Same) \
  X(LeakyRelu, LeakyReluFn, Floating, Same) \
  X(Elu, EluFn, Floating, Same)           \
  X(Gelu, GeluFn, Floating, Same)         \
  X(Silu, SiluFn, Floating, Same)         \
  X(Softplus, SoftplusFn, Floating, Same) \
  X(IsNan, IsNanFn, All, Bool)            \
  X(IsInf, IsInfFn, All, Bool)            \
  X(IsFinite, IsFiniteFn, All, Bool)      \
  X(LogicalNot, LogicalNotFn, All, Bool)

#define HMR_BINARY_OPS(X)                              \
  X(Add, AddFn, Numeric, Same)                         \
  X(Sub, SubFn, Numeric, Same)                         \
  X(Mul, MulFn, Numeric, Same)                         \
  X(Div, DivFn, Numeric, Same)                         \
  X(Pow, PowFn, Numeric, Same)                         \
  X(Maximum, MaximumFn, All, Same)                     \
  X(Minimum, MinimumFn, All, Same)                     \
  X(Atan2, Atan2Fn, Floating, Same)                    \
  X(Remainder, RemainderFn, Numeric, Same)             \
  X(ReluBackward, ReluBackwardFn, Numeric, Same)       \
  X(TanhBackward, TanhBackwardFn, Floating, Same)      \
  X(SigmoidBackward, SigmoidBackwardFn, Floating, Same) \
  X(Eq, EqFn, All, Bool)                               \
  X(Ne, NeFn, All, Bool)                               \
  X(Lt, LtFn, All, Bool)                               \
  X(Le, LeFn, All, Bool)                               \
  X(Gt, GtFn, All, Bool)                               \
  X(Ge, GeFn, All, Bool)                               \
  X(LogicalAnd, LogicalAndFn, All, Bool)               \
  X(LogicalOr, LogicalOrFn, All, Bool)                 \
  X(LogicalXor, LogicalXorFn, All, Bool)

// How the X-macro expansions of both backends turn an op's kind into a dtype dispatch
// (tensor/dispatch.h) and its out column into "returns bool".
#define HMR_DISPATCH_KIND_Floating ::hmr::dispatch_floating
#define HMR_DISPATCH_KIND_Numeric ::hmr::dispatch_numeric
#define HMR_DISPATCH_KIND_All ::hmr::dispatch_all
#define HMR_IS_BOOL_OUT_Same false
#define HMR_IS_BOOL_OUT_Bool true

#define HMR_ENUM_ENTRY(Name, Fn, kind, out) Name,
enum class UnaryOp : uint8_t { HMR_UNARY_OPS(HMR_ENUM_ENTRY) };
enum class BinaryOp : uint8_t { HMR_BINARY_OPS(HMR_ENUM_ENTRY) };
#undef HMR_ENUM_ENTRY

const char* op_name(UnaryOp op);
const char* op_name(BinaryOp op);
bool returns_bool(UnaryOp op);
bool returns_bool(BinaryOp op);

}  // namespace hmr::kernels
