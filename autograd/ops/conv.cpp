// Convolution and pooling ops with their backward: argument checks in torch's terms, forward
// through kernels/conv.h, gradients beside each forward. conv_transpose2d is the adjoint of
// conv2d, so the same three convolution kernels serve both with their roles swapped.
#include "kernels/conv.h"

#include "autograd/autocast.h"
#include "autograd/function.h"
#include "autograd/ops.h"

namespace hmr {

namespace {

using kernels::ConvGeometry;
using kernels::PoolGeometry;

// Torch's output-size rule with floor division (a negative span gives no output).
int64_t output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
                    bool ceil_mode) {
  const int64_t num = in + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  int64_t out = (num >= 0 ? num / stride : -((-num + stride - 1) / stride)) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

std::string pair_str(Size2 p) { return str("(", p[0], ", ", p[1], ")"); }

// An unbatched (C, H, W) input runs as a batch of one; the result drops that dim again.
struct Batched {
  Tensor x;
  bool unbatched;
};

Batched batched(const char* op, const Tensor& x) {
  HMR_CHECK(x.dim() == 3 || x.dim() == 4, ShapeError, op,
            ": expected a 3-D (C, H, W) or 4-D (N, C, H, W) input but found shape ", x.sizes());
  HMR_CHECK(x.is_floating_point(), DTypeError, op, ": expected a floating input but found ", x.dtype());
  if (x.dim() == 4) return {x, false};
  return {unsqueeze(x, 0), true};
}

Tensor unbatch(const Tensor& y, bool unbatched) { return unbatched ? squeeze(y, 0) : y; }

void check_conv_args(const char* op, Size2 stride, Size2 padding, Size2 dilation, int64_t groups) {
  HMR_CHECK(stride[0] > 0 && stride[1] > 0, ValueError, op, ": stride must be positive but found ",
            pair_str(stride));
  HMR_CHECK(padding[0] >= 0 && padding[1] >= 0, ValueError, op, ": padding must be non-negative but found ",
            pair_str(padding));
  HMR_CHECK(dilation[0] > 0 && dilation[1] > 0, ValueError, op, ": dilation must be positive but found ",
            pair_str(dilation));
  HMR_CHECK(groups > 0, ValueError, op, ": groups must be positive but found ", groups);
}

void check_weight_and_bias(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias,
                           int64_t bias_size) {
  HMR_CHECK(w.dtype() == x.dtype() && (!bias.defined() || bias.dtype() == x.dtype()), DTypeError, op,
            ": expected input, weight and bias of one dtype but found ", x.dtype(), ", ", w.dtype(),
            bias.defined() ? str(", ", bias.dtype()) : std::string(" (no bias)"));
  HMR_CHECK(w.device() == x.device() && (!bias.defined() || bias.device() == x.device()), DeviceError, op,
            ": expected input, weight and bias on one device but found ", x.device(), " and ", w.device());
  HMR_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == bias_size), ShapeError, op,
            ": expected a bias of shape [", bias_size, "] but found ", bias.sizes());
}

Tensor channel_sums(const Tensor& g) { return sum(g, {0, 2, 3}); }

