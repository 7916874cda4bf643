// Rotation representations and the maps between them: axis-angle, 3x3 matrices, unit
// quaternions (w, x, y, z: scalar first, as SPIN's quat_to_rotmat) and Zhou et al.'s 6D form.
// Every map is batched over leading dims, composed of autograd ops (differentiable, f32/f64, any device).
#pragma once

#include "tensor/tensor.h"

namespace hmr::geometry {

// Rodrigues: (..., 3) axis-angle (axis * angle in radians) -> (..., 3, 3) rotation matrix
//   R = I + a(t) K + b(t) K^2,  K = [v]_x,  t = |v|,  a = sin t / t,  b = (1 - cos t) / t^2.
// Below |v| = 1e-2 a and b are their Taylor series in t^2, so the value and the gradient at
// v = 0 are exact (dR = [dv]_x) instead of 0/0.
Tensor axis_angle_to_matrix(const Tensor& axis_angle);
// SPIN's name for the same map. SPIN's own version adds 1e-8 to v before the norm (a bias of
// ~1e-8 in R); this alias does not.
inline Tensor batch_rodrigues(const Tensor& axis_angle) { return axis_angle_to_matrix(axis_angle); }

// (..., 3, 3) rotation matrix -> (..., 3) axis-angle with angle in [0, pi]; through the
// quaternion, so it is stable at angle 0 and at pi (at exactly pi either of the two equal
// answers, +pi*n or -pi*n, may come back).
Tensor matrix_to_axis_angle(const Tensor& matrix);

// (..., 4) quaternion (w, x, y, z), normalised first (any non-zero scale) -> (..., 3, 3).
Tensor quaternion_to_matrix(const Tensor& quaternion);
// (..., 3, 3) -> (..., 4) unit quaternion (w, x, y, z) with w >= 0. Shepperd's method: the
// largest of |w|, |x|, |y|, |z| is taken from the diagonal and the rest from off-diagonal sums,
// so no division by a small number happens anywhere on SO(3).
Tensor matrix_to_quaternion(const Tensor& matrix);
// (..., 3) axis-angle -> (..., 4) unit quaternion (cos(t/2), sin(t/2) v / t); Taylor near 0.
Tensor axis_angle_to_quaternion(const Tensor& axis_angle);
// (..., 4) quaternion (w, x, y, z), normalised first -> (..., 3) axis-angle, angle in [0, pi]
// (q and -q give the same answer).
Tensor quaternion_to_axis_angle(const Tensor& quaternion);

// Zhou et al.'s continuous 6D representation, laid out as SPIN's rot6d_to_rotmat reads it: the
// 6 numbers viewed as (3, 2) are two columns a1, a2; Gram-Schmidt gives
//   b1 = a1 / |a1|,  b2 = normalise(a2 - (b1 . a2) b1),  b3 = b1 x b2,  R = [b1 b2 b3] (columns).
// (..., 6) -> (..., 3, 3). Norms are clamped at 1e-12 as torch.nn.functional.normalize does.
Tensor rot6d_to_matrix(const Tensor& rot6d);
// (..., 3, 3) -> (..., 6): the first two columns in the same layout, so
// rot6d_to_matrix(matrix_to_rot6d(R)) == R for a rotation R.
Tensor matrix_to_rot6d(const Tensor& matrix);

// a x b over the last dim of two (..., 3) tensors (broadcasting leading dims).
Tensor cross(const Tensor& a, const Tensor& b);

}  // namespace hmr::geometry
