// Normalization (batch, group, layer), dropout and embedding, each with its backward. The three
// norms share one pair of fused kernels (kernels/norm.h): each op only says how its input is
// seen as an (outer, C, inner) block and where an element finds its weight; the statistics
// (mean, 1/std) are saved for the closed-form backward instead of being recomputed.
#include "kernels/norm.h"

#include <algorithm>

#include "autograd/autocast.h"
#include "autograd/function.h"
#include "autograd/ops.h"
#include "kernels/elementwise.h"
#include "kernels/indexing.h"

namespace hmr {

namespace {

using kernels::AffineMap;

// A contiguous (outer, C, inner) view of t's data without history (a copy when t is strided).
Tensor as_block(const Tensor& t, const Shape& block) {
  Tensor c = t;
  if (!t.is_contiguous()) {
    c = Tensor::empty(t.sizes(), t.dtype(), t.device());
    kernels::copy(c, t);
  }
  return Tensor::make_view(c.storage(), block, contiguous_strides(block), c.offset(), c.dtype());
}

void check_floating_input(const char* op, const Tensor& x) {
  HMR_CHECK(x.is_floating_point(), DTypeError, op, ": expected a floating input but found ", x.dtype());
}

// weight, bias or a running statistic: undefined, or shaped `expected`, floating, on x's device.
void check_param(const char* op, const Tensor& x, const Tensor& p, const Shape& expected, const char* what) {
  if (!p.defined()) return;
  HMR_CHECK(p.sizes() == expected, ShapeError, op, ": ", what, " has shape ", p.sizes(), ", expected ",
            expected, " for an input of shape ", x.sizes());
  HMR_CHECK(p.is_floating_point(), DTypeError, op, ": ", what, " must be floating but has dtype ", p.dtype());
  HMR_CHECK(p.device() == x.device(), DeviceError, op, ": ", what, " is on ", p.device(),
            " but the input is on ", x.device());
}

Tensor as_dtype(const Tensor& p, DType dtype) { return p.defined() && p.dtype() != dtype ? p.to(dtype) : p; }

int64_t trailing_numel(const Tensor& x, int64_t from) {
  int64_t n = 1;
  for (int64_t d = from; d < x.dim(); ++d) n *= x.sizes()[d];
  return n;
}

// y = normalise(x) * weight + bias over `block`, with the given statistics, and its backward.
// batch_stats says whether mean/invstd came from x (so the gradient flows through them).
Tensor normalize(const char* name, const Tensor& x, const Shape& block, const Tensor& weight,
                 const Tensor& bias, AffineMap map, const Tensor& mean, const Tensor& invstd,
                 bool batch_stats) {
  Tensor w = as_dtype(weight, x.dtype()), b = as_dtype(bias, x.dtype());
  Tensor y = Tensor::empty(x.sizes(), x.dtype(), x.device());
  kernels::norm_apply(as_block(x, block), mean, invstd, w, b, map, as_block(y, block));
  SavedTensor sx(x, name), sw(w, name);
  const Shape bias_shape = b.defined() ? b.sizes() : Shape{};
  const bool has_bias = b.defined();
  return record(name, {x, w, b}, y, [=](const Tensor& g) {
    Tensor x = sx.unpack(), w = sw.unpack();
    Tensor gx = Tensor::empty(x.sizes(), x.dtype(), x.device());
    Tensor gw = w.defined() ? Tensor::empty(w.sizes(), x.dtype(), x.device()) : Tensor();
    Tensor gb = has_bias ? Tensor::empty(bias_shape, x.dtype(), x.device()) : Tensor();
    kernels::norm_backward(as_block(as_dtype(g, x.dtype()), block), as_block(x, block), mean, invstd, w, map,
                           batch_stats, as_block(gx, block), gw, gb);
    return std::vector<Tensor>{gx, gw, gb};
  });
}

// An empty input has nothing to normalise; the result keeps the graph to x.
Tensor empty_result(const Tensor& x) { return mul(x, 0.0); }

}  // namespace

// ---- batch norm ---------------------------------------------------------------------------------

Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  HMR_CHECK(x.dim() >= 2, ShapeError, op, ": expected an input of shape (N, C, ...) but found shape ",
            x.sizes());
  check_floating_input(op, x);
  const int64_t N = x.sizes()[0], C = x.sizes()[1], L = trailing_numel(x, 2);
  check_param(op, x, weight, {C}, "weight");
  check_param(op, x, bias, {C}, "bias");
  check_param(op, x, running_mean, {C}, "running_mean");
  check_param(op, x, running_var, {C}, "running_var");
  HMR_CHECK(training || (running_mean.defined() && running_var.defined()), ValueError, op,
            ": evaluation mode needs running_mean and running_var");
  HMR_CHECK(!training || N * L > 1, ValueError, op,
            ": expected more than 1 value per channel when training, got input of shape ", x.sizes());
  if (x.numel() == 0) return empty_result(x);

  const Shape block{N, C, L};
  const DType sd = kernels::norm_stats_dtype(x.dtype());
  Tensor mean = Tensor::empty({C}, sd, x.device()), invstd = Tensor::empty({C}, sd, x.device());
  if (training) {
    Tensor var = Tensor::empty({C}, sd, x.device());
    kernels::norm_stats(as_block(x, block), eps, mean, invstd, var);
    NoGradGuard no_grad;
    const double count = static_cast<double>(N * L);
    if (running_mean.defined()) running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype()), momentum);
    // The running variance takes the unbiased estimate (as torch), the normalisation the biased one.
    if (running_var.defined())
      running_var.mul_(1 - momentum).add_(var.to(running_var.dtype()), momentum * count / (count - 1));
  } else {
    NoGradGuard no_grad;
    kernels::copy(mean, running_mean);
    kernels::copy(invstd, running_var);
    invstd = rsqrt(add(invstd, eps));
  }
  return normalize(op, x, block, weight, bias, AffineMap{C, std::max<int64_t>(L, 1)}, mean, invstd, training);
}