// y += bias[c] in place (y is fresh, contiguous and has no history yet).
void add_bias(const Tensor& y, const Tensor& bias) {
  if (bias.defined()) kernels::add_channel_bias(y, bias.contiguous());
}

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& w, const Tensor& bias, Size2 stride, Size2 padding,
              Size2 dilation, int64_t groups) {
  if (autocast::casts_convolutions(input)) {
    Tensor xl = autocast::to_lower(input), wl = autocast::to_lower(w), bl = autocast::to_lower(bias);
    if (!xl.is_same(input) || !wl.is_same(w) || !bl.is_same(bias))
      return conv2d(xl, wl, bl, stride, padding, dilation, groups);
  }
  const char* op = "conv2d";
  Batched b = batched(op, input);
  const Tensor& x = b.x;
  check_conv_args(op, stride, padding, dilation, groups);
  HMR_CHECK(w.dim() == 4, ShapeError, op, ": expected a 4-D weight (out, in / groups, kH, kW) but found ",
            w.sizes());
  HMR_CHECK(w.size(0) % groups == 0, ValueError, op, ": groups ", groups,
            " must divide the output channels of weight ", w.sizes());
  HMR_CHECK(x.size(1) == w.size(1) * groups, ShapeError, op, ": input ", input.sizes(), " has ", x.size(1),
            " channels but weight ", w.sizes(), " with groups ", groups, " expects ", w.size(1) * groups);
  check_weight_and_bias(op, x, w, bias, w.size(0));
  ConvGeometry g;
  g.batch = x.size(0), g.in_channels = x.size(1), g.in_h = x.size(2), g.in_w = x.size(3);
  g.out_channels = w.size(0), g.kernel_h = w.size(2), g.kernel_w = w.size(3);
  g.stride_h = stride[0], g.stride_w = stride[1], g.pad_h = padding[0], g.pad_w = padding[1];
  g.dilation_h = dilation[0], g.dilation_w = dilation[1], g.groups = groups;
  g.out_h = output_size(g.in_h, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h, false);
  g.out_w = output_size(g.in_w, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w, false);
  HMR_CHECK(g.out_h > 0 && g.out_w > 0, ShapeError, op, ": input ", input.sizes(), " with padding ",
            pair_str(padding), " is smaller than the dilated kernel of weight ", w.sizes(), " (dilation ",
            pair_str(dilation), "): output size would be ", g.out_h, " x ", g.out_w);

  Tensor xc = x.contiguous().detach(), wc = w.contiguous().detach();
  Tensor y = Tensor::empty({g.batch, g.out_channels, g.out_h, g.out_w}, x.dtype(), x.device());
  kernels::conv2d_forward(xc, wc, g, y);
  add_bias(y, bias);
  SavedTensor sx(w.requires_grad() ? xc : Tensor(), "conv2d input");
  SavedTensor sw(x.requires_grad() ? wc : Tensor(), "conv2d weight");
  const bool has_bias = bias.defined();
  Tensor out = record(op, {x, w, bias}, y, [g, sx, sw, has_bias](const Tensor& grad) {
    Tensor gc = grad.contiguous(), xs = sx.unpack(), ws = sw.unpack();
    Tensor gx, gw;
    if (ws.defined()) {
      gx = Tensor::empty({g.batch, g.in_channels, g.in_h, g.in_w}, gc.dtype(), gc.device());
      kernels::conv2d_backward_input(gc, ws, g, gx);
    }
    if (xs.defined()) {
      gw = Tensor::empty({g.out_channels, g.in_channels / g.groups, g.kernel_h, g.kernel_w}, gc.dtype(),
                         gc.device());
      kernels::conv2d_backward_weight(gc, xs, g, gw);
    }
    return std::vector<Tensor>{gx, gw, has_bias ? channel_sums(gc) : Tensor()};
  });
  return unbatch(out, b.unbatched);
}

