// Checks and device dispatch for the convolution and pooling kernels. The user-facing ops
// (autograd/ops/conv.cpp) validate shapes against torch's rules; these checks guard the
// backends' assumptions: contiguous operands of one dtype on one device, consistent sizes.
#include "kernels/conv.h"

#include "kernels/backend.h"

namespace hmr::kernels {

namespace {

void check_operand(const char* op, const Tensor& t, const Shape& want, const Tensor& like) {
  HMR_CHECK(t.sizes() == want, ShapeError, op, ": expected an operand of shape ", want, " but found ",
            t.sizes());
  HMR_CHECK(t.is_contiguous(), ValueError, op, ": expected contiguous operands (shape ", t.sizes(), ")");
  if (&t != &like) check_same_dtype(op, like, t);
}

Shape input_shape(const ConvGeometry& g) { return {g.batch, g.in_channels, g.in_h, g.in_w}; }
Shape output_shape(const ConvGeometry& g) { return {g.batch, g.out_channels, g.out_h, g.out_w}; }
Shape weight_shape(const ConvGeometry& g) {
  return {g.out_channels, g.in_channels / g.groups, g.kernel_h, g.kernel_w};
}
Shape pool_in(const PoolGeometry& g) { return {g.planes, g.in_h, g.in_w}; }
Shape pool_out(const PoolGeometry& g) { return {g.planes, g.out_h, g.out_w}; }

// Pool kernels see (planes, H, W); callers pass (N, C, H, W) or (C, H, W) tensors.
Tensor as_planes(const Tensor& t) {
  const int64_t h = t.size(-2), w = t.size(-1);
  return Tensor::make_view(t.storage(), {t.numel() / std::max<int64_t>(h * w, 1), h, w}, {h * w, w, 1},
                           t.offset(), t.dtype());
}

void check_conv(const char* op, const Tensor& in, const Tensor& w, const ConvGeometry& g, const Tensor& out,
                const Shape& in_shape, const Shape& out_shape) {
  HMR_CHECK(g.groups > 0 && g.in_channels % g.groups == 0 && g.out_channels % g.groups == 0, ValueError, op,
            ": groups ", g.groups, " must divide the channel counts ", g.in_channels, " and ",
            g.out_channels);
  check_operand(op, out, out_shape, out);
  check_operand(op, in, in_shape, out);
  check_operand(op, w, weight_shape(g), out);
  check_same_device(op, out, {&in, &w});
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const ConvGeometry& g, const Tensor& y) {
  check_conv("conv2d", x, w, g, y, input_shape(g), output_shape(g));
  if (y.numel() == 0) return;
  HMR_DISPATCH_DEVICE(y, conv2d_forward(x, w, g, y));
}

void conv2d_backward_input(const Tensor& grad_y, const Tensor& w, const ConvGeometry& g,
                           const Tensor& grad_x) {
  check_conv("conv2d backward (input)", grad_y, w, g, grad_x, output_shape(g), input_shape(g));
  if (grad_x.numel() == 0) return;
  HMR_DISPATCH_DEVICE(grad_x, conv2d_backward_input(grad_y, w, g, grad_x));
}

void conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, const ConvGeometry& g,
                            const Tensor& grad_w) {
  check_conv("conv2d backward (weight)", x, grad_w, g, grad_y, input_shape(g), output_shape(g));
  if (grad_w.numel() == 0) return;
  HMR_DISPATCH_DEVICE(grad_w, conv2d_backward_weight(grad_y, x, g, grad_w));
}

void add_channel_bias(const Tensor& y, const Tensor& bias) {
  HMR_CHECK(y.dim() == 4 && y.is_contiguous(), ValueError,
            "conv bias: expected a contiguous 4-D output but found ", y.sizes());
  check_operand("conv bias", bias, {y.size(1)}, y);
  check_same_device("conv bias", y, {&bias});
  if (y.numel() == 0) return;
  HMR_DISPATCH_DEVICE(y, add_channel_bias(y, bias));
}

void max_pool2d_forward(const Tensor& x, const PoolGeometry& g, const Tensor& out, const Tensor& indices) {
  Tensor xp = as_planes(x), op = as_planes(out), ip = as_planes(indices);
  check_operand("max_pool2d", op, pool_out(g), op);
  check_operand("max_pool2d", xp, pool_in(g), op);
  HMR_CHECK(indices.dtype() == DType::I64 && ip.sizes() == pool_out(g) && indices.is_contiguous(), ValueError,
            "max_pool2d: expected contiguous int64 indices of shape ", pool_out(g));
  check_same_device("max_pool2d", out, {&x, &indices});
  if (out.numel() == 0) return;
  HMR_DISPATCH_DEVICE(out, max_pool2d_forward(xp, g, op, ip));
}

void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const PoolGeometry& g,
                         const Tensor& grad_x) {
  Tensor gp = as_planes(grad_out), ip = as_planes(indices), xp = as_planes(grad_x);
  check_operand("max_pool2d backward", xp, pool_in(g), xp);
  check_operand("max_pool2d backward", gp, pool_out(g), xp);
  HMR_CHECK(indices.dtype() == DType::I64 && ip.sizes() == pool_out(g) && indices.is_contiguous(), ValueError,
            "max_pool2d backward: expected contiguous int64 indices of shape ", pool_out(g));
  check_same_device("max_pool2d backward", grad_x, {&grad_out, &indices});
  if (grad_x.numel() == 0) return;
  HMR_DISPATCH_DEVICE(grad_x, max_pool2d_backward(gp, ip, g, xp));
}

