// Fused normalization kernels (batch, group and layer norm), forward and backward, device-
// dispatched. All three see the input as a contiguous (outer, C, inner) block whose statistics
// are taken per "channel" c over outer * inner elements: batch norm is (N, C, L); group and
// layer norm are (1, rows, row_length), one row per (sample, group) or per normalized slice.
// Statistics use Welford's update in the accumulation type (f64 for f64, f32 otherwise): one
// pass, no cancellation from E[x^2] - E[x]^2, and partial states from threads, warps or blocks
// merge exactly (Chan et al.), which two-level plain sums would not give for the variance.
#pragma once

#include <cstdint>

#include "kernels/functors.h"
#include "tensor/tensor.h"

namespace hmr::kernels {

// Where element (o, c, i) finds its affine parameter: p = (c % groups) * (inner / span) + i / span.
//   batch norm: groups = C, span = inner         -> p = c
//   group norm: groups = G, span = spatial size  -> p = channel within the (sample, group) row
//   layer norm: groups = 1, span = 1             -> p = i
struct AffineMap {
  int64_t groups = 1;
  int64_t span = 1;
  // True when every element of channel c uses parameter c (batch norm).
  bool per_channel(int64_t channels, int64_t inner) const { return groups == channels && span == inner; }
};

// The dtype of mean/invstd for an input dtype: f64 for f64, f32 for f32/f16/bf16.
DType norm_stats_dtype(DType x);

// mean[c], invstd[c] = 1 / sqrt(var[c] + eps) of x (outer, C, inner), biased variance; var
// (biased) is written too when defined (running-statistics updates need it).
void norm_stats(const Tensor& x, double eps, const Tensor& mean, const Tensor& invstd, const Tensor& var);

// out = (x - mean[c]) * invstd[c] * weight[p] + bias[p]; weight/bias may be undefined.
void norm_apply(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight,
                const Tensor& bias, AffineMap map, const Tensor& out);

// Gradients of norm_apply with respect to x, weight and bias (each written when defined).
// With batch_stats, mean/invstd are functions of x (training) and, with gw = grad * weight[p]
// and xhat = (x - mean) * invstd over the M = outer * inner elements of channel c,
//   grad_x = invstd * (gw - sum(gw) / M - xhat * sum(gw * xhat) / M);
// without, they are constants (batch norm in eval) and grad_x = gw * invstd.
// grad_weight[p] = sum(grad * xhat), grad_bias[p] = sum(grad) over the elements using p.
void norm_backward(const Tensor& grad, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                   const Tensor& weight, AffineMap map, bool batch_stats, const Tensor& grad_x,
                   const Tensor& grad_weight, const Tensor& grad_bias);

// ---- math shared by the backends ------------------------------------------------------------

// A running (count, mean, sum of squared deviations) triple; merge() is Chan's parallel update.
template <class A>
struct Welford {
  A count = A(0), mean = A(0), m2 = A(0);
  HMR_HOST_DEVICE void add(A x) {
    count += A(1);
    A d = x - mean;
    mean += d / count;
    m2 += d * (x - mean);
  }
  HMR_HOST_DEVICE void merge(A n, A m, A q) {
    if (n == A(0)) return;
    A total = count + n;
    A d = m - mean;
    A w = n / total;
    mean += d * w;
    m2 += q + d * d * count * w;
    count = total;
  }
  HMR_HOST_DEVICE A variance() const { return count > A(0) ? m2 / count : A(0); }
};

HMR_HOST_DEVICE int64_t affine_index(AffineMap map, int64_t c, int64_t i, int64_t inner) {
  return (c % map.groups) * (inner / map.span) + i / map.span;
}

// grad_x for one element, given the channel sums of gw and gw * xhat (already divided by M).
template <class A>
HMR_HOST_DEVICE A norm_grad_input(A gw, A xhat, A invstd, A mean_gw, A mean_gw_xhat, bool batch_stats) {
  return batch_stats ? invstd * (gw - mean_gw - xhat * mean_gw_xhat) : gw * invstd;
}

// Backends: x, grad, out, grad_x are contiguous (outer, C, inner) of one floating dtype; mean,
// invstd, var are contiguous (C) of norm_stats_dtype; weight, bias, grad_weight, grad_bias are
// contiguous vectors of x's dtype, or undefined.
#define HMR_NORM_BACKEND                                                                                     \
  void norm_stats(const Tensor& x, double eps, const Tensor& mean, const Tensor& invstd, const Tensor& var); \
  void norm_apply(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight,           \
                  const Tensor& bias, AffineMap map, const Tensor& out);                                     \
  void norm_backward(const Tensor& grad, const Tensor& x, const Tensor& mean, const Tensor& invstd,          \
                     const Tensor& weight, AffineMap map, bool batch_stats, const Tensor& grad_x,            \
                     const Tensor& grad_weight, const Tensor& grad_bias);
namespace cpu {
HMR_NORM_BACKEND
}
namespace cuda {
HMR_NORM_BACKEND
}

}  // namespace hmr::kernels