// The transposed convolution is the convolution whose input is y (N, K, oH, oW) and whose
// output is x (N, C, H, W), run backward: forward = conv input gradient, grad_x = conv forward,
// grad_w = conv weight gradient with x in grad_y's role.
Tensor conv_transpose2d(const Tensor& input, const Tensor& w, const Tensor& bias, Size2 stride, Size2 padding,
                        Size2 output_padding, int64_t groups, Size2 dilation) {
  if (autocast::casts_convolutions(input)) {
    Tensor xl = autocast::to_lower(input), wl = autocast::to_lower(w), bl = autocast::to_lower(bias);
    if (!xl.is_same(input) || !wl.is_same(w) || !bl.is_same(bias))
      return conv_transpose2d(xl, wl, bl, stride, padding, output_padding, groups, dilation);
  }
  const char* op = "conv_transpose2d";
  Batched b = batched(op, input);
  const Tensor& x = b.x;
  check_conv_args(op, stride, padding, dilation, groups);
  HMR_CHECK(w.dim() == 4, ShapeError, op, ": expected a 4-D weight (in, out / groups, kH, kW) but found ",
            w.sizes());
  HMR_CHECK(x.size(1) == w.size(0), ShapeError, op, ": input ", input.sizes(), " has ", x.size(1),
            " channels but weight ", w.sizes(), " expects ", w.size(0));
  HMR_CHECK(w.size(0) % groups == 0, ValueError, op, ": groups ", groups,
            " must divide the input channels of weight ", w.sizes());
  for (int d = 0; d < 2; ++d)
    HMR_CHECK(output_padding[d] >= 0 && (output_padding[d] < stride[d] || output_padding[d] < dilation[d]),
              ValueError, op, ": output_padding ", pair_str(output_padding), " must be smaller than stride ",
              pair_str(stride), " or dilation ", pair_str(dilation));
  check_weight_and_bias(op, x, w, bias, w.size(1) * groups);
  ConvGeometry g;
  g.batch = x.size(0), g.out_channels = x.size(1), g.out_h = x.size(2), g.out_w = x.size(3);
  g.in_channels = w.size(1) * groups, g.kernel_h = w.size(2), g.kernel_w = w.size(3);
  g.stride_h = stride[0], g.stride_w = stride[1], g.pad_h = padding[0], g.pad_w = padding[1];
  g.dilation_h = dilation[0], g.dilation_w = dilation[1], g.groups = groups;
  g.in_h = (g.out_h - 1) * g.stride_h - 2 * g.pad_h + g.dilation_h * (g.kernel_h - 1) + output_padding[0] + 1;
  g.in_w = (g.out_w - 1) * g.stride_w - 2 * g.pad_w + g.dilation_w * (g.kernel_w - 1) + output_padding[1] + 1;
  HMR_CHECK(g.in_h > 0 && g.in_w > 0, ShapeError, op, ": input ", input.sizes(), " with weight ", w.sizes(),
            ", stride ", pair_str(stride), " and padding ", pair_str(padding), " gives output size ", g.in_h,
            " x ", g.in_w);

  Tensor xc = x.contiguous().detach(), wc = w.contiguous().detach();
  Tensor y = Tensor::empty({g.batch, g.in_channels, g.in_h, g.in_w}, x.dtype(), x.device());
  kernels::conv2d_backward_input(xc, wc, g, y);
  add_bias(y, bias);
  SavedTensor sx(w.requires_grad() ? xc : Tensor(), "conv_transpose2d input");
  SavedTensor sw(x.requires_grad() ? wc : Tensor(), "conv_transpose2d weight");
  const bool has_bias = bias.defined();
  Tensor out = record(op, {x, w, bias}, y, [g, sx, sw, has_bias](const Tensor& grad) {
    Tensor gc = grad.contiguous(), xs = sx.unpack(), ws = sw.unpack();
    Tensor gx, gw;
    if (ws.defined()) {
      gx = Tensor::empty({g.batch, g.out_channels, g.out_h, g.out_w}, gc.dtype(), gc.device());
      kernels::conv2d_forward(gc, ws, g, gx);
    }
    if (xs.defined()) {
      gw = Tensor::empty({g.out_channels, g.in_channels / g.groups, g.kernel_h, g.kernel_w}, gc.dtype(),
                         gc.device());
      kernels::conv2d_backward_weight(xs, gc, g, gw);
    }
    return std::vector<Tensor>{gx, gw, has_bias ? channel_sums(gc) : Tensor()};
  });
  return unbatch(out, b.unbatched);
}

// ---- pooling --------------------------------------------------------------------------------

namespace {

PoolGeometry pool_geometry(const char* op, const Tensor& x, Size2 kernel, std::optional<Size2> stride_opt,
                           Size2 padding, Size2 dilation, bool ceil_mode) {
  const Size2 stride = stride_opt ? *stride_opt : kernel;
  HMR_CHECK(kernel[0] > 0 && kernel[1] > 0, ValueError, op, ": kernel_size must be positive but found ",
            pair_str(kernel));
  HMR_CHECK(stride[0] > 0 && stride[1] > 0, ValueError, op, ": stride must be positive but found ",
            pair_str(stride));
  HMR_CHECK(dilation[0] > 0 && dilation[1] > 0, ValueError, op, ": dilation must be positive but found ",
            pair_str(dilation));
  HMR_CHECK(padding[0] >= 0 && padding[1] >= 0 && 2 * padding[0] <= kernel[0] && 2 * padding[1] <= kernel[1],
            ValueError, op, ": padding ", pair_str(padding), " must be at most half of kernel_size ",
            pair_str(kernel));
  PoolGeometry g;
  g.planes = x.size(0) * x.size(1), g.in_h = x.size(2), g.in_w = x.size(3);
  g.kernel_h = kernel[0], g.kernel_w = kernel[1], g.stride_h = stride[0], g.stride_w = stride[1];
  g.pad_h = padding[0], g.pad_w = padding[1], g.dilation_h = dilation[0], g.dilation_w = dilation[1];
  g.out_h = output_size(g.in_h, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h, ceil_mode);
  g.out_w = output_size(g.in_w, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w, ceil_mode);
  HMR_CHECK(g.out_h > 0 && g.out_w > 0, ShapeError, op, ": input ", x.sizes(),
            " is too small for kernel_size ", pair_str(kernel), " (padding ", pair_str(padding),
            ", dilation ", pair_str(dilation), "): output size would be ", g.out_h, " x ", g.out_w);
  return g;
}

}  // namespace

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, Size2 kernel_size,
                                                  std::optional<Size2> stride, Size2 padding, Size2 dilation,
                                                  bool ceil_mode) {
  const char* op = "max_pool2d";
  Batched b = batched(op, input);
  const PoolGeometry g = pool_geometry(op, b.x, kernel_size, stride, padding, dilation, ceil_mode);
  const Shape out_shape{b.x.size(0), b.x.size(1), g.out_h, g.out_w};
  Tensor xc = b.x.contiguous().detach();
  Tensor y = Tensor::empty(out_shape, xc.dtype(), xc.device());
  Tensor indices = Tensor::empty(out_shape, DType::I64, xc.device());
  kernels::max_pool2d_forward(xc, g, y, indices);
  const Shape in_shape = xc.sizes();
  Tensor out = record(op, {b.x}, y, [g, in_shape, indices](const Tensor& grad) {
    Tensor gx = Tensor::empty(in_shape, grad.dtype(), grad.device());
    kernels::max_pool2d_backward(grad.contiguous(), indices, g, gx);
    return std::vector<Tensor>{gx};
  });
  return {unbatch(out, b.unbatched), unbatch(indices, b.unbatched)};
}

