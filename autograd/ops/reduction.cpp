// Reductions: sum, mean, prod, amax/amin, max/min (values and indices), argmax/argmin,
// var/std, norm, logsumexp, any/all, softmax/log_softmax. Each op's backward sits beside its
// forward. Integer and bool sums and products give int64, as in PyTorch; ops that are only
// defined on floats (mean, var, std, norm, softmax) refuse integers rather than guess.
#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/autocast.h"
#include "autograd/function.h"
#include "autograd/ops.h"
#include "kernels/reduce.h"
#include "kernels/softmax.h"

namespace hmr {

using kernels::ArgReduceOp;
using kernels::ReduceOp;

namespace {

// The dims to reduce (all when dims is empty), wrapped and deduplicated. A 0-dim tensor
// accepts dim 0 or -1, as in PyTorch, and has nothing to reduce.
std::vector<bool> reduced_mask(const Tensor& x, const Shape& dims, const char* op) {
  std::vector<bool> mask(x.dim(), dims.empty());
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, x.dim(), op);
    if (x.dim() == 0) continue;
    HMR_CHECK(!mask[w], ShapeError, op, ": dim ", d, " appears more than once in ", dims);
    mask[w] = true;
  }
  return mask;
}

Shape reduced_shape(const Tensor& x, const std::vector<bool>& mask, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (!mask[d]) out.push_back(x.sizes()[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

Shape mask_dims(const std::vector<bool>& mask) {
  Shape dims;
  for (size_t d = 0; d < mask.size(); ++d)
    if (mask[d]) dims.push_back(static_cast<int64_t>(d));
  return dims;
}

int64_t reduced_count(const Tensor& x, const std::vector<bool>& mask) {
  int64_t n = 1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (mask[d]) n *= x.sizes()[d];
  return n;
}

// t (reduced shape) with the reduced dims reinserted as size 1.
Tensor keep_dims(const Tensor& t, const Shape& in_sizes, const std::vector<bool>& mask, bool keepdim) {
  if (keepdim) return t;
  Shape kept;
  for (size_t d = 0; d < in_sizes.size(); ++d) kept.push_back(mask[d] ? 1 : in_sizes[d]);
  return reshape(t, kept);
}

// g (reduced shape) back to x's shape: reinsert the reduced dims as 1 and broadcast.
Tensor expand_back(const Tensor& g, const Shape& in_sizes, const std::vector<bool>& mask, bool keepdim) {
  return expand(keep_dims(g, in_sizes, mask, keepdim), in_sizes);
}

// The forward of a plain reduction, without history.
Tensor reduce_raw(ReduceOp op, const Tensor& x, const std::vector<bool>& mask, bool keepdim) {
  Tensor y = Tensor::empty(reduced_shape(x, mask, keepdim), kernels::reduce_result_dtype(op, x.dtype()), x.device());
  kernels::reduce(op, x, mask_dims(mask), y);
  return y;
}

// max/min of nothing is undefined: name the op, the dim and the shape.
void check_nonempty(const char* op, const Tensor& x, const std::vector<bool>& mask, bool all_dims) {
  HMR_CHECK(!(all_dims && x.numel() == 0), ShapeError, op, ": cannot reduce an empty tensor of shape ",
            x.sizes(), " over all elements (specify the reduction dim)");
  for (int64_t d = 0; d < x.dim(); ++d)
    HMR_CHECK(!(mask[d] && x.sizes()[d] == 0), ShapeError, op, ": expected reduction dim ", d,
              " to have non-zero size (input of shape ", x.sizes(), ")");
}

void check_floating(const char* op, const Tensor& x) {
  HMR_CHECK(x.is_floating_point(), DTypeError, op, ": expected a floating input but found ", x.dtype(),
            " (convert with .to(DType::F32))");
}

}  // namespace

// ---- sum, mean, prod ----------------------------------------------------------------------------

Tensor sum(const Tensor& x, const Shape& dims, bool keepdim) {
  auto mask = reduced_mask(x, dims, "sum");
  Tensor y = reduce_raw(ReduceOp::Sum, x, mask, keepdim);
  Shape in_sizes = x.sizes();
  return record("sum", {x}, y, [in_sizes, mask, keepdim](const Tensor& g) {
    return std::vector<Tensor>{expand_back(g, in_sizes, mask, keepdim)};
  });
}

Tensor mean(const Tensor& x, const Shape& dims, bool keepdim) {
  check_floating("mean", x);
  auto mask = reduced_mask(x, dims, "mean");
  return div(sum(x, dims, keepdim), static_cast<double>(reduced_count(x, mask)));
}

Tensor prod(const Tensor& x, const Shape& dims, bool keepdim) {
  auto mask = reduced_mask(x, dims, "prod");
  Tensor y = reduce_raw(ReduceOp::Prod, x, mask, keepdim);
  SavedTensor sx(x, "prod input");
  return record("prod", {x}, y, [sx, mask, keepdim](const Tensor& g) {
    // d/dx_i prod = product of the others. Dividing y by x_i fails at zeros, so: with no zero
    // in the slice it is P / x_i (P the product of the nonzero entries); with exactly one
    // zero, only that entry gets P; with two or more, every entry gets 0.
    Tensor x = sx.unpack();
    Shape dims = mask_dims(mask);
    Tensor is_zero = eq(x, 0.0);
    Tensor safe = where(is_zero, ones_like(x), x);
    Tensor zeros_in_slice = sum(is_zero, dims, true);
    Tensor p = prod(safe, dims, true);
    Tensor lone_zero = logical_and(eq(zeros_in_slice, 1), is_zero);
    Tensor d = where(eq(zeros_in_slice, 0), div(p, safe), where(lone_zero, p, 0.0));
    return std::vector<Tensor>{mul(expand_back(g, x.sizes(), mask, keepdim), d)};
  });
}

// ---- extrema ------------------------------------------------------------------------------------

namespace {

// amax/amin/max()/min(): the gradient is shared evenly among the entries equal to the result.
Tensor extremum(ReduceOp op, const char* name, const Tensor& x, const Shape& dims, bool keepdim) {
  auto mask = reduced_mask(x, dims, name);
  check_nonempty(name, x, mask, dims.empty());
  Tensor y = reduce_raw(op, x, mask, keepdim);
  SavedTensor sx(x, name), sy(y, name);
  return record(name, {x}, y, [sx, sy, mask, keepdim](const Tensor& g) {
    Tensor x = sx.unpack();
    Tensor hit = eq(x, expand_back(sy.unpack(), x.sizes(), mask, keepdim));
    Tensor ties = sum(hit, mask_dims(mask), true);
    Tensor share = div(keep_dims(g, x.sizes(), mask, keepdim), ties);
    return std::vector<Tensor>{where(hit, expand(share, x.sizes()), 0.0)};
  });
}

// max/min along one dim: the first extremum's value and index; the gradient goes to that index.
std::pair<Tensor, Tensor> arg_extremum(ArgReduceOp op, const char* name, const Tensor& x, int64_t dim,
                                       bool keepdim, bool record_grad) {
  auto mask = reduced_mask(x, {dim}, name);
  check_nonempty(name, x, mask, false);
  Shape shape = reduced_shape(x, mask, keepdim);
  Tensor values = Tensor::empty(shape, x.dtype(), x.device());
  Tensor indices = Tensor::empty(shape, DType::I64, x.device());
  kernels::arg_reduce(op, x, {dim}, values, indices);
  if (!record_grad) return {values, indices};
  SavedTensor si(indices, name);
  int64_t d = wrap_dim(dim, x.dim(), name);
  Shape in_sizes = x.sizes();
  auto outs = record_multi(
      name, {x}, {values, indices},
      [si, d, in_sizes, mask, keepdim](const std::vector<Tensor>& grads) {
        const Tensor& g = grads[0];
        if (!g.defined() || in_sizes.empty()) return std::vector<Tensor>{g};
        Shape iota_shape(in_sizes.size(), 1);
        iota_shape[d] = in_sizes[d];
        Tensor iota = reshape(arange(in_sizes[d], TensorOptions(DType::I64, g.device())), iota_shape);
        Tensor hit = eq(iota, keep_dims(si.unpack(), in_sizes, mask, keepdim));
        return std::vector<Tensor>{where(hit, expand_back(g, in_sizes, mask, keepdim), 0.0)};
      },
      {true, false});
  return {outs[0], outs[1]};
}

Tensor arg_only(ArgReduceOp op, const char* name, const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  if (dim) return arg_extremum(op, name, x, *dim, keepdim, false).second;
  // No dim: the index into the flattened tensor (keepdim gives all dims size 1).
  auto mask = reduced_mask(x, {}, name);
  check_nonempty(name, x, mask, true);
  Shape shape = reduced_shape(x, mask, keepdim);
  Tensor values = Tensor::empty(shape, x.dtype(), x.device());
  Tensor indices = Tensor::empty(shape, DType::I64, x.device());
  kernels::arg_reduce(op, x, mask_dims(mask), values, indices);
  return indices;
}

}  // namespace

Tensor amax(const Tensor& x, const Shape& dims, bool keepdim) { return extremum(ReduceOp::Max, "amax", x, dims, keepdim); }
Tensor amin(const Tensor& x, const Shape& dims, bool keepdim) { return extremum(ReduceOp::Min, "amin", x, dims, keepdim); }
Tensor max(const Tensor& x) { return extremum(ReduceOp::Max, "max", x, {}, false); }
Tensor min(const Tensor& x) { return extremum(ReduceOp::Min, "min", x, {}, false); }

std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extremum(ArgReduceOp::Max, "max", x, dim, keepdim, true);
}
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extremum(ArgReduceOp::Min, "min", x, dim, keepdim, true);
}

Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return arg_only(ArgReduceOp::Max, "argmax", x, dim, keepdim);
}
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return arg_only(ArgReduceOp::Min, "argmin", x, dim, keepdim);
}

