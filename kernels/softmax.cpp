// Checks and device dispatch for the fused softmax kernels: every operand is brought to a
// contiguous (outer, n, inner) block (a copy only when it is not one already).
#include "kernels/softmax.h"

#include "kernels/backend.h"
#include "kernels/elementwise.h"

namespace hmr::kernels {

namespace {

Shape lanes_shape(const Tensor& x, int64_t dim) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < dim) outer *= x.sizes()[d];
    if (d > dim) inner *= x.sizes()[d];
  }
  return {outer, x.dim() == 0 ? 1 : x.sizes()[dim], inner};
}

Tensor as_lanes(const Tensor& t, const Shape& lanes) {
  Tensor c = t;
  if (!t.is_contiguous()) {
    c = Tensor::empty(t.sizes(), t.dtype(), t.device());
    copy(c, t);
  }
  return Tensor::make_view(c.storage(), lanes, contiguous_strides(lanes), c.offset(), c.dtype());
}

void check_operand(const char* op, const Tensor& ref, const Tensor& t, const char* what) {
  HMR_CHECK(t.sizes() == ref.sizes(), ShapeError, op, ": ", what, " has shape ", t.sizes(), ", expected ",
            ref.sizes());
  HMR_CHECK(t.dtype() == ref.dtype(), DTypeError, op, ": ", what, " has dtype ", t.dtype(), ", expected ",
            ref.dtype());
}

// Runs fn(contiguous out lanes) and copies back when out is strided.
template <class F>
void with_output(const Tensor& out, const Shape& lanes, const F& fn) {
  Tensor dst = out.is_contiguous() ? out : Tensor::empty(out.sizes(), out.dtype(), out.device());
  fn(Tensor::make_view(dst.storage(), lanes, contiguous_strides(lanes), dst.offset(), dst.dtype()));
  if (!dst.is_same(out)) copy(out, dst);
}

}  // namespace

void softmax(const Tensor& x, int64_t dim, bool log, const Tensor& out) {
  const char* op = log ? "log_softmax" : "softmax";
  check_same_device(op, out, {&x});
  check_operand(op, x, out, "output");
  HMR_CHECK(is_floating(x.dtype()), DTypeError, op, ": expected a floating input but found ", x.dtype());
  Shape lanes = lanes_shape(x, wrap_dim(dim, x.dim(), op));
  if (x.numel() == 0) return;
  Tensor xl = as_lanes(x, lanes);
  with_output(out, lanes, [&](const Tensor& o) { HMR_DISPATCH_DEVICE(x, softmax_lanes(xl, log, o)); });
}

void softmax_backward(const Tensor& grad, const Tensor& y, int64_t dim, bool log, const Tensor& grad_in) {
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  check_same_device(op, grad_in, {&grad, &y});
  check_operand(op, y, grad, "gradient");
  check_operand(op, y, grad_in, "output");
  HMR_CHECK(is_floating(y.dtype()), DTypeError, op, ": expected a floating input but found ", y.dtype());
  Shape lanes = lanes_shape(y, wrap_dim(dim, y.dim(), op));
  if (y.numel() == 0) return;
  Tensor gl = as_lanes(grad, lanes), yl = as_lanes(y, lanes);
  with_output(grad_in, lanes,
              [&](const Tensor& o) { HMR_DISPATCH_DEVICE(y, softmax_backward_lanes(gl, yl, log, o)); });
}

}  // namespace hmr::kernels
