// Convolution and pooling ops (PyTorch's torch.nn.functional semantics, NCHW): declared here,
// defined with their backward in autograd/ops/conv.cpp. Included by autograd/ops.h.
// Every op takes a batch (N, C, H, W) or, as torch, one unbatched sample (C, H, W).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <utility>

#include "tensor/tensor.h"

namespace hmr {

using Size2 = std::array<int64_t, 2>;

// x (N, C, H, W), w (K, C / groups, kH, kW), bias (K) or undefined -> (N, K, oH, oW).
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(), Size2 stride = {1, 1},
              Size2 padding = {0, 0}, Size2 dilation = {1, 1}, int64_t groups = 1);
// x (N, C, H, W), w (C, K / groups, kH, kW), bias (K) -> (N, K, oH, oW) with
// oH = (H - 1) sH - 2 pH + dH (kH - 1) + output_padding_h + 1. Argument order as torch's.
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(),
                        Size2 stride = {1, 1}, Size2 padding = {0, 0}, Size2 output_padding = {0, 0},
                        int64_t groups = 1, Size2 dilation = {1, 1});

// stride defaults to kernel_size. Indices are flat (h * W + w) within each (H, W) plane.
Tensor max_pool2d(const Tensor& x, Size2 kernel_size, std::optional<Size2> stride = std::nullopt,
                  Size2 padding = {0, 0}, Size2 dilation = {1, 1}, bool ceil_mode = false);
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, Size2 kernel_size,
                                                  std::optional<Size2> stride = std::nullopt,
                                                  Size2 padding = {0, 0}, Size2 dilation = {1, 1},
                                                  bool ceil_mode = false);
Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, std::optional<Size2> stride = std::nullopt,
                  Size2 padding = {0, 0}, bool ceil_mode = false, bool count_include_pad = true);
Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size);

}  // namespace hmr
