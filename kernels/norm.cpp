// Checks and device dispatch for the fused normalization kernels: operands are brought to the
// contiguous layouts the backends expect (a copy only when they are not already).
#include "kernels/norm.h"

#include "kernels/backend.h"
#include "kernels/elementwise.h"

namespace hmr::kernels {

namespace {

Tensor dense(const Tensor& t) {
  if (!t.defined() || t.is_contiguous()) return t;
  Tensor c = Tensor::empty(t.sizes(), t.dtype(), t.device());
  copy(c, t);
  return c;
}

void check_block(const char* op, const Tensor& x) {
  HMR_CHECK(x.dim() == 3, ShapeError, op, ": expected an (outer, C, inner) block but found shape ",
            x.sizes());
  HMR_CHECK(is_floating(x.dtype()), DTypeError, op, ": expected a floating input but found ", x.dtype());
}

void check_stats(const char* op, const Tensor& x, const Tensor& s, const char* what) {
  if (!s.defined()) return;
  HMR_CHECK(s.numel() == x.sizes()[1] && s.is_contiguous(), ShapeError, op, ": ", what,
            " must be a contiguous vector of ", x.sizes()[1], " values but has shape ", s.sizes());
  HMR_CHECK(s.dtype() == norm_stats_dtype(x.dtype()), DTypeError, op, ": ", what, " has dtype ", s.dtype(),
            ", expected ", norm_stats_dtype(x.dtype()));
}

int64_t param_count(const Tensor& x, AffineMap map) { return map.groups * (x.sizes()[2] / map.span); }

void check_param(const char* op, const Tensor& x, const Tensor& p, AffineMap map, const char* what) {
  if (!p.defined()) return;
  HMR_CHECK(p.numel() == param_count(x, map), ShapeError, op, ": ", what, " has ", p.numel(),
            " elements, expected ", param_count(x, map));
  HMR_CHECK(p.dtype() == x.dtype(), DTypeError, op, ": ", what, " has dtype ", p.dtype(), ", expected ",
            x.dtype());
}

void check_map(const char* op, const Tensor& x, AffineMap map) {
  HMR_INTERNAL_CHECK(
      map.groups > 0 && map.span > 0 && x.sizes()[1] % map.groups == 0 && x.sizes()[2] % map.span == 0, op,
      " groups=", map.groups, " span=", map.span, " x=", x.sizes());
}

// A contiguous stand-in for out (written back when out is strided); undefined stays undefined.
struct Output {
  Tensor target, dense;
  explicit Output(const Tensor& t)
      : target(t),
        dense(!t.defined() || t.is_contiguous() ? t : Tensor::empty(t.sizes(), t.dtype(), t.device())) {}
  void finish() const {
    if (target.defined() && !dense.is_same(target)) copy(target, dense);
  }
};

}  // namespace

DType norm_stats_dtype(DType x) { return x == DType::F64 ? DType::F64 : DType::F32; }

void norm_stats(const Tensor& x, double eps, const Tensor& mean, const Tensor& invstd, const Tensor& var) {
  const char* op = "norm_stats";
  check_block(op, x);
  check_same_device(op, x, {&mean, &invstd});
  check_stats(op, x, mean, "mean");
  check_stats(op, x, invstd, "invstd");
  check_stats(op, x, var, "var");
  HMR_CHECK(mean.defined() && invstd.defined(), ValueError, op, ": mean and invstd are required");
  Tensor xd = dense(x);
  HMR_DISPATCH_DEVICE(x, norm_stats(xd, eps, mean, invstd, var));
}

void norm_apply(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight,
                const Tensor& bias, AffineMap map, const Tensor& out) {
  const char* op = "norm_apply";
  check_block(op, x);
  check_same_device(op, out, {&x, &mean, &invstd});
  check_map(op, x, map);
  check_stats(op, x, mean, "mean");
  check_stats(op, x, invstd, "invstd");
  check_param(op, x, weight, map, "weight");
  check_param(op, x, bias, map, "bias");
  HMR_CHECK(out.sizes() == x.sizes() && out.dtype() == x.dtype(), ShapeError, op, ": output ", out.sizes(),
            " ", out.dtype(), " does not match input ", x.sizes(), " ", x.dtype());
  if (x.numel() == 0) return;
  Tensor xd = dense(x), wd = dense(weight), bd = dense(bias);
  Output o(out);
  HMR_DISPATCH_DEVICE(x, norm_apply(xd, mean, invstd, wd, bd, map, o.dense));
  o.finish();
}

void norm_backward(const Tensor& grad, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                   const Tensor& weight, AffineMap map, bool batch_stats, const Tensor& grad_x,
                   const Tensor& grad_weight, const Tensor& grad_bias) {
  const char* op = "norm_backward";
  check_block(op, x);
  check_same_device(op, x, {&grad, &mean, &invstd});
  check_map(op, x, map);
  HMR_CHECK(grad.sizes() == x.sizes() && grad.dtype() == x.dtype(), ShapeError, op, ": gradient ",
            grad.sizes(), " ", grad.dtype(), " does not match input ", x.sizes(), " ", x.dtype());
  check_stats(op, x, mean, "mean");
  check_stats(op, x, invstd, "invstd");
  check_param(op, x, weight, map, "weight");
  check_param(op, x, grad_weight, map, "grad_weight");
  check_param(op, x, grad_bias, map, "grad_bias");
  if (grad_x.defined())
    HMR_CHECK(grad_x.sizes() == x.sizes() && grad_x.dtype() == x.dtype(), ShapeError, op, ": grad_x ",
              grad_x.sizes(), " does not match input ", x.sizes());
  Tensor gd = dense(grad), xd = dense(x), wd = dense(weight);
  Output gx(grad_x), gw(grad_weight), gb(grad_bias);
  HMR_DISPATCH_DEVICE(
      x, norm_backward(gd, xd, mean, invstd, wd, map, batch_stats, gx.dense, gw.dense, gb.dense));
  gx.finish();
  gw.finish();
  gb.finish();
}

}  // namespace hmr::kernels
