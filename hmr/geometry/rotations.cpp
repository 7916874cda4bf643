// Rotation maps composed of autograd ops. Every formula with a removable singularity (sin t / t
// and friends at t = 0) picks a Taylor series through where(): the other branch is evaluated at
// a harmless stand-in argument so neither its value nor its gradient can be NaN.
#include "hmr/geometry/rotations.h"

#include <string>

#include "autograd/ops.h"
#include "hmr/geometry/checks.h"

namespace hmr::geometry {
namespace {

Tensor component(const Tensor& t, int64_t i) { return select(t, -1, i); }

// [v]_x for (..., 3) v: the (..., 3, 3) matrix with [v]_x u = v x u.
Tensor skew(const Tensor& v) {
  Tensor x = component(v, 0), y = component(v, 1), z = component(v, 2), o = zeros_like(x);
  Tensor rows = stack({o, neg(z), y, z, o, neg(x), neg(y), x, o}, -1);
  return unflatten(rows, -1, {3, 3});
}

Tensor identity_like(const Tensor& matrix) { return eye(3, std::nullopt, {matrix.dtype(), matrix.device()}); }

// |v|^2 below which the Taylor branches are used: t < 1e-2, where the next omitted term
// (t^6 / 5040 and smaller) is below f64 rounding.
constexpr double kSmallAngleSquared = 1e-4;

}  // namespace

Tensor cross(const Tensor& a, const Tensor& b) {
  check_last_dims("cross", a, {3}, "a");
  check_last_dims("cross", b, {3}, "b");
  Tensor ax = component(a, 0), ay = component(a, 1), az = component(a, 2);
  Tensor bx = component(b, 0), by = component(b, 1), bz = component(b, 2);
  return stack({ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx}, -1);
}

Tensor axis_angle_to_matrix(const Tensor& axis_angle) {
  check_float("axis_angle_to_matrix", axis_angle);
  check_last_dims("axis_angle_to_matrix", axis_angle, {3}, "axis_angle");
  Tensor t2 = sum(square(axis_angle), {-1});  // (...)
  Tensor small = lt(t2, kSmallAngleSquared);
  Tensor t = sqrt(where(small, ones_like(t2), t2));
  Tensor half_sin = sin(t * 0.5);
  // b = (1 - cos t) / t^2 written as 2 sin^2(t/2) / t^2: no cancellation for small t.
  Tensor a = where(small, 1.0 - t2 / 6.0 + square(t2) / 120.0, sin(t) / t);
  Tensor b = where(small, 0.5 - t2 / 24.0 + square(t2) / 720.0, 2.0 * square(half_sin) / square(t));
  Tensor k = skew(axis_angle);  // (..., 3, 3)
  Tensor a3 = unsqueeze(unsqueeze(a, -1), -1), b3 = unsqueeze(unsqueeze(b, -1), -1);
  return identity_like(axis_angle) + a3 * k + b3 * matmul(k, k);
}

Tensor quaternion_to_matrix(const Tensor& quaternion) {
  check_float("quaternion_to_matrix", quaternion);
  check_last_dims("quaternion_to_matrix", quaternion, {4}, "quaternion");
  Tensor q = quaternion / norm(quaternion, 2.0, {-1}, true);
  Tensor w = component(q, 0), x = component(q, 1), y = component(q, 2), z = component(q, 3);
  Tensor ww = w * w, xx = x * x, yy = y * y, zz = z * z;
  Tensor wx = w * x, wy = w * y, wz = w * z, xy = x * y, xz = x * z, yz = y * z;
  Tensor rows =
      stack({ww + xx - yy - zz, 2.0 * (xy - wz), 2.0 * (xz + wy), 2.0 * (xy + wz), ww - xx + yy - zz,
             2.0 * (yz - wx), 2.0 * (xz - wy), 2.0 * (yz + wx), ww - xx - yy + zz},
            -1);
  return unflatten(rows, -1, {3, 3});
}

Tensor matrix_to_quaternion(const Tensor& matrix) {
  check_float("matrix_to_quaternion", matrix);
  check_last_dims("matrix_to_quaternion", matrix, {3, 3}, "matrix");
  auto m = [&matrix](int64_t i, int64_t j) { return select(select(matrix, -2, i), -1, j); };
  Tensor m00 = m(0, 0), m01 = m(0, 1), m02 = m(0, 2);
  Tensor m10 = m(1, 0), m11 = m(1, 1), m12 = m(1, 2);
  Tensor m20 = m(2, 0), m21 = m(2, 1), m22 = m(2, 2);
  // 4w^2, 4x^2, 4y^2, 4z^2 of a unit quaternion, from the diagonal.
  Tensor sq =
      stack({1.0 + m00 + m11 + m22, 1.0 + m00 - m11 - m22, 1.0 - m00 + m11 - m22, 1.0 - m00 - m11 + m22}, -1);
  // Candidate k is 4 q_k q / (4 |q_k|): exact when q_k is the largest component (then 4 q_k^2
  // >= 1). The others may divide by ~0; the clamp keeps them (and their unused gradients) finite.
  Tensor candidates = stack({stack({component(sq, 0), m21 - m12, m02 - m20, m10 - m01}, -1),
                             stack({m21 - m12, component(sq, 1), m10 + m01, m02 + m20}, -1),
                             stack({m02 - m20, m10 + m01, component(sq, 2), m12 + m21}, -1),
                             stack({m10 - m01, m20 + m02, m21 + m12, component(sq, 3)}, -1)},
                            -2);  // (..., 4, 4)
  Tensor denominators = 2.0 * sqrt(clamp(sq, 0.01, std::nullopt));
  candidates = candidates / unsqueeze(denominators, -1);
  Tensor best = unsqueeze(unsqueeze(argmax(sq, -1), -1), -1);  // (..., 1, 1)
  Shape index_shape = best.sizes();
  index_shape.back() = 4;
  Tensor q = squeeze(gather(candidates, -2, expand(best, index_shape)), -2);
  Tensor flip = lt(component(q, 0), 0.0);
  return where(unsqueeze(flip, -1), neg(q), q);
}

Tensor axis_angle_to_quaternion(const Tensor& axis_angle) {
  check_float("axis_angle_to_quaternion", axis_angle);
  check_last_dims("axis_angle_to_quaternion", axis_angle, {3}, "axis_angle");
  Tensor t2 = sum(square(axis_angle), {-1});
  Tensor small = lt(t2, kSmallAngleSquared);
  Tensor t = sqrt(where(small, ones_like(t2), t2));
  // sin(t/2) / t and cos(t/2), both as series in t^2 near 0.
  Tensor s = where(small, 0.5 - t2 / 48.0 + square(t2) / 3840.0, sin(t * 0.5) / t);
  Tensor c = where(small, 1.0 - t2 / 8.0 + square(t2) / 384.0, cos(t * 0.5));
  return cat({unsqueeze(c, -1), axis_angle * unsqueeze(s, -1)}, -1);
}

Tensor quaternion_to_axis_angle(const Tensor& quaternion) {
  check_float("quaternion_to_axis_angle", quaternion);
  check_last_dims("quaternion_to_axis_angle", quaternion, {4}, "quaternion");
  Tensor q = quaternion / norm(quaternion, 2.0, {-1}, true);
  q = where(unsqueeze(lt(component(q, 0), 0.0), -1), neg(q), q);  // w >= 0: angle in [0, pi]
  Tensor w = component(q, 0), xyz = narrow(q, -1, 1, 3);
  // axis-angle = xyz * angle / |xyz| with angle = 2 atan2(|xyz|, w). In n2 = |xyz|^2 the factor
  // 2 atan(n / w) / n = (2 / w)(1 - n2 / (3 w^2) + n2^2 / (5 w^4) - ...) is smooth, and only
  // its series avoids sqrt(n2) (infinite derivative) at the identity.
  Tensor n2 = sum(square(xyz), {-1});
  Tensor small = lt(n2, kSmallAngleSquared * 1e-2);
  Tensor n = sqrt(where(small, ones_like(n2), n2));
  Tensor r2 = n2 / square(w);
  Tensor factor = where(small, (2.0 - r2 * (2.0 / 3.0) + square(r2) * 0.4) / w, 2.0 * atan2(n, w) / n);
  return xyz * unsqueeze(factor, -1);
}

Tensor matrix_to_axis_angle(const Tensor& matrix) {
  check_float("matrix_to_axis_angle", matrix);
  check_last_dims("matrix_to_axis_angle", matrix, {3, 3}, "matrix");
  return quaternion_to_axis_angle(matrix_to_quaternion(matrix));
}

Tensor rot6d_to_matrix(const Tensor& rot6d) {
  check_float("rot6d_to_matrix", rot6d);
  check_last_dims("rot6d_to_matrix", rot6d, {6}, "rot6d");
  Tensor columns = unflatten(rot6d, -1, {3, 2});
  Tensor a1 = select(columns, -1, 0), a2 = select(columns, -1, 1);  // (..., 3)
  auto normalize = [](const Tensor& v) { return v / clamp(norm(v, 2.0, {-1}, true), 1e-12, std::nullopt); };
  Tensor b1 = normalize(a1);
  Tensor b2 = normalize(a2 - sum(b1 * a2, {-1}, true) * b1);
  Tensor b3 = cross(b1, b2);
  return stack({b1, b2, b3}, -1);
}

Tensor matrix_to_rot6d(const Tensor& matrix) {
  check_float("matrix_to_rot6d", matrix);
  check_last_dims("matrix_to_rot6d", matrix, {3, 3}, "matrix");
  return flatten(narrow(matrix, -1, 0, 2), -2, -1);
}

}  // namespace hmr::geometry