// ---- var, std, norm, logsumexp ------------------------------------------------------------------

namespace {

// var = sum((x - mean)^2) / (N - correction), two passes for accuracy; d var / dx =
// 2 (x - mean) / (N - correction). std = sqrt(var) with gradient d var / (2 std).
Tensor variance(const char* name, const Tensor& x, const Shape& dims, int64_t correction, bool keepdim, bool take_sqrt) {
  check_floating(name, x);
  auto mask = reduced_mask(x, dims, name);
  double denom = std::max<double>(0.0, static_cast<double>(reduced_count(x, mask) - correction));
  Tensor y;
  {
    NoGradGuard no_grad;
    Tensor dev = sub(x, mean(x, dims, true));
    y = div(sum(mul(dev, dev), dims, keepdim), denom);
    if (take_sqrt) y = sqrt(y);
  }
  SavedTensor sx(x, name), sy(take_sqrt ? y : Tensor(), name);
  return record(name, {x}, y, [sx, sy, dims, mask, keepdim, denom](const Tensor& g) {
    Tensor x = sx.unpack();
    Tensor gv = sy.defined() ? div(g, mul(sy.unpack(), 2.0)) : g;
    Tensor dev = sub(x, mean(x, dims, true));
    return std::vector<Tensor>{mul(expand_back(gv, x.sizes(), mask, keepdim), mul(dev, 2.0 / denom))};
  });
}

}  // namespace