void avg_pool2d_forward(const Tensor& x, const PoolGeometry& g, bool count_include_pad, const Tensor& out) {
  Tensor xp = as_planes(x), op = as_planes(out);
  check_operand("avg_pool2d", op, pool_out(g), op);
  check_operand("avg_pool2d", xp, pool_in(g), op);
  check_same_device("avg_pool2d", out, {&x});
  if (out.numel() == 0) return;
  HMR_DISPATCH_DEVICE(out, avg_pool2d_forward(xp, g, count_include_pad, op));
}

void avg_pool2d_backward(const Tensor& grad_out, const PoolGeometry& g, bool count_include_pad,
                         const Tensor& grad_x) {
  Tensor gp = as_planes(grad_out), xp = as_planes(grad_x);
  check_operand("avg_pool2d backward", xp, pool_in(g), xp);
  check_operand("avg_pool2d backward", gp, pool_out(g), xp);
  check_same_device("avg_pool2d backward", grad_x, {&grad_out});
  if (grad_x.numel() == 0) return;
  HMR_DISPATCH_DEVICE(grad_x, avg_pool2d_backward(gp, g, count_include_pad, xp));
}

void adaptive_avg_pool2d_forward(const Tensor& x, const PoolGeometry& g, const Tensor& out) {
  Tensor xp = as_planes(x), op = as_planes(out);
  check_operand("adaptive_avg_pool2d", op, pool_out(g), op);
  check_operand("adaptive_avg_pool2d", xp, pool_in(g), op);
  check_same_device("adaptive_avg_pool2d", out, {&x});
  if (out.numel() == 0) return;
  HMR_DISPATCH_DEVICE(out, adaptive_avg_pool2d_forward(xp, g, op));
}

void adaptive_avg_pool2d_backward(const Tensor& grad_out, const PoolGeometry& g, const Tensor& grad_x) {
  Tensor gp = as_planes(grad_out), xp = as_planes(grad_x);
  check_operand("adaptive_avg_pool2d backward", xp, pool_in(g), xp);
  check_operand("adaptive_avg_pool2d backward", gp, pool_out(g), xp);
  check_same_device("adaptive_avg_pool2d backward", grad_x, {&grad_out});
  if (grad_x.numel() == 0) return;
  HMR_DISPATCH_DEVICE(grad_x, adaptive_avg_pool2d_backward(gp, g, xp));
}

}  // namespace hmr::kernels
