// Small dense matrices, one per thread: Gaussian elimination with partial pivoting (inverse,
// det, solve) and a 3x3 SVD, written once for the CPU loop and the CUDA kernel (one thread per
// matrix). Matrices are row-major and contiguous; T is float or double and all math is in T.
//
// The elimination works on the augmented system [A | R] so no pivot array is needed: row swaps
// are applied to the right-hand side as they happen, then back substitution solves in place.
#pragma once

#include "kernels/functors.h"

namespace hmr::kernels::small {

template <class T>
HMR_HOST_DEVICE T abs_of(T x) {
  return x < T(0) ? -x : x;
}

template <class T>
HMR_HOST_DEVICE void swap_values(T& x, T& y) {
  T t = x;
  x = y;
  y = t;
}

// Reduces the n x n matrix a to upper-triangular form in place, applying the same row
// operations to the n x k right-hand side r (k may be 0). Returns the first column whose
// pivot is exactly zero (the matrix is singular; LAPACK's getrf reports the same), or -1.
// *swaps counts row exchanges, for the sign of the determinant.
template <class T>
HMR_HOST_DEVICE int eliminate(T* a, int n, T* r, int k, int* swaps) {
  int zero_pivot = -1;
  *swaps = 0;
  for (int c = 0; c < n; ++c) {
    int p = c;
    for (int i = c + 1; i < n; ++i)
      if (abs_of(a[i * n + c]) > abs_of(a[p * n + c])) p = i;
    if (a[p * n + c] == T(0)) {
      if (zero_pivot < 0) zero_pivot = c;
      continue;  // column already zero below the diagonal: nothing to eliminate
    }
    if (p != c) {
      for (int j = c; j < n; ++j) swap_values(a[c * n + j], a[p * n + j]);
      for (int j = 0; j < k; ++j) swap_values(r[c * k + j], r[p * k + j]);
      ++*swaps;
    }
    const T inv_pivot = T(1) / a[c * n + c];
    for (int i = c + 1; i < n; ++i) {
      const T f = a[i * n + c] * inv_pivot;
      if (f == T(0)) continue;
      a[i * n + c] = T(0);
      for (int j = c + 1; j < n; ++j) a[i * n + j] -= f * a[c * n + j];
      for (int j = 0; j < k; ++j) r[i * k + j] -= f * r[c * k + j];
    }
  }
  return zero_pivot;
}

// Solves u x = r in place for upper-triangular u (n x n) with a non-zero diagonal.
template <class T>
HMR_HOST_DEVICE void back_substitute(const T* u, int n, T* r, int k) {
  for (int i = n - 1; i >= 0; --i) {
    const T inv_diag = T(1) / u[i * n + i];
    for (int j = 0; j < k; ++j) {
      T acc = r[i * k + j];
      for (int l = i + 1; l < n; ++l) acc -= u[i * n + l] * r[l * k + j];
      r[i * k + j] = acc * inv_diag;
    }
  }
}

// a <- LU scratch, r <- a^-1 r. Returns the zero-pivot column, or -1 on success.
template <class T>
HMR_HOST_DEVICE int lu_solve(T* a, int n, T* r, int k) {
  int swaps = 0;
  int zero_pivot = eliminate(a, n, r, k, &swaps);
  if (zero_pivot < 0) back_substitute(a, n, r, k);
  return zero_pivot;
}

// det(a); a is overwritten. Exactly 0 for a matrix with a zero pivot.
template <class T>
HMR_HOST_DEVICE T lu_det(T* a, int n) {
  int swaps = 0;
  if (eliminate(a, n, static_cast<T*>(nullptr), 0, &swaps) >= 0) return T(0);
  T d = (swaps & 1) ? T(-1) : T(1);
  for (int i = 0; i < n; ++i) d *= a[i * n + i];
  return d;
}

// ---- 3x3 SVD ----------------------------------------------------------------------------------
//
// a = u diag(s) v^T, s descending and >= 0, u and v orthogonal (det may be -1: a plain SVD,
// not a rotation fit). Steps:
//  1. scale a so its largest entry is 1 (then s[0] >= 1 unless a == 0; nothing over/underflows);
//  2. one-sided Jacobi (Hestenes): rotate pairs of columns of b = a until every pair is
//     orthogonal relative to its norms, accumulating the rotations in v, so b = a v. Unlike
//     Jacobi on a^T a this never squares the condition number: the small singular values
//     keep their accuracy relative to themselves, and U S V^T reconstructs a to rounding level;
//  3. the column norms of b are the singular values; columns are sorted by them, and each v
//     column is given the sign that makes its largest component positive, so the result is a
//     deterministic, piecewise-smooth function of a (finite differences and CPU/CUDA
//     comparisons rely on it);
//  4. u by Gram-Schmidt on b: u0 = b0/|b0|; u1 from b1 orthogonalised against u0, or any unit
//     vector orthogonal to u0 when b1 vanishes (rank 1); u2 = +-(u0 x u1), the sign following
//     b2, which is exact even when s[2] is 0 (rank-deficient input).

template <class T>
HMR_HOST_DEVICE T dot3(const T* x, const T* y) {
  return x[0] * y[0] + x[1] * y[1] + x[2] * y[2];
}

// Rotates columns p and q of the 3x3 b (and of v) in their plane until they are orthogonal.
// Returns false, touching nothing, when they already are to within rounding of their norms.
template <class T>
HMR_HOST_DEVICE bool orthogonalize_columns(T* b, T* v, int p, int q, T eps) {
  T alpha = T(0), beta = T(0), gamma = T(0);
  for (int r = 0; r < 3; ++r) {
    alpha += b[r * 3 + p] * b[r * 3 + p];
    beta += b[r * 3 + q] * b[r * 3 + q];
    gamma += b[r * 3 + p] * b[r * 3 + q];
  }
  // The tolerance allows for the rounding of gamma itself (a few eps of the norms).
  if (!(abs_of(gamma) > T(4) * eps * math::sqrt(alpha * beta))) return false;  // also stops on NaN
  // tan of the angle solves t^2 + 2 zeta t - 1 = 0; the smaller root keeps it below pi/4.
  const T zeta = (beta - alpha) / (T(2) * gamma);
  const T t = abs_of(zeta) > T(1) / eps
                  ? T(1) / (T(2) * zeta)  // zeta^2 would overflow
                  : (zeta >= T(0) ? T(1) : T(-1)) / (abs_of(zeta) + math::sqrt(zeta * zeta + T(1)));
  const T c = T(1) / math::sqrt(t * t + T(1));
  const T s = t * c;
  for (int r = 0; r < 3; ++r) {
    const T bp = b[r * 3 + p], bq = b[r * 3 + q];
    b[r * 3 + p] = c * bp - s * bq;
    b[r * 3 + q] = s * bp + c * bq;
    const T vp = v[r * 3 + p], vq = v[r * 3 + q];
    v[r * 3 + p] = c * vp - s * vq;
    v[r * 3 + q] = s * vp + c * vq;
  }
  return true;
}

template <class T>
HMR_HOST_DEVICE void swap_columns3(T* x, int i, int j) {
  for (int r = 0; r < 3; ++r) swap_values(x[r * 3 + i], x[r * 3 + j]);
}

// Column j of the 3x3 x, copied out.
template <class T>
HMR_HOST_DEVICE void column3(const T* x, int j, T* out) {
  for (int r = 0; r < 3; ++r) out[r] = x[r * 3 + j];
}

template <class T>
HMR_HOST_DEVICE void svd3x3(const T* a_in, T* u, T* s, T* v) {
  T scale = T(0);
  for (int i = 0; i < 9; ++i) scale = abs_of(a_in[i]) > scale ? abs_of(a_in[i]) : scale;
  for (int i = 0; i < 9; ++i) u[i] = v[i] = (i % 4 == 0) ? T(1) : T(0);
  if (scale == T(0)) {
    s[0] = s[1] = s[2] = T(0);
    return;
  }
  T b[9];  // becomes a v
  for (int i = 0; i < 9; ++i) b[i] = a_in[i] / scale;
  // Quadratic convergence: a handful of sweeps reach rounding level; the cap guards NaN input.
  const T eps = T(sizeof(T) == 4 ? 1.1920929e-07 : 2.220446049250313e-16);
  for (int sweep = 0; sweep < 24; ++sweep) {
    bool rotated = orthogonalize_columns(b, v, 0, 1, eps);
    rotated = orthogonalize_columns(b, v, 0, 2, eps) || rotated;
    rotated = orthogonalize_columns(b, v, 1, 2, eps) || rotated;
    if (!rotated) break;
  }

  T norm[3];
  for (int j = 0; j < 3; ++j) norm[j] = math::sqrt(b[j] * b[j] + b[3 + j] * b[3 + j] + b[6 + j] * b[6 + j]);
  // Sort descending (three compare-swaps), moving the columns of v and b along.
  const int order[3][2] = {{0, 1}, {1, 2}, {0, 1}};
  for (const auto& pq : order) {
    if (norm[pq[0]] < norm[pq[1]]) {
      swap_values(norm[pq[0]], norm[pq[1]]);
      swap_columns3(v, pq[0], pq[1]);
      swap_columns3(b, pq[0], pq[1]);
    }
  }
  for (int j = 0; j < 3; ++j) {
    int big = 0;
    for (int r = 1; r < 3; ++r)
      if (abs_of(v[r * 3 + j]) > abs_of(v[big * 3 + j])) big = r;
    if (v[big * 3 + j] < T(0))
      for (int r = 0; r < 3; ++r) {
        v[r * 3 + j] = -v[r * 3 + j];
        b[r * 3 + j] = -b[r * 3 + j];
      }
  }

  T u0[3], u1[3], u2[3], bj[3];
  column3(b, 0, u0);
  for (int r = 0; r < 3; ++r) u0[r] /= norm[0];  // norm[0] >= 1 after scaling
  column3(b, 1, u1);
  for (int pass = 0; pass < 2; ++pass) {  // twice is enough for orthogonality in floating point
    const T d = dot3(u0, u1);
    for (int r = 0; r < 3; ++r) u1[r] -= d * u0[r];
  }
  T n1 = math::sqrt(dot3(u1, u1));
  // Gram-Schmidt keeps w orthogonal to u0 relative to its own norm, so only a b1 that has
  // (nearly) vanished needs a substitute; below eps^2 it contributes nothing to a anyway.
  if (!(n1 > eps * eps)) {
    // Rank 1: b1 carries no direction. Take the axis least aligned with u0, orthogonalised.
    int axis = 0;
    for (int r = 1; r < 3; ++r)
      if (abs_of(u0[r]) < abs_of(u0[axis])) axis = r;
    for (int r = 0; r < 3; ++r) u1[r] = (r == axis ? T(1) : T(0)) - u0[axis] * u0[r];
    n1 = math::sqrt(dot3(u1, u1));
  }
  for (int r = 0; r < 3; ++r) u1[r] /= n1;
  u2[0] = u0[1] * u1[2] - u0[2] * u1[1];
  u2[1] = u0[2] * u1[0] - u0[0] * u1[2];
  u2[2] = u0[0] * u1[1] - u0[1] * u1[0];
  column3(b, 2, bj);
  const T sign2 = dot3(u2, bj) < T(0) ? T(-1) : T(1);
  for (int r = 0; r < 3; ++r) {
    u[r * 3 + 0] = u0[r];
    u[r * 3 + 1] = u1[r];
    u[r * 3 + 2] = sign2 * u2[r];
  }
  for (int j = 0; j < 3; ++j) s[j] = norm[j] * scale;
}

}  // namespace hmr::kernels::small
