// Checks and device dispatch for the reductions, and the one place that decides how the input
// is laid out for the backends: a contiguous (outer, reduced, inner) block, found without a
// copy whenever the reduced dims sit together in memory.
#include "kernels/reduce.h"

#include <algorithm>
#include <numeric>

#include "kernels/backend.h"
#include "kernels/elementwise.h"

namespace hmr::kernels {

DType reduce_result_dtype(ReduceOp op, DType in) {
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Prod: return is_floating(in) ? in : DType::I64;
    case ReduceOp::Any:
    case ReduceOp::All: return DType::Bool;
    default: return in;
  }
}

namespace {

struct Layout {
  Tensor data;  // contiguous (outer, reduced, inner)
  int64_t outer = 1, reduced = 1, inner = 1;
};

std::vector<bool> reduced_mask(const Tensor& x, const Shape& dims, const char* op) {
  std::vector<bool> mask(x.dim(), false);
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, x.dim(), op);
    if (x.dim() > 0) mask[w] = true;
  }
  return mask;
}

// The zero-copy case: x's non-trivial dims, in memory order (largest stride first), are
// contiguous and read kept*, reduced*, kept*, with the kept dims (and, when the position
// within the reduced dims matters, the reduced ones) in their logical order.
bool view_in_place(const Tensor& x, const std::vector<bool>& mask, bool ordered_reduced, Layout& l) {
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (x.sizes()[d] != 1) dims.push_back(d);
  std::stable_sort(dims.begin(), dims.end(),
                   [&](int64_t a, int64_t b) { return x.strides()[a] > x.strides()[b]; });
  int64_t expected = 1;
  for (auto it = dims.rbegin(); it != dims.rend(); ++it) {
    if (x.strides()[*it] != expected) return false;
    expected *= x.sizes()[*it];
  }
  int phase = 0;  // 0: outer kept dims, 1: reduced dims, 2: inner kept dims
  int64_t last_kept = -1, last_reduced = -1;
  for (int64_t d : dims) {
    if (mask[d]) {
      if (phase == 2 || (ordered_reduced && d < last_reduced)) return false;
      phase = 1;
      last_reduced = d;
      l.reduced *= x.sizes()[d];
    } else {
      if (d < last_kept) return false;
      if (phase == 1) phase = 2;
      last_kept = d;
      (phase == 0 ? l.outer : l.inner) *= x.sizes()[d];
    }
  }
  l.data = Tensor::make_view(x.storage(), {l.outer, l.reduced, l.inner}, {l.reduced * l.inner, l.inner, 1},
                             x.offset(), x.dtype());
  return true;
}

Layout layout_for(const Tensor& x, const std::vector<bool>& mask, bool ordered_reduced) {
  Layout l;
  if (x.numel() > 0 && view_in_place(x, mask, ordered_reduced, l)) return l;
  // Otherwise one copy with the kept dims first and the reduced dims last (rows).
  l = Layout();
  Shape order, sizes, strides;
  for (int pass = 0; pass < 2; ++pass)
    for (int64_t d = 0; d < x.dim(); ++d)
      if (mask[d] == (pass == 1)) {
        order.push_back(d);
        sizes.push_back(x.sizes()[d]);
        strides.push_back(x.strides()[d]);
        (pass == 0 ? l.outer : l.reduced) *= x.sizes()[d];
      }
  l.data = Tensor::empty({l.outer, l.reduced, 1}, x.dtype(), x.device());
  if (x.numel() > 0) {
    Tensor permuted = Tensor::make_view(x.storage(), sizes, strides, x.offset(), x.dtype());
    copy(Tensor::make_view(l.data.storage(), sizes, contiguous_strides(sizes), 0, x.dtype()), permuted);
  }
  return l;
}

// A contiguous (outer, inner) tensor to write into: out itself, or a scratch copied back later.
Tensor flat_output(const Tensor& out, const Layout& l) {
  Tensor dst = out.is_contiguous() ? out : Tensor::empty(out.sizes(), out.dtype(), out.device());
  return Tensor::make_view(dst.storage(), {l.outer, l.inner}, {l.inner, 1}, dst.offset(), dst.dtype());
}

void finish_output(const Tensor& out, const Tensor& flat) {
  if (out.is_contiguous()) return;
  copy(out, Tensor::make_view(flat.storage(), out.sizes(), contiguous_strides(out.sizes()), flat.offset(),
                              flat.dtype()));
}

void check_output(const char* op, const Tensor& out, const Layout& l, DType want) {
  HMR_CHECK(out.numel() == l.outer * l.inner, ShapeError, op, ": output of shape ", out.sizes(), " has ",
            out.numel(), " elements, expected ", l.outer * l.inner);
  HMR_CHECK(out.dtype() == want, DTypeError, op, ": expected an output of dtype ", want, " but found ",
            out.dtype());
}

}  // namespace

void reduce(ReduceOp op, const Tensor& x, const Shape& dims, const Tensor& out) {
  check_same_device("reduce", out, {&x});
  Layout l = layout_for(x, reduced_mask(x, dims, "reduce"), false);
  check_output("reduce", out, l, reduce_result_dtype(op, x.dtype()));
  if (out.numel() == 0) return;
  Tensor flat = flat_output(out, l);
  HMR_DISPATCH_DEVICE(x, reduce_rows(op, l.data, flat));
  finish_output(out, flat);
}

void arg_reduce(ArgReduceOp op, const Tensor& x, const Shape& dims, const Tensor& values,
                const Tensor& indices) {
  check_same_device("arg_reduce", values, {&x, &indices});
  Layout l = layout_for(x, reduced_mask(x, dims, "arg_reduce"), true);
  check_output("arg_reduce", values, l, x.dtype());
  check_output("arg_reduce", indices, l, DType::I64);
  HMR_CHECK(l.reduced > 0 || values.numel() == 0, ShapeError,
            "arg_reduce: cannot reduce over an empty dimension of a tensor of shape ", x.sizes());
  if (values.numel() == 0) return;
  Tensor v = flat_output(values, l), i = flat_output(indices, l);
  HMR_DISPATCH_DEVICE(x, arg_reduce_rows(op, l.data, v, i));
  finish_output(values, v);
  finish_output(indices, i);
}

}  // namespace hmr::kernels
