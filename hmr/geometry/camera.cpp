// Camera models and SPIN's translation estimate, composed of autograd ops.
#include "hmr/geometry/camera.h"

#include "autograd/ops.h"
#include "hmr/geometry/checks.h"

namespace hmr::geometry {
namespace {

Shape leading(const Tensor& t, int64_t trailing) {
  return Shape(t.sizes().begin(), t.sizes().end() - trailing);
}

Shape with(Shape s, const Shape& tail) {
  s.insert(s.end(), tail.begin(), tail.end());
  return s;
}

// arg must be exactly batch + tail.
void check_batched(const char* op, const Tensor& arg, const Shape& batch, const Shape& tail, const char* name,
                   const Tensor& points) {
  HMR_CHECK(arg.defined() && arg.sizes() == with(batch, tail), ShapeError, op, ": expected ", name,
            " of shape ", with(batch, tail), " for points of shape ", points.sizes(), " but found shape ",
            arg.defined() ? arg.sizes() : Shape{});
}

}  // namespace

Tensor weak_perspective_projection(const Tensor& points, const Tensor& camera) {
  const char* op = "weak_perspective_projection";
  check_float(op, points);
  check_last_dims(op, points, {3}, "points", 1);
  check_batched(op, camera, leading(points, 2), {3}, "camera", points);
  Tensor s = unsqueeze(narrow(camera, -1, 0, 1), -2);  // (..., 1, 1)
  Tensor t = unsqueeze(narrow(camera, -1, 1, 2), -2);  // (..., 1, 2)
  return s * (narrow(points, -1, 0, 2) + t);
}

Tensor perspective_projection(const Tensor& points, const Tensor& rotation, const Tensor& translation,
                              const Tensor& focal_length, const Tensor& camera_center) {
  const char* op = "perspective_projection";
  check_float(op, points);
  check_last_dims(op, points, {3}, "points", 1);
  const Shape batch = leading(points, 2);
  if (rotation.defined()) check_batched(op, rotation, batch, {3, 3}, "rotation", points);
  check_batched(op, translation, batch, {3}, "translation", points);
  check_batched(op, camera_center, batch, {2}, "camera_center", points);
  HMR_CHECK(
      focal_length.defined() && (focal_length.sizes() == batch || focal_length.sizes() == with(batch, {2})),
      ShapeError, op, ": expected focal_length of shape ", batch, " or ", with(batch, {2}),
      " for points of shape ", points.sizes(), " but found shape ",
      focal_length.defined() ? focal_length.sizes() : Shape{});
  Tensor p = rotation.defined() ? matmul(points, transpose(rotation, -1, -2)) : points;
  p = p + unsqueeze(translation, -2);
  Tensor xy = narrow(p, -1, 0, 2) / narrow(p, -1, 2, 1);
  Tensor f = focal_length.sizes() == batch ? unsqueeze(unsqueeze(focal_length, -1), -1)
                                           : unsqueeze(focal_length, -2);
  return xy * f + unsqueeze(camera_center, -2);
}

Tensor perspective_projection(const Tensor& points, const Tensor& rotation, const Tensor& translation,
                              double focal_length, const Tensor& camera_center) {
  check_float("perspective_projection", points);
  check_last_dims("perspective_projection", points, {3}, "points", 1);
  Tensor f = full(leading(points, 2), focal_length, {points.dtype(), points.device()});
  return perspective_projection(points, rotation, translation, f, camera_center);
}

Tensor weak_perspective_to_translation(const Tensor& camera, double focal_length, double image_size) {
  const char* op = "weak_perspective_to_translation";
  check_float(op, camera);
  check_last_dims(op, camera, {3}, "camera");
  Tensor s = select(camera, -1, 0);
  Tensor tz = (2.0 * focal_length) / (s * image_size + 1e-9);
  return cat({narrow(camera, -1, 1, 2), unsqueeze(tz, -1)}, -1);
}

Tensor estimate_camera_translation(const Tensor& joints_3d, const Tensor& joints_2d, const Tensor& confidence,
                                   double focal_length, const Tensor& camera_center) {
  const char* op = "estimate_camera_translation";
  check_float(op, joints_3d);
  check_last_dims(op, joints_3d, {3}, "joints_3d", 1);
  const Shape joints = leading(joints_3d, 1), batch = leading(joints_3d, 2);
  check_batched(op, joints_2d, joints, {2}, "joints_2d", joints_3d);
  check_batched(op, confidence, joints, {}, "confidence", joints_3d);
  check_batched(op, camera_center, batch, {2}, "camera_center", joints_3d);
  Tensor uv = joints_2d - unsqueeze(camera_center, -2);  // (..., N, 2) relative to the principal point
  Tensor u = select(uv, -1, 0), v = select(uv, -1, 1);
  Tensor X = select(joints_3d, -1, 0), Y = select(joints_3d, -1, 1), Z = select(joints_3d, -1, 2);
  Tensor f = full_like(u, focal_length), o = zeros_like(u);
  // Rows of the linear system, the u rows then the v rows: (..., 2N, 3) and (..., 2N).
  Tensor Q = cat({stack({f, o, neg(u)}, -1), stack({o, f, neg(v)}, -1)}, -2);
  Tensor c = cat({u * Z - focal_length * X, v * Z - focal_length * Y}, -1);
  Tensor w = cat({confidence, confidence}, -1);
  Tensor Qw = transpose(Q * unsqueeze(w, -1), -1, -2);  // (..., 3, 2N)
  Tensor A = matmul(Qw, Q);
  Tensor b = matmul(Qw, unsqueeze(c, -1));
  return squeeze(solve(A, b), -1);
}

Tensor estimate_camera_translation(const Tensor& joints_3d, const Tensor& joints_2d, const Tensor& confidence,
                                   double focal_length, double image_size) {
  check_float("estimate_camera_translation", joints_3d);
  check_last_dims("estimate_camera_translation", joints_3d, {3}, "joints_3d", 1);
  Shape batch = leading(joints_3d, 2);
  Tensor center = full(with(batch, {2}), image_size / 2.0, {joints_3d.dtype(), joints_3d.device()});
  return estimate_camera_translation(joints_3d, joints_2d, confidence, focal_length, center);
}

}  // namespace hmr::geometry
