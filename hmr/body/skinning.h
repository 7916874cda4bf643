// Linear blend skinning as one fused, differentiable op: every vertex's transform is blended
// from the joints' transforms in registers and applied at once, so the (B, V, 4, 4) per-vertex
// matrices of the composed version never exist. The per-vertex math is written once below for
// the CPU loop (hmr/body/cpu/skinning.cpp) and the CUDA kernels (hmr/body/cuda/skinning.cu).
#pragma once

#include <cstdint>

#include "tensor/half.h"
#include "tensor/tensor.h"

namespace hmr::body {

// out[b, v] = sum_j weights[v, j] * (A[b, j, :3, :3] v_posed[b, v] + A[b, j, :3, 3])
//   weights (V, J), constant (no gradient); A (B, J, 3, 4) or (B, J, 4, 4) (the last row of a
//   4x4 is ignored, as the homogeneous coordinate of a rigid transform is 1); v_posed (B, V, 3).
// Returns (B, V, 3). Differentiable w.r.t. A and v_posed; f32 or f64, CPU or CUDA.
Tensor skin(const Tensor& weights, const Tensor& A, const Tensor& v_posed);

namespace skinning {

// The 12 numbers of a 3x4 transform, row-major: [r00 r01 r02 t0 | r10 r11 r12 t1 | r20 ...].
constexpr int kTransform = 12;

// T = sum_j w[j] * A[j] over one vertex's dense weight row (the blended 3x4 transform). The CUDA
// kernels use it as is; the CPU walks the same sum over compressed rows of non-zeros.
template <class T>
HMR_HOST_DEVICE void blend(const T* w, const T* A, int64_t joints, T* out) {
  for (int k = 0; k < kTransform; ++k) out[k] = T(0);
  for (int64_t j = 0; j < joints; ++j) {
    const T wj = w[j];
    if (wj == T(0)) continue;  // real SMPL weights touch at most 4 joints per vertex
    const T* a = A + j * kTransform;
    for (int k = 0; k < kTransform; ++k) out[k] += wj * a[k];
  }
}

// y = T[:, :3] p + T[:, 3].
template <class T>
HMR_HOST_DEVICE void apply(const T* t, const T* p, T* y) {
  for (int r = 0; r < 3; ++r)
    y[r] = t[4 * r] * p[0] + t[4 * r + 1] * p[1] + t[4 * r + 2] * p[2] + t[4 * r + 3];
}

// The backward of apply for one vertex: dp = T[:, :3]^T g, and the gradient of the blended
// transform, dT = g [p, 1]^T (12 numbers), from which dA[j] += w[j] * dT.
template <class T>
HMR_HOST_DEVICE void apply_backward(const T* t, const T* p, const T* g, T* dp, T* dt) {
  for (int c = 0; c < 3; ++c) dp[c] = t[c] * g[0] + t[4 + c] * g[1] + t[8 + c] * g[2];
  for (int r = 0; r < 3; ++r) {
    dt[4 * r] = g[r] * p[0];
    dt[4 * r + 1] = g[r] * p[1];
    dt[4 * r + 2] = g[r] * p[2];
    dt[4 * r + 3] = g[r];
  }
}

// Backends. Every tensor is contiguous and of one dtype (f32 or f64): weights (V, J),
// A (B, J, 3, 4), v_posed / out / grad / grad_v_posed (B, V, 3), grad_A (B, J, 3, 4).
// The backward writes (never accumulates into) both gradients.
#define HMR_SKINNING_BACKEND                                                                            \
  void skin_forward(const Tensor& weights, const Tensor& A, const Tensor& v_posed, const Tensor& out);  \
  void skin_backward(const Tensor& weights, const Tensor& A, const Tensor& v_posed, const Tensor& grad, \
                     const Tensor& grad_A, const Tensor& grad_v_posed);
namespace cpu {
HMR_SKINNING_BACKEND
}
namespace cuda {
HMR_SKINNING_BACKEND
}

}  // namespace skinning
}  // namespace hmr::body
