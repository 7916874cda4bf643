// Reductions over any set of dims, device-dispatched. The input is seen as a contiguous
// (outer, reduced, inner) block: reduced dims that are adjacent in memory need no copy (rows
// when inner == 1, columns when the kept dims are innermost, as a sum over dim 0 is);
// otherwise the reduced dims are moved last by one copy. The combine steps below are written
// once for both backends; 16-bit floats accumulate in float and integers sum in int64.
#pragma once

#include <limits>
#include <type_traits>

#include "kernels/cast.h"
#include "kernels/functors.h"
#include "tensor/dispatch.h"
#include "tensor/tensor.h"

namespace hmr::kernels {

enum class ReduceOp : uint8_t { Sum, Prod, Max, Min, Any, All };
enum class ArgReduceOp : uint8_t { Max, Min };

// The dtype of a reduction of `in`: Sum/Prod of integers and bool give int64, Any/All bool,
// everything else keeps the input's dtype.
DType reduce_result_dtype(ReduceOp op, DType in);

// out has the shape of x with `dims` removed (or kept as 1) and dtype reduce_result_dtype.
// An empty reduced range gives the identity (sum 0, prod 1, max -inf, any false).
void reduce(ReduceOp op, const Tensor& x, const Shape& dims, const Tensor& out);

// Value and int64 index of the first maximum (minimum) over `dims`; the index is the
// row-major position within the reduced dims, and NaN counts as the largest value.
void arg_reduce(ArgReduceOp op, const Tensor& x, const Shape& dims, const Tensor& values,
                const Tensor& indices);

// Backends: x is a contiguous (outer, reduced, inner) tensor, out a contiguous (outer, inner).
#define HMR_REDUCE_BACKEND                                                                  \
  void reduce_rows(ReduceOp op, const Tensor& x, const Tensor& out);                        \
  void arg_reduce_rows(ArgReduceOp op, const Tensor& x, const Tensor& values, const Tensor& indices);
namespace cpu { HMR_REDUCE_BACKEND }
namespace cuda { HMR_REDUCE_BACKEND }

// ---- the combine steps, shared by the backends ---------------------------------------------
// A reducer folds loaded values into an accumulator: load(value, position) -> Acc,
// combine(Acc, Acc) -> Acc, associative and commutative so any tree order gives one answer.
namespace reducers {

template <class A> struct Sum {
  using Acc = A;
  static HMR_HOST_DEVICE A identity() { return A(0); }
  static HMR_HOST_DEVICE A combine(A a, A b) { return a + b; }
  template <class T> static HMR_HOST_DEVICE A load(T v, int64_t) { return cast<A>(v); }
};
template <class A> struct Prod {
  using Acc = A;
  static HMR_HOST_DEVICE A identity() { return A(1); }
  static HMR_HOST_DEVICE A combine(A a, A b) { return a * b; }
  template <class T> static HMR_HOST_DEVICE A load(T v, int64_t) { return cast<A>(v); }
};

template <class A> HMR_HOST_DEVICE A lowest() {
  if constexpr (std::numeric_limits<A>::has_infinity) return -std::numeric_limits<A>::infinity();
  else return std::numeric_limits<A>::lowest();
}
template <class A> HMR_HOST_DEVICE A highest() {
  if constexpr (std::numeric_limits<A>::has_infinity) return std::numeric_limits<A>::infinity();
  else return std::numeric_limits<A>::max();
}

// NaN propagates: once either side is NaN, the result is.
template <class A> struct Max {
  using Acc = A;
  static HMR_HOST_DEVICE A identity() { return lowest<A>(); }
  static HMR_HOST_DEVICE A combine(A a, A b) { return (math::isnan(a) || a > b) ? a : b; }
  template <class T> static HMR_HOST_DEVICE A load(T v, int64_t) { return cast<A>(v); }
};
template <class A> struct Min {
  using Acc = A;
  static HMR_HOST_DEVICE A identity() { return highest<A>(); }
  static HMR_HOST_DEVICE A combine(A a, A b) { return (math::isnan(a) || a < b) ? a : b; }
  template <class T> static HMR_HOST_DEVICE A load(T v, int64_t) { return cast<A>(v); }
};
struct Any {
  using Acc = bool;
  static HMR_HOST_DEVICE bool identity() { return false; }
  static HMR_HOST_DEVICE bool combine(bool a, bool b) { return a || b; }
  template <class T> static HMR_HOST_DEVICE bool load(T v, int64_t) { return cast<bool>(v); }
};
struct All {
  using Acc = bool;
  static HMR_HOST_DEVICE bool identity() { return true; }
  static HMR_HOST_DEVICE bool combine(bool a, bool b) { return a && b; }
  template <class T> static HMR_HOST_DEVICE bool load(T v, int64_t) { return cast<bool>(v); }
};

template <class A> struct ValueIndex {
  A value;
  int64_t index;
};

// First extremum: NaN beats numbers, a strictly better value wins, ties go to the lower index
// (the identity carries the largest index so any real element beats it).
template <class A, bool kMax> struct Arg {
  using Acc = ValueIndex<A>;
  static HMR_HOST_DEVICE Acc identity() {
    return {kMax ? lowest<A>() : highest<A>(), std::numeric_limits<int64_t>::max()};
  }
  static HMR_HOST_DEVICE Acc combine(Acc a, Acc b) {
    bool an = math::isnan(a.value), bn = math::isnan(b.value);
    if (an || bn) return (an && (!bn || a.index < b.index)) ? a : b;
    if (kMax ? b.value > a.value : b.value < a.value) return b;
    if (a.value == b.value && b.index < a.index) return b;
    return a;
  }
  template <class T> static HMR_HOST_DEVICE Acc load(T v, int64_t r) { return {cast<A>(v), r}; }
  // Partial results of a two-pass reduction already carry their index.
  static HMR_HOST_DEVICE Acc load(Acc v, int64_t) { return v; }
};

}  // namespace reducers

// The accumulation type of a reduction of T: float for 16-bit floats; Sum/Prod widen integers
// (and bool) to int64; Max/Min keep integers as they are.
template <class T> using wide_acc_t = std::conditional_t<std::is_integral_v<T>, int64_t, acc_t<T>>;

// Calls f(type_tag<Reducer>{}, type_tag<T>{}, type_tag<Out>{}) for op over input dtype `in`.
template <class F>
void dispatch_reduce(ReduceOp op, DType in, F&& f) {
  dispatch_all(in, "reduce", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using W = wide_acc_t<T>;
    using Out = std::conditional_t<std::is_integral_v<T>, int64_t, T>;
    switch (op) {
      case ReduceOp::Sum: return f(type_tag<reducers::Sum<W>>{}, tag, type_tag<Out>{});
      case ReduceOp::Prod: return f(type_tag<reducers::Prod<W>>{}, tag, type_tag<Out>{});
      case ReduceOp::Max: return f(type_tag<reducers::Max<acc_t<T>>>{}, tag, tag);
      case ReduceOp::Min: return f(type_tag<reducers::Min<acc_t<T>>>{}, tag, tag);
      case ReduceOp::Any: return f(type_tag<reducers::Any>{}, tag, type_tag<bool>{});
      case ReduceOp::All: return f(type_tag<reducers::All>{}, tag, type_tag<bool>{});
    }
  });
}

// Calls f(type_tag<Reducer>{}, type_tag<T>{}) for an arg-reduction over dtype `in`.
template <class F>
void dispatch_arg_reduce(ArgReduceOp op, DType in, F&& f) {
  dispatch_all(in, "arg_reduce", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (op == ArgReduceOp::Max) f(type_tag<reducers::Arg<acc_t<T>, true>>{}, tag);
    else f(type_tag<reducers::Arg<acc_t<T>, false>>{}, tag);
  });
}

}  // namespace hmr::kernels
