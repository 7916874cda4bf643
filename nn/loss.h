// Loss functions with torch.nn.functional's semantics, composed from autograd ops so their
// gradients come from the ops' own backward formulas. Errors name the loss and the shapes.
#pragma once

#include "tensor/tensor.h"

namespace hmr::nn {

enum class Reduction { None, Mean, Sum };

// |x - y|.
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// (x - y)^2.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// Huber-like: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (beta = 0: l1_loss).
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
                      double beta = 1.0);
// -w (y log x + (1 - y) log(1 - x)), each log clamped at -100 as torch (so x = 0 or 1 stays finite).
// weight (optional) broadcasts to the input's shape.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                            Reduction reduction = Reduction::Mean);
// -w (p y log s(x) + (1 - y) log(1 - s(x))) with s the sigmoid, in the stable form
// (1 - y) x + (1 + (p - 1) y) (log(1 + exp(-|x|)) + max(-x, 0)). pos_weight p broadcasts along
// the last (class) dim.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const Tensor& weight = Tensor(), const Tensor& pos_weight = Tensor(),
                                        Reduction reduction = Reduction::Mean);
// Negative log-likelihood of class indices: log_probs (N, C) or (N, C, d1, ...), or (C) with a
// 0-dim target; target int64 (N) or (N, d1, ...). Targets equal to ignore_index contribute 0;
// the weighted mean divides by the summed weights of the other targets, as torch.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight = Tensor(),
                Reduction reduction = Reduction::Mean, int64_t ignore_index = -100);
// log_softmax over dim 1 then nll_loss, with label smoothing (the target mixes the one-hot class
// with the uniform distribution, torch's formula); or, when target is floating and shaped like
// input, class probabilities: -sum_c w_c y_c log_softmax(x)_c, mean over the non-class elements.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                     Reduction reduction = Reduction::Mean, int64_t ignore_index = -100,
                     double label_smoothing = 0.0);

}  // namespace hmr::nn