Tensor var(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim) {
  return variance("var", x, dims, correction, keepdim, false);
}
Tensor std(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim) {
  return variance("std", x, dims, correction, keepdim, true);
}

Tensor norm(const Tensor& x, double p, const Shape& dims, bool keepdim) {
  check_floating("norm", x);
  auto mask = reduced_mask(x, dims, "norm");
  const bool inf = std::isinf(p);
  if (inf) check_nonempty("norm", x, mask, dims.empty());
  Tensor y;
  {
    NoGradGuard no_grad;
    if (p == 0) y = sum(ne(x, 0.0), dims, keepdim).to(x.dtype());
    else if (p == 1) y = sum(abs(x), dims, keepdim);
    else if (p == 2) y = sqrt(sum(mul(x, x), dims, keepdim));
    else if (inf) y = p > 0 ? amax(abs(x), dims, keepdim) : amin(abs(x), dims, keepdim);
    else y = pow(sum(pow(abs(x), p), dims, keepdim), 1.0 / p);
  }
  SavedTensor sx(x, "norm input"), sy(y, "norm result");
  return record("norm", {x}, y, [sx, sy, p, inf, mask, keepdim](const Tensor& g) {
    Tensor x = sx.unpack();
    Tensor gk = keep_dims(g, x.sizes(), mask, keepdim), yk = keep_dims(sy.unpack(), x.sizes(), mask, keepdim);
    Tensor d;
    if (p == 0) return std::vector<Tensor>{zeros_like(x)};
    if (p == 1) {
      d = mul(gk, sign(x));
    } else if (inf) {
      // As amax of |x|: shared evenly among the entries that attain the norm.
      Tensor hit = eq(abs(x), yk);
      Tensor ties = sum(hit, mask_dims(mask), true);
      d = where(hit, mul(div(gk, ties), sign(x)), 0.0);
    } else {
      // g x |x|^(p-2) / norm^(p-1), written with sign(x) |x|^(p-1) so that zeros give 0, and
      // 0 for a zero norm (the vector is zero: any subgradient, PyTorch picks 0).
      Tensor scale = where(eq(yk, 0.0), zeros_like(yk), div(gk, p == 2 ? yk : pow(yk, p - 1)));
      Tensor self = p == 2 ? x : mul(sign(x), pow(abs(x), p - 1));
      d = mul(self, scale);
    }
    return std::vector<Tensor>{expand(d, x.sizes())};
  });
}

