// Gradient clipping as torch.nn.utils.clip_grad_norm_ / clip_grad_value_: rescale or clamp the
// .grad of parameters in place, between backward() and the optimizer step.
#pragma once

#include <limits>
#include <vector>

#include "tensor/tensor.h"

namespace hmr::nn {

// Scales all gradients by min(1, max_norm / (total_norm + 1e-6)), where total_norm is the
// norm_type-norm of all gradients concatenated (norm_type = infinity: the largest |g|).
// Returns total_norm as a 0-dim tensor. Parameters without a gradient are skipped.
// error_if_nonfinite: ValueError when total_norm is nan or inf (gradients left untouched).
Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

// Clamps every gradient element to [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace hmr::nn