// ---- group norm ---------------------------------------------------------------------------------

Tensor group_norm(const Tensor& x_in, int64_t groups, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "group_norm";
  const Tensor x = autocast::to_f32(x_in);  // an f32 op under autocast
  HMR_CHECK(x.dim() >= 2, ShapeError, op, ": expected an input of shape (N, C, ...) but found shape ",
            x.sizes());
  check_floating_input(op, x);
  const int64_t N = x.sizes()[0], C = x.sizes()[1], L = trailing_numel(x, 2);
  HMR_CHECK(groups > 0 && C % groups == 0, ShapeError, op, ": expected the number of channels ", C,
            " to be divisible by groups=", groups, " (input shape ", x.sizes(), ")");
  check_param(op, x, weight, {C}, "weight");
  check_param(op, x, bias, {C}, "bias");
  if (x.numel() == 0) return empty_result(x);

  const Shape block{1, N * groups, C / groups * L};
  const DType sd = kernels::norm_stats_dtype(x.dtype());
  Tensor mean = Tensor::empty({N * groups}, sd, x.device()),
         invstd = Tensor::empty({N * groups}, sd, x.device());
  kernels::norm_stats(as_block(x, block), eps, mean, invstd, Tensor());
  return normalize(op, x, block, weight, bias, AffineMap{groups, L}, mean, invstd, true);
}

// ---- layer norm ---------------------------------------------------------------------------------

Tensor layer_norm(const Tensor& x_in, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  const Tensor x = autocast::to_f32(x_in);  // an f32 op under autocast
  const char* op = "layer_norm";
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  bool matches = k >= 1 && x.dim() >= k;
  for (int64_t d = 0; matches && d < k; ++d) matches = x.sizes()[x.dim() - k + d] == normalized_shape[d];
  HMR_CHECK(matches, ShapeError, op, ": normalized_shape ", normalized_shape,
            " does not match the trailing dims of the input shape ", x.sizes());
  check_floating_input(op, x);
  check_param(op, x, weight, normalized_shape, "weight");
  check_param(op, x, bias, normalized_shape, "bias");
  if (x.numel() == 0) return empty_result(x);

  const int64_t M = shape_numel(normalized_shape), R = x.numel() / M;
  const Shape block{1, R, M};
  const DType sd = kernels::norm_stats_dtype(x.dtype());
  Tensor mean = Tensor::empty({R}, sd, x.device()), invstd = Tensor::empty({R}, sd, x.device());
  kernels::norm_stats(as_block(x, block), eps, mean, invstd, Tensor());
  return normalize(op, x, block, weight, bias, AffineMap{1, 1}, mean, invstd, true);
}

// ---- dropout ------------------------------------------------------------------------------------

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  HMR_CHECK(p >= 0 && p <= 1, ValueError, "dropout: expected a probability in [0, 1] but found p=", p);
  if (!training || p == 0) return x;
  check_floating_input("dropout", x);
  if (p == 1) return mul(x, 0.0);  // as torch: x * 0 (NaN stays NaN), gradient zero
  // The mask already carries the 1 / (1 - p) scale, so backward (mul's) is g * mask.
  Tensor mask = Tensor::empty(x.sizes(), x.dtype(), x.device());
  kernels::bernoulli(mask, 1 - p, gen ? *gen : default_generator());
  kernels::binary_scalar(kernels::BinaryOp::Mul, mask, 1 / (1 - p), false, mask);
  return mul(x, mask);
}

// ---- embedding ----------------------------------------------------------------------------------

Tensor embedding(const Tensor& weight, const Tensor& indices, std::optional<int64_t> padding_idx) {
  const char* op = "embedding";
  HMR_CHECK(weight.dim() == 2, ShapeError, op,
            ": expected a 2-D weight (num_embeddings, embedding_dim) but found shape ", weight.sizes());
  HMR_CHECK(indices.dtype() == DType::I64 || indices.dtype() == DType::I32, DTypeError, op,
            ": expected int64 or int32 indices but found ", indices.dtype());
  const int64_t V = weight.sizes()[0], D = weight.sizes()[1];
  std::optional<int64_t> pad = padding_idx;
  if (pad) {
    HMR_CHECK(*pad >= -V && *pad < V, IndexError, op, ": padding_idx ", *pad, " is out of range for ", V,
              " embeddings");
    if (*pad < 0) *pad += V;
  }
  Tensor flat = reshape(indices, {indices.numel()});
  const Shape rows{indices.numel(), D};
  Tensor y = Tensor::empty(rows, weight.dtype(), weight.device());
  kernels::gather(op, weight, 0, kernels::broadcast_index(flat, rows, 0), y);
  Shape out_shape = indices.sizes();
  out_shape.push_back(D);
  Tensor out =
      Tensor::make_view(y.storage(), out_shape, contiguous_strides(out_shape), y.offset(), y.dtype());
  SavedTensor si(flat, "embedding indices");
  return record(op, {weight}, out, [si, pad, V, D](const Tensor& g) {
    Tensor idx = si.unpack();
    Tensor g_rows = reshape(g, {idx.numel(), D});
    if (pad) g_rows = where(unsqueeze(ne(idx, static_cast<double>(*pad)), 1), g_rows, 0.0);
    return std::vector<Tensor>{index_add(zeros({V, D}, {g.dtype(), g.device()}), 0, idx, g_rows)};
  });
}

}  // namespace hmr
