// Fused softmax and log-softmax along one dim, forward and backward, device-dispatched.
// The input is seen as a contiguous (outer, n, inner) block; each of the outer * inner lanes
// of length n is read three times (max, sum of exp(x - max), write), never materialising
// exp(x) or overflowing for large inputs. 16-bit floats compute in float.
#pragma once

#include "kernels/functors.h"
#include "tensor/tensor.h"

namespace hmr::kernels {

// out = softmax(x) (or log_softmax when log) along dim; out has x's shape and dtype.
void softmax(const Tensor& x, int64_t dim, bool log, const Tensor& out);

// Given y = softmax(x) (log_softmax(x) when log) and the output gradient g:
//   softmax:     grad_in = y * (g - sum(g * y))
//   log_softmax: grad_in = g - exp(y) * sum(g)
void softmax_backward(const Tensor& grad, const Tensor& y, int64_t dim, bool log, const Tensor& grad_in);

// The per-element steps, shared by the backends. A lane's max m and s = sum exp(x - m) give
// scale = 1/s (softmax) or log(s) (log_softmax); dot is sum(g * y) (softmax) or sum(g).
template <class A> HMR_HOST_DEVICE A softmax_max(A a, A b) { return (math::isnan(a) || a > b) ? a : b; }
template <class A> HMR_HOST_DEVICE A softmax_scale(A s, bool log) { return log ? math::log(s) : A(1) / s; }
template <class A> HMR_HOST_DEVICE A softmax_output(A x, A m, A scale, bool log) {
  return log ? x - m - scale : math::exp(x - m) * scale;
}
template <class A> HMR_HOST_DEVICE A softmax_dot_term(A g, A y, bool log) { return log ? g : g * y; }
template <class A> HMR_HOST_DEVICE A softmax_grad(A g, A y, A dot, bool log) {
  return log ? g - math::exp(y) * dot : y * (g - dot);
}

// Backends: every tensor is a contiguous (outer, n, inner) block of one floating dtype.
#define HMR_SOFTMAX_BACKEND                                                                    \
  void softmax_lanes(const Tensor& x, bool log, const Tensor& out);                            \
  void softmax_backward_lanes(const Tensor& grad, const Tensor& y, bool log, const Tensor& grad_in);
namespace cpu { HMR_SOFTMAX_BACKEND }
namespace cuda { HMR_SOFTMAX_BACKEND }

}  // namespace hmr::kernels