Tensor logsumexp(const Tensor& x_in, const Shape& dims, bool keepdim) {
  Tensor x = x_in.is_floating_point() ? x_in : x_in.to(kDefaultFloat);
  auto mask = reduced_mask(x, dims, "logsumexp");
  if (reduced_count(x, mask) == 0)  // log of an empty sum
    return full(reduced_shape(x, mask, keepdim), -std::numeric_limits<double>::infinity(), {x.dtype(), x.device()});
  Tensor y;
  {
    NoGradGuard no_grad;
    // Subtract the max so exp cannot overflow; an infinite max (all -inf, or a +inf entry)
    // is replaced by 0 so that inf - inf never appears.
    Tensor m = amax(x, dims, true);
    m = where(isinf(m), zeros_like(m), m);
    y = add(log(sum(exp(sub(x, m)), dims, true)), m);
    if (!keepdim) y = reshape(y, reduced_shape(x, mask, false));
  }
  SavedTensor sx(x, "logsumexp input"), sy(y, "logsumexp result");
  return record("logsumexp", {x}, y, [sx, sy, mask, keepdim](const Tensor& g) {
    Tensor x = sx.unpack();
    Tensor yk = keep_dims(sy.unpack(), x.sizes(), mask, keepdim);
    return std::vector<Tensor>{mul(expand_back(g, x.sizes(), mask, keepdim), exp(sub(x, yk)))};
  });
}

// ---- logic --------------------------------------------------------------------------------------

Tensor any(const Tensor& x, const Shape& dims, bool keepdim) {
  return reduce_raw(ReduceOp::Any, x, reduced_mask(x, dims, "any"), keepdim);
}
Tensor all(const Tensor& x, const Shape& dims, bool keepdim) {
  return reduce_raw(ReduceOp::All, x, reduced_mask(x, dims, "all"), keepdim);
}

// ---- softmax ------------------------------------------------------------------------------------

namespace {

Tensor softmax_op(const char* name, const Tensor& x, int64_t dim, bool log) {
  check_floating(name, x);
  int64_t d = wrap_dim(dim, x.dim(), name);
  Tensor y = Tensor::empty(x.sizes(), x.dtype(), x.device());
  kernels::softmax(x, d, log, y);
  SavedTensor sy(y, name);
  return record(name, {x}, y, [sy, d, log](const Tensor& g) {
    Tensor y = sy.unpack();
    Tensor gy = g.dtype() == y.dtype() ? g : g.to(y.dtype());
    Tensor gx = Tensor::empty(y.sizes(), y.dtype(), y.device());
    kernels::softmax_backward(gy, y, d, log, gx);
    return std::vector<Tensor>{gx};
  });
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_op("softmax", autocast::to_f32(x), dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) {
  return softmax_op("log_softmax", autocast::to_f32(x), dim, true);
}

}  // namespace hmr
