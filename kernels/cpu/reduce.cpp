// CPU reductions over the rows of a contiguous (outer, inner) matrix: rows in parallel when
// there are many, otherwise each row split across threads with per-thread partials.
#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/cast.h"
#include "kernels/reduce.h"
#include "tensor/dispatch.h"
#include "tensor/parallel.h"

namespace hmr::kernels::cpu {

namespace {

template <class A> struct SumOp {
  static A init() { return A(0); }
  static A combine(A a, A b) { return a + b; }
};
template <class A> struct ProdOp {
  static A init() { return A(1); }
  static A combine(A a, A b) { return a * b; }
};
template <class A> struct MaxOp {
  static A init() { return std::numeric_limits<A>::has_infinity ? -std::numeric_limits<A>::infinity() : std::numeric_limits<A>::lowest(); }
  static A combine(A a, A b) { return (a != a || a > b) ? a : b; }  // NaN propagates
};
template <class A> struct MinOp {
  static A init() { return std::numeric_limits<A>::has_infinity ? std::numeric_limits<A>::infinity() : std::numeric_limits<A>::max(); }
  static A combine(A a, A b) { return (a != a || a < b) ? a : b; }
};
struct AnyOp {
  static bool init() { return false; }
  static bool combine(bool a, bool b) { return a || b; }
};
struct AllOp {
  static bool init() { return true; }
  static bool combine(bool a, bool b) { return a && b; }
};

// Folds n values starting at p; 8 independent accumulators let the compiler vectorise sums.
template <class Op, class A, class T>
A fold(const T* p, int64_t n) {
  A acc[8];
  for (auto& a : acc) a = Op::init();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] = Op::combine(acc[k], cast<A>(p[i + k]));
  for (; i < n; ++i) acc[0] = Op::combine(acc[0], cast<A>(p[i]));
  A r = acc[0];
  for (int k = 1; k < 8; ++k) r = Op::combine(r, acc[k]);
  return r;
}

template <class Op, class A, class T, class O>
void reduce_typed(const Tensor& rows, const Tensor& out) {
  const int64_t outer = rows.sizes()[0], inner = rows.sizes()[1];
  const T* x = static_cast<const T*>(rows.raw_data());
  O* o = static_cast<O*>(out.raw_data());
  if (outer >= num_threads() || inner < 65536) {
    parallel_for(0, outer, std::max<int64_t>(1, 32768 / std::max<int64_t>(inner, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) o[r] = cast<O>(fold<Op, A>(x + r * inner, inner));
    });
    return;
  }
  for (int64_t r = 0; r < outer; ++r) {
    std::vector<A> partial(num_threads(), Op::init());
    const T* row = x + r * inner;
    parallel_for(0, inner, 32768, [&](int64_t b, int64_t e) {
      partial[omp_get_thread_num()] = fold<Op, A>(row + b, e - b);
    });
    A acc = Op::init();
    for (A p : partial) acc = Op::combine(acc, p);
    o[r] = cast<O>(acc);
  }
}

}  // namespace

void reduce_rows(ReduceOp op, const Tensor& rows, const Tensor& out) {
  switch (op) {
    case ReduceOp::Any:
    case ReduceOp::All:
      dispatch_all(rows.dtype(), "any/all", [&](auto tag) {
        using T = typename decltype(tag)::type;
        if (op == ReduceOp::Any) reduce_typed<AnyOp, bool, T, bool>(rows, out);
        else reduce_typed<AllOp, bool, T, bool>(rows, out);
      });
      return;
    default: break;
  }
  dispatch_all(rows.dtype(), "reduce", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      throw DTypeError("reduce: sum/prod/max/min of bool tensors must be given as int64");
    } else {
      using A = std::conditional_t<std::is_integral_v<T>, int64_t, acc_t<T>>;
      if (op == ReduceOp::Sum || op == ReduceOp::Prod) {
        dispatch_all(out.dtype(), "reduce", [&](auto otag) {
          using O = typename decltype(otag)::type;
          if (op == ReduceOp::Sum) reduce_typed<SumOp<A>, A, T, O>(rows, out);
          else reduce_typed<ProdOp<A>, A, T, O>(rows, out);
        });
      } else if (op == ReduceOp::Max) {
        reduce_typed<MaxOp<acc_t<T>>, acc_t<T>, T, T>(rows, out);
      } else {
        reduce_typed<MinOp<acc_t<T>>, acc_t<T>, T, T>(rows, out);
      }
    }
  });
}

}  // namespace hmr::kernels::cpu
