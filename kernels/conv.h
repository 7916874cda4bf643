// Convolution and pooling kernels (NCHW), device-dispatched. Three convolution kernels serve
// both conv2d and conv_transpose2d: a transposed convolution's forward is a convolution's
// input gradient, and its gradients are a convolution forward and weight gradient. The window
// arithmetic both backends share (output sizes, pooling windows) is written once below.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace hmr::kernels {

// One 2-D convolution y = conv(x, w): x (N, C, H, W), w (K, C / groups, kH, kW),
// y (N, K, oH, oW), with oH = (H + 2 pH - dH (kH - 1) - 1) / sH + 1 (and likewise for W).
struct ConvGeometry {
  int64_t batch = 0, in_channels = 0, in_h = 0, in_w = 0;
  int64_t out_channels = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
};

// A pooling window over planes (N * C of them) of an (H, W) input giving (oH, oW).
struct PoolGeometry {
  int64_t planes = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
};

// All tensors below are contiguous and of one floating dtype (indices: int64). Outputs are
// written, never read, unless said otherwise.
void conv2d_forward(const Tensor& x, const Tensor& w, const ConvGeometry& g, const Tensor& y);
// grad_x = d<y, grad_y>/dx (the transposed convolution of grad_y with w).
void conv2d_backward_input(const Tensor& grad_y, const Tensor& w, const ConvGeometry& g,
                           const Tensor& grad_x);
void conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, const ConvGeometry& g,
                            const Tensor& grad_w);
// y (N, C, H, W) += bias[c], in place.
void add_channel_bias(const Tensor& y, const Tensor& bias);

// out and indices (flat h * W + w within the plane, as torch) of each window's maximum; NaN
// wins, as in torch. grad_x is zeroed and receives grad_out at the indices.
void max_pool2d_forward(const Tensor& x, const PoolGeometry& g, const Tensor& out, const Tensor& indices);
void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const PoolGeometry& g,
                         const Tensor& grad_x);
// Each window's sum is divided by avg_pool_divisor (below), as torch without divisor_override.
void avg_pool2d_forward(const Tensor& x, const PoolGeometry& g, bool count_include_pad, const Tensor& out);
void avg_pool2d_backward(const Tensor& grad_out, const PoolGeometry& g, bool count_include_pad,
                         const Tensor& grad_x);
// Adaptive pools use only planes, in and out sizes of g.
void adaptive_avg_pool2d_forward(const Tensor& x, const PoolGeometry& g, const Tensor& out);
void adaptive_avg_pool2d_backward(const Tensor& grad_out, const PoolGeometry& g, const Tensor& grad_x);

#define HMR_CONV_BACKEND                                                                                     \
  void conv2d_forward(const Tensor& x, const Tensor& w, const ConvGeometry& g, const Tensor& y);             \
  void conv2d_backward_input(const Tensor& grad_y, const Tensor& w, const ConvGeometry& g,                   \
                             const Tensor& grad_x);                                                          \
  void conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, const ConvGeometry& g,                  \
                              const Tensor& grad_w);                                                         \
  void add_channel_bias(const Tensor& y, const Tensor& bias);                                                \
  void max_pool2d_forward(const Tensor& x, const PoolGeometry& g, const Tensor& out, const Tensor& indices); \
  void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const PoolGeometry& g,             \
                           const Tensor& grad_x);                                                            \
  void avg_pool2d_forward(const Tensor& x, const PoolGeometry& g, bool count_include_pad,                    \
                          const Tensor& out);                                                                \
  void avg_pool2d_backward(const Tensor& grad_out, const PoolGeometry& g, bool count_include_pad,            \
                           const Tensor& grad_x);                                                            \
  void adaptive_avg_pool2d_forward(const Tensor& x, const PoolGeometry& g, const Tensor& out);               \
  void adaptive_avg_pool2d_backward(const Tensor& grad_out, const PoolGeometry& g, const Tensor& grad_x);
namespace cpu {
HMR_CONV_BACKEND
}
namespace cuda {
HMR_CONV_BACKEND
}

// ---- window arithmetic shared by the backends --------------------------------------------------

// [start, end) of output cell o of an adaptive pool from in to out cells: floor and ceil of
// o * in / out and (o + 1) * in / out.
HMR_HOST_DEVICE int64_t adaptive_start(int64_t o, int64_t in, int64_t out) { return (o * in) / out; }
HMR_HOST_DEVICE int64_t adaptive_end(int64_t o, int64_t in, int64_t out) {
  return ((o + 1) * in + out - 1) / out;
}

// The divisor of avg pool window (oh, ow): the window clipped to the padded input, or to the
// input itself without count_include_pad.
HMR_HOST_DEVICE int64_t avg_pool_divisor(const PoolGeometry& g, int64_t oh, int64_t ow,
                                         bool count_include_pad) {
  int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
  int64_t h1 = h0 + g.kernel_h, w1 = w0 + g.kernel_w;
  h1 = h1 < g.in_h + g.pad_h ? h1 : g.in_h + g.pad_h;
  w1 = w1 < g.in_w + g.pad_w ? w1 : g.in_w + g.pad_w;
  if (count_include_pad) return (h1 - h0) * (w1 - w0);
  h0 = h0 > 0 ? h0 : 0;
  w0 = w0 > 0 ? w0 : 0;
  h1 = h1 < g.in_h ? h1 : g.in_h;
  w1 = w1 < g.in_w ? w1 : g.in_w;
  return (h1 - h0) * (w1 - w0);
}

}  // namespace hmr::kernels
