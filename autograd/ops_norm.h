// Normalization, dropout and embedding ops (PyTorch's torch.nn.functional semantics): declared
// here, defined with their backward in autograd/ops/norm.cpp. Included by autograd/ops.h.
#pragma once

#include <optional>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace hmr {

// x is (N, C), (N, C, L) or (N, C, H, W). Training normalises with the batch statistics (biased
// variance) and, when given, updates running_mean / running_var in place without history:
// r = (1 - momentum) * r + momentum * batch statistic, with the unbiased variance, as torch.
// Eval normalises with the running statistics. weight, bias and the running stats may be
// undefined (eval needs the running stats).
Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5);
// x is (N, C, *); statistics per sample and group of C / groups channels; weight, bias (C).
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias,
                  double eps = 1e-5);
// Statistics over the trailing dims given by normalized_shape; weight, bias of that shape.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps = 1e-5);
// Zeroes each element with probability p (Philox mask: the same on CPU and CUDA for one
// generator state) and scales the kept ones by 1 / (1 - p). Returns x when !training or p == 0.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);
// Rows of weight (V, D) picked by integer indices: shape indices.shape + (D). The gradient adds
// each output row into its weight row; the padding_idx row gets none.
Tensor embedding(const Tensor& weight, const Tensor& indices,
                 std::optional<int64_t> padding_idx = std::nullopt);

}  // namespace hmr