Tensor max_pool2d(const Tensor& x, Size2 kernel_size, std::optional<Size2> stride, Size2 padding,
                  Size2 dilation, bool ceil_mode) {
  return max_pool2d_with_indices(x, kernel_size, stride, padding, dilation, ceil_mode).first;
}

Tensor avg_pool2d(const Tensor& input, Size2 kernel_size, std::optional<Size2> stride, Size2 padding,
                  bool ceil_mode, bool count_include_pad) {
  const char* op = "avg_pool2d";
  Batched b = batched(op, input);
  const PoolGeometry g = pool_geometry(op, b.x, kernel_size, stride, padding, {1, 1}, ceil_mode);
  Tensor xc = b.x.contiguous().detach();
  Tensor y = Tensor::empty({b.x.size(0), b.x.size(1), g.out_h, g.out_w}, xc.dtype(), xc.device());
  kernels::avg_pool2d_forward(xc, g, count_include_pad, y);
  const Shape in_shape = xc.sizes();
  Tensor out = record(op, {b.x}, y, [g, in_shape, count_include_pad](const Tensor& grad) {
    Tensor gx = Tensor::empty(in_shape, grad.dtype(), grad.device());
    kernels::avg_pool2d_backward(grad.contiguous(), g, count_include_pad, gx);
    return std::vector<Tensor>{gx};
  });
  return unbatch(out, b.unbatched);
}

Tensor adaptive_avg_pool2d(const Tensor& input, Size2 output_size) {
  const char* op = "adaptive_avg_pool2d";
  Batched b = batched(op, input);
  HMR_CHECK(output_size[0] > 0 && output_size[1] > 0, ValueError, op,
            ": output_size must be positive but found ", pair_str(output_size));
  HMR_CHECK(b.x.size(2) > 0 && b.x.size(3) > 0, ShapeError, op,
            ": expected a non-empty (H, W) but found input ", input.sizes());
  PoolGeometry g;
  g.planes = b.x.size(0) * b.x.size(1), g.in_h = b.x.size(2), g.in_w = b.x.size(3);
  g.out_h = output_size[0], g.out_w = output_size[1];
  Tensor xc = b.x.contiguous().detach();
  Tensor y = Tensor::empty({b.x.size(0), b.x.size(1), g.out_h, g.out_w}, xc.dtype(), xc.device());
  kernels::adaptive_avg_pool2d_forward(xc, g, y);
  const Shape in_shape = xc.sizes();
  Tensor out = record(op, {b.x}, y, [g, in_shape](const Tensor& grad) {
    Tensor gx = Tensor::empty(in_shape, grad.dtype(), grad.device());
    kernels::adaptive_avg_pool2d_backward(grad.contiguous(), g, gx);
    return std::vector<Tensor>{gx};
  });
  return unbatch(out, b.unbatched);
}

}  // namespace hmr
