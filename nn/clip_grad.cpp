// Gradient clipping: one norm per gradient, the norm of those norms, then one in-place scale
// per gradient (always applied, with a factor of 1 when under the limit, as torch).
#include "nn/clip_grad.h"

#include <cmath>

#include "autograd/ops.h"

namespace hmr::nn {

namespace {
std::vector<Tensor> grads_of(const std::vector<Tensor>& params) {
  std::vector<Tensor> grads;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (g.defined()) grads.push_back(g);
  }
  return grads;
}
}  // namespace

Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  NoGradGuard no_grad;
  std::vector<Tensor> grads = grads_of(params);
  if (grads.empty()) return scalar_tensor(0.0);
  const bool is_inf = std::isinf(norm_type);
  HMR_CHECK(norm_type > 0, ValueError, "clip_grad_norm_: norm_type must be positive or inf, got ", norm_type);
  std::vector<Tensor> norms;
  const Device device = grads[0].device();
  for (const Tensor& g : grads) {
    Tensor n = is_inf ? amax(abs(g)) : norm(g, norm_type);
    norms.push_back(n.to(device));
  }
  Tensor stacked = stack(norms, 0);
  Tensor total = is_inf ? amax(stacked) : norm(stacked, norm_type);
  if (error_if_nonfinite) {
    const double value = total.item<double>();
    HMR_CHECK(std::isfinite(value), ValueError, "clip_grad_norm_: the total norm of order ", norm_type,
              " of the gradients of ", grads.size(), " parameters is ", value,
              ", so they cannot be clipped (pass error_if_nonfinite = false to skip this check)");
  }
  // The factor stays a tensor so the clip needs no device-to-host copy.
  Tensor factor = clamp(rdiv(add(total, 1e-6), max_norm), std::nullopt, 1.0);
  for (Tensor& g : grads) g.mul_(factor.to(g.device(), g.dtype()));
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  NoGradGuard no_grad;
  HMR_CHECK(clip_value >= 0, ValueError, "clip_grad_value_: clip_value must be non-negative, got ",
            clip_value);
  for (Tensor& g : grads_of(params)) g.copy_(clamp(g, -clip_value, clip_value));
}

}  // namespace hmr::nn
