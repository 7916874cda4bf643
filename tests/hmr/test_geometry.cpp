// hmr/geometry: rotations, cameras and Procrustes against independent NumPy/PyTorch references
// (tests/fixtures/make_geometry_fixtures.py), hand cases, round trips, f64 gradchecks (also at
// the singular points) and argument errors.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "hmr/geometry/camera.h"
#include "hmr/geometry/procrustes.h"
#include "hmr/geometry/rotations.h"
#include "hmr/geometry_testing.h"
#include "support.h"
#include "tensor/cuda_context.h"

using namespace hmr;
using namespace hmr::geometry;
using hmr::testing::error_message;
using hmr::testing::expect_close;
using hmr::testing::from_fixture;
namespace fx = geometry_fixture;

namespace {

constexpr double kPi = 3.14159265358979323846;

Tensor f64(std::vector<double> v, const Shape& s) { return tensor(v, s, DType::F64); }

Tensor leaf(const Tensor& t) { return t.detach().clone().requires_grad_(); }

Tensor randn64(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  return randn(s, DType::F64, &gen);
}

void expect_gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, const std::string& what) {
  GradcheckResult r = gradcheck(fn, inputs);
  EXPECT_TRUE(r.ok) << what << ": " << r.message;
}

// axis * angle as a (1, 3) f64 leaf.
Tensor axis_angle(double angle, std::vector<double> axis = {0.48, -0.6, 0.64}) {
  return leaf(f64({axis[0] * angle, axis[1] * angle, axis[2] * angle}, {1, 3}));
}

// ---- rotations -----------------------------------------------------------------------------------

TEST(Rotations, AxisAngleToMatrixEqualsTheMatrixExponential) {
  expect_close(axis_angle_to_matrix(from_fixture(fx::kAxisAngle)), fx::kAxisAngleMatrix, 1e-12, "f64");
  Tensor r32 = axis_angle_to_matrix(from_fixture(fx::kAxisAngle, DType::F32));
  EXPECT_EQ(r32.dtype(), DType::F32);
  expect_close(r32, fx::kAxisAngleMatrix, 2e-6, "f32");
}

TEST(Rotations, HandCases) {
  // 90 degrees about z takes x to y and y to -x.
  expect_close(axis_angle_to_matrix(f64({0, 0, kPi / 2}, {3})), {0, -1, 0, 1, 0, 0, 0, 0, 1}, {3, 3}, 1e-15);
  expect_close(axis_angle_to_matrix(f64({kPi / 2, 0, 0}, {3})), {1, 0, 0, 0, 0, -1, 0, 1, 0}, {3, 3}, 1e-15);
  expect_close(axis_angle_to_matrix(zeros({3}, DType::F64)), eye(3, std::nullopt, DType::F64), 0);
  expect_close(matrix_to_axis_angle(f64({0, -1, 0, 1, 0, 0, 0, 0, 1}, {3, 3})), {0, 0, kPi / 2}, {3}, 1e-15);
  expect_close(matrix_to_axis_angle(eye(3, std::nullopt, DType::F64)), {0, 0, 0}, {3}, 0);
  // 180 degrees about x: diag(1, -1, -1).
  expect_close(matrix_to_axis_angle(f64({1, 0, 0, 0, -1, 0, 0, 0, -1}, {3, 3})), {kPi, 0, 0}, {3}, 1e-15);
  expect_close(matrix_to_quaternion(f64({1, 0, 0, 0, -1, 0, 0, 0, -1}, {3, 3})), {0, 1, 0, 0}, {4}, 1e-15);
  EXPECT_TRUE(batch_rodrigues(f64({0, 0, kPi / 2}, {3})).sizes() == Shape({3, 3}));
}

TEST(Rotations, AxisAngleRoundTripsThroughTheMatrix) {
  Tensor aa = from_fixture(fx::kAxisAngle);  // angles 0 ... pi and 4.5 (beyond pi)
  Tensor back = matrix_to_axis_angle(axis_angle_to_matrix(aa));
  expect_close(narrow(back, 0, 0, 10), narrow(aa, 0, 0, 10), 2e-9, "angles below pi");
  // At pi the answer is +-pi n; beyond pi it is the equivalent angle below pi: compare matrices.
  expect_close(axis_angle_to_matrix(back), fx::kAxisAngleMatrix, 1e-12, "matrices");
  std::vector<double> angles = norm(back, 2.0, {-1}).to_vector<double>();
  EXPECT_NEAR(angles[10], kPi, 1e-12);
  EXPECT_NEAR(angles[11], 2 * kPi - 4.5, 1e-12);
  // Leading dims: (2, 6, 3) in, (2, 6, 3, 3) and back.
  Tensor batched = reshape(aa, {2, 6, 3});
  EXPECT_EQ(axis_angle_to_matrix(batched).sizes(), Shape({2, 6, 3, 3}));
  expect_close(axis_angle_to_matrix(matrix_to_axis_angle(axis_angle_to_matrix(batched))),
               reshape(from_fixture(fx::kAxisAngleMatrix), {2, 6, 3, 3}), 1e-12, "batched");
}

TEST(Rotations, RandomRoundTripsInF32) {
  Generator gen(7);
  Tensor aa = (rand({200, 3}, DType::F32, &gen) * 2.0 - 1.0) * 1.8;  // |aa| < pi
  Tensor back = matrix_to_axis_angle(axis_angle_to_matrix(aa));
  expect_close(back, aa, 2e-5, "f32 round trip");
}

TEST(Rotations, QuaternionsMatchHamiltonProducts) {
  expect_close(quaternion_to_matrix(from_fixture(fx::kQuaternionScaled)), fx::kQuaternionMatrix, 1e-12);
  expect_close(matrix_to_quaternion(from_fixture(fx::kQuaternionMatrix)), fx::kQuaternion, 1e-12);
  // axis-angle -> quaternion agrees with axis-angle -> matrix.
  Tensor aa = from_fixture(fx::kAxisAngle);
  expect_close(quaternion_to_matrix(axis_angle_to_quaternion(aa)), fx::kAxisAngleMatrix, 1e-12);
  expect_close(quaternion_to_axis_angle(axis_angle_to_quaternion(narrow(aa, 0, 0, 10))), narrow(aa, 0, 0, 10),
               1e-12);
  // q and -q are one rotation (rows 1 and 2 have w = 0: angle pi, where +-pi n are both right).
  Tensor q = from_fixture(fx::kQuaternion);
  expect_close(axis_angle_to_matrix(quaternion_to_axis_angle(neg(q))), fx::kQuaternionMatrix, 1e-12);
  Tensor w_positive = narrow(q, 0, 3, 5);
  expect_close(quaternion_to_axis_angle(neg(w_positive)), quaternion_to_axis_angle(w_positive), 1e-12);
}

TEST(Rotations, Rot6dMatchesSpinsGramSchmidt) {
  Tensor x = from_fixture(fx::kRot6d);  // (2, 3, 6)
  expect_close(rot6d_to_matrix(x), fx::kRot6dMatrix, 1e-12);
  Tensor r = rot6d_to_matrix(x);
  expect_close(rot6d_to_matrix(matrix_to_rot6d(r)), r, 1e-12, "round trip");
  // The layout: the 6 numbers are rows of a (3, 2) matrix whose columns are a1, a2.
  expect_close(matrix_to_rot6d(f64({1, 2, 3, 4, 5, 6, 7, 8, 9}, {3, 3})), {1, 2, 4, 5, 7, 8}, {6}, 0);
  expect_close(rot6d_to_matrix(f64({2, 0, 0, 3, 0, 0}, {6})), eye(3, std::nullopt, DType::F64), 1e-15);
}

TEST(Rotations, Gradchecks) {
  auto to_matrix = [](const std::vector<Tensor>& in) { return axis_angle_to_matrix(in[0]); };
  for (double angle : {0.0, 1e-7, 0.00999, 0.01001, 0.7, 2.5, kPi - 1e-3, kPi, 4.0})
    expect_gradcheck(to_matrix, {axis_angle(angle)}, "axis_angle_to_matrix at " + std::to_string(angle));
  // At exactly 0 the derivative is d R = [d v]_x.
  Tensor v = axis_angle(0.0);
  sum(axis_angle_to_matrix(v) * f64({0, 0, 0, 0, 0, 5, 0, 7, 0}, {1, 3, 3})).backward();
  expect_close(v.grad(), {2, 0, 0}, {1, 3}, 1e-15);

  auto to_aa = [](const std::vector<Tensor>& in) { return matrix_to_axis_angle(in[0]); };
  for (double angle : {0.0, 1e-6, 0.5, 2.0, 3.0, kPi - 1e-3}) {
    Tensor r = leaf(axis_angle_to_matrix(axis_angle(angle).detach()));
    expect_gradcheck(to_aa, {r}, "matrix_to_axis_angle at " + std::to_string(angle));
  }
  expect_gradcheck([](const std::vector<Tensor>& in) { return quaternion_to_matrix(in[0]); },
                   {leaf(from_fixture(fx::kQuaternionScaled))}, "quaternion_to_matrix");
  // Not at w = 0 (angle pi), where q and -q swap: the w >= 0 convention is discontinuous there.
  expect_gradcheck([](const std::vector<Tensor>& in) { return matrix_to_quaternion(in[0]); },
                   {leaf(narrow(from_fixture(fx::kQuaternionMatrix), 0, 3, 5))}, "matrix_to_quaternion");
  expect_gradcheck([](const std::vector<Tensor>& in) { return matrix_to_quaternion(in[0]); },
                   {leaf(eye(3, std::nullopt, DType::F64))}, "matrix_to_quaternion at the identity");
  expect_gradcheck([](const std::vector<Tensor>& in) { return axis_angle_to_quaternion(in[0]); },
                   {leaf(cat({axis_angle(0.0), axis_angle(1e-4), axis_angle(2.0)}))},
                   "axis_angle_to_quaternion");
  Tensor q = cat({f64({1, 0, 0, 0}, {1, 4}), narrow(from_fixture(fx::kQuaternionScaled), 0, 3, 5)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return quaternion_to_axis_angle(in[0]); }, {leaf(q)},
                   "quaternion_to_axis_angle");
  expect_gradcheck([](const std::vector<Tensor>& in) { return rot6d_to_matrix(in[0]); },
                   {leaf(from_fixture(fx::kRot6d))}, "rot6d_to_matrix");
  expect_gradcheck([](const std::vector<Tensor>& in) { return matrix_to_rot6d(in[0]); },
                   {leaf(randn64({2, 3, 3}, 3))}, "matrix_to_rot6d");
  expect_gradcheck([](const std::vector<Tensor>& in) { return cross(in[0], in[1]); },
                   {leaf(randn64({4, 3}, 4)), leaf(randn64({4, 3}, 5))}, "cross");
}

TEST(Rotations, BadShapesAndDtypesAreNamed) {
  std::string m = error_message([] { axis_angle_to_matrix(zeros({2, 4}, DType::F64)); });
  EXPECT_NE(m.find("axis_angle_to_matrix"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 4]"), std::string::npos) << m;
  EXPECT_THROW(axis_angle_to_matrix(zeros({2, 4})), ShapeError);
  EXPECT_THROW(matrix_to_axis_angle(zeros({3, 4})), ShapeError);
  EXPECT_THROW(quaternion_to_matrix(zeros({3})), ShapeError);
  EXPECT_THROW(rot6d_to_matrix(zeros({2, 3, 2})), ShapeError);
  m = error_message([] { rot6d_to_matrix(zeros({2, 3, 2})); });
  EXPECT_NE(m.find("rot6d_to_matrix"), std::string::npos) << m;
  EXPECT_NE(m.find("(..., 6)"), std::string::npos) << m;
  EXPECT_THROW(matrix_to_quaternion(zeros({3, 3}, DType::I64)), DTypeError);
}

// ---- cameras -------------------------------------------------------------------------------------

TEST(Cameras, WeakPerspectiveIsScaleTimesShiftedXY) {
  Tensor points = f64({1, 2, 9, -1, 0, -4}, {1, 2, 3});
  Tensor camera = f64({0.5, 0.2, -0.4}, {1, 3});
  // 0.5 * ((1, 2) + (0.2, -0.4)) and 0.5 * ((-1, 0) + (0.2, -0.4)); depth ignored.
  expect_close(weak_perspective_projection(points, camera), {0.6, 0.8, -0.4, -0.2}, {1, 2, 2}, 1e-15);
  expect_gradcheck([](const std::vector<Tensor>& in) { return weak_perspective_projection(in[0], in[1]); },
                   {leaf(randn64({2, 3, 5, 3}, 1)), leaf(randn64({2, 3, 3}, 2))},
                   "weak_perspective_projection");
}

TEST(Cameras, PerspectiveProjectionMatchesTheIntrinsicMatrix) {
  Tensor points = from_fixture(fx::kProjPoints), rotation = from_fixture(fx::kProjRotation);
  Tensor translation = from_fixture(fx::kProjTranslation), focal = from_fixture(fx::kProjFocal);
  Tensor center = from_fixture(fx::kProjCenter);
  expect_close(perspective_projection(points, rotation, translation, focal, center), fx::kProjExpected,
               1e-10);
  // (f, f) per sample and a scalar focal length are the same camera.
  Tensor fxy = stack({focal, focal}, -1);
  expect_close(perspective_projection(points, rotation, translation, fxy, center), fx::kProjExpected, 1e-10);
  Tensor first = perspective_projection(narrow(points, 0, 0, 1), narrow(rotation, 0, 0, 1),
                                        narrow(translation, 0, 0, 1), 500.0, narrow(center, 0, 0, 1));
  expect_close(first, narrow(from_fixture(fx::kProjExpected), 0, 0, 1), 1e-10);
  // No rotation: (1, 2, 3) + (0, 0, 1) at f = 10, c = (5, 6) -> (10 / 4 + 5, 20 / 4 + 6).
  expect_close(perspective_projection(f64({1, 2, 3}, {1, 1, 3}), Tensor(), f64({0, 0, 1}, {1, 3}), 10.0,
                                      f64({5, 6}, {1, 2})),
               {7.5, 11}, {1, 1, 2}, 1e-15);
  expect_gradcheck(
      [](const std::vector<Tensor>& in) { return perspective_projection(in[0], in[1], in[2], in[3], in[4]); },
      {leaf(points), leaf(rotation), leaf(translation), leaf(focal), leaf(center)}, "perspective_projection");
}

TEST(Cameras, WeakPerspectiveTranslationReproducesTheWeakCamera) {
  Tensor camera = f64({0.9, 0.1, -0.2, 1.3, -0.05, 0.3}, {2, 3});
  Tensor t = weak_perspective_to_translation(camera, 5000.0, 224.0);
  expect_close(t, {0.1, -0.2, 10000.0 / (224 * 0.9 + 1e-9), -0.05, 0.3, 10000.0 / (224 * 1.3 + 1e-9)}, {2, 3},
               1e-12);
  // Points near the depth plane project (in [-1, 1] crop coordinates) as the weak camera says.
  Tensor points = randn64({2, 6, 3}, 9) * 0.3 * f64({1, 1, 1e-4}, {3});
  Tensor pixels = perspective_projection(points, Tensor(), t, 5000.0, zeros({2, 2}, DType::F64)) / 112.0;
  expect_close(pixels, weak_perspective_projection(points, camera), 1e-4);
  expect_gradcheck(
      [](const std::vector<Tensor>& in) { return weak_perspective_to_translation(in[0], 5000, 224); },
      {leaf(camera)}, "weak_perspective_to_translation");
}

TEST(Cameras, EstimatedTranslationMatchesWeightedLeastSquares) {
  Tensor j3 = from_fixture(fx::kTransJoints3d), j2 = from_fixture(fx::kTransJoints2d);
  Tensor conf = from_fixture(fx::kTransConf), center = from_fixture(fx::kTransCenter);
  expect_close(estimate_camera_translation(j3, j2, conf, 5000.0, center), fx::kTransExpected, 1e-7);
  // Exact keypoints: the true translation comes back; SPIN's default centre is image_size / 2.
  Tensor t_true = f64({0.2, -0.1, 30.0}, {1, 3});
  Tensor joints = narrow(j3, 0, 0, 1);
  Tensor exact = perspective_projection(joints, Tensor(), t_true, 5000.0, full({1, 2}, 112.0, DType::F64));
  expect_close(estimate_camera_translation(joints, exact, ones({1, 24}, DType::F64)), t_true, 1e-9);
  expect_gradcheck(
      [&](const std::vector<Tensor>& in) {
        return estimate_camera_translation(in[0], in[1], in[2], 5000.0, center);
      },
      {leaf(j3), leaf(j2), leaf(conf + 0.1)}, "estimate_camera_translation");
}

TEST(Cameras, BadShapesAreNamed) {
  std::string m = error_message([] { weak_perspective_projection(zeros({2, 5, 3}), zeros({3, 3})); });
  EXPECT_NE(m.find("weak_perspective_projection"), std::string::npos) << m;
  EXPECT_NE(m.find("camera"), std::string::npos) << m;
  EXPECT_NE(m.find("[3, 3]"), std::string::npos) << m;
  EXPECT_THROW(perspective_projection(zeros({2, 5, 3}), Tensor(), zeros({2, 2}), 1.0, zeros({2, 2})),
               ShapeError);
  EXPECT_THROW(perspective_projection(zeros({2, 5, 3}), Tensor(), zeros({2, 3}), zeros({3}), zeros({2, 2})),
               ShapeError);
  m = error_message([] { estimate_camera_translation(zeros({2, 5, 3}), zeros({2, 4, 2}), zeros({2, 5})); });
  EXPECT_NE(m.find("estimate_camera_translation"), std::string::npos) << m;
  EXPECT_NE(m.find("joints_2d"), std::string::npos) << m;
  EXPECT_THROW(weak_perspective_to_translation(zeros({2, 2}), 5000, 224), ShapeError);
}

// ---- Procrustes ----------------------------------------------------------------------------------

TEST(Procrustes, RecoversAKnownSimilarityExactly) {
  Tensor source = randn64({3, 10, 3}, 11);
  Tensor rotation = axis_angle_to_matrix(f64({0.3, -1.2, 0.5, 2.0, 0.1, 0.1, -0.4, 0.0, 2.9}, {3, 3}));
  Tensor scale = f64({0.5, 2.0, 1.3}, {3});
  Tensor translation = f64({1, 2, 3, -1, 0, 4, 0.5, 0.5, -2}, {3, 3});
  SimilarityTransform truth{scale, rotation, translation};
  Tensor target = apply_similarity_transform(truth, source);
  SimilarityTransform found = similarity_transform(source, target);
  expect_close(found.scale, scale, 1e-12, "scale");
  expect_close(found.rotation, rotation, 1e-12, "rotation");
  expect_close(found.translation, translation, 1e-12, "translation");
  expect_close(procrustes_align(source, target), target, 1e-12, "aligned");
}

TEST(Procrustes, MatchesNumpyIncludingTheReflectionCase) {
  Tensor a = from_fixture(fx::kPoseA), b = from_fixture(fx::kPoseB);
  expect_close(procrustes_align(a, b), fx::kPoseAligned, 1e-10);
  // A mirrored copy: the unconstrained optimum is a reflection; the result must stay a rotation.
  Tensor mirrored = b * f64({-1, 1, 1}, {3});
  SimilarityTransform t = similarity_transform(mirrored, b);
  std::vector<double> dets = det(t.rotation).to_vector<double>();
  for (double d : dets) EXPECT_NEAR(d, 1.0, 1e-12);
  EXPECT_GT(sum(square(procrustes_align(mirrored, b) - b)).item(), 1e-3);
  // f32 agrees.
  expect_close(procrustes_align(a.to(DType::F32), b.to(DType::F32)), fx::kPoseAligned, 5e-5, "f32");
}

TEST(Procrustes, Gradcheck) {
  Tensor a = narrow(from_fixture(fx::kPoseA), 0, 0, 2), b = narrow(from_fixture(fx::kPoseB), 0, 0, 2);
  expect_gradcheck([](const std::vector<Tensor>& in) { return procrustes_align(in[0], in[1]); },
                   {leaf(a), leaf(b)}, "procrustes_align");
}

TEST(Procrustes, BadShapesAreNamed) {
  std::string m = error_message([] { similarity_transform(zeros({2, 5, 3}), zeros({2, 6, 3})); });
  EXPECT_NE(m.find("similarity_transform"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 6, 3]"), std::string::npos) << m;
  EXPECT_THROW(similarity_transform(zeros({5, 2}), zeros({5, 2})), ShapeError);
}

// ---- devices -------------------------------------------------------------------------------------

// Everything is composed of ops, so the CUDA path is the ops' CUDA kernels: check the
// composition end to end (forward and gradient) against the CPU, f32 and f64.
TEST(GeometryCuda, MatchesCpu) {
  if (hmr::cuda::device_count() == 0) GTEST_SKIP() << hmr::cuda::unavailable_reason();
  const Device gpu = Device::cuda();
  for (DType dtype : {DType::F64, DType::F32}) {
    const double tol = dtype == DType::F64 ? 1e-10 : 2e-4;
    Tensor aa = from_fixture(fx::kAxisAngle, dtype);
    expect_close(axis_angle_to_matrix(aa.to(gpu)).cpu(), axis_angle_to_matrix(aa), tol,
                 "axis_angle_to_matrix");
    Tensor r = axis_angle_to_matrix(aa);
    expect_close(matrix_to_axis_angle(r.to(gpu)).cpu(), matrix_to_axis_angle(r), tol, "matrix_to_axis_angle");
    Tensor x6 = from_fixture(fx::kRot6d, dtype);
    expect_close(rot6d_to_matrix(x6.to(gpu)).cpu(), rot6d_to_matrix(x6), tol, "rot6d_to_matrix");
    Tensor a = from_fixture(fx::kPoseA, dtype), b = from_fixture(fx::kPoseB, dtype);
    expect_close(procrustes_align(a.to(gpu), b.to(gpu)).cpu(), procrustes_align(a, b), tol,
                 "procrustes_align");
    Tensor j3 = from_fixture(fx::kTransJoints3d, dtype), j2 = from_fixture(fx::kTransJoints2d, dtype);
    Tensor conf = from_fixture(fx::kTransConf, dtype);
    expect_close(estimate_camera_translation(j3.to(gpu), j2.to(gpu), conf.to(gpu)).cpu(),
                 estimate_camera_translation(j3, j2, conf), dtype == DType::F64 ? 1e-8 : 1e-2,
                 "estimate_camera_translation");
    // The gradient of Rodrigues at 0 and elsewhere, for a fixed random weighting of R.
    Generator gen(5);
    Tensor w = randn({12, 3, 3}, dtype, &gen);
    Tensor v_cpu = aa.detach().clone().requires_grad_(), v_gpu = aa.to(gpu).detach().requires_grad_();
    sum(axis_angle_to_matrix(v_cpu) * w).backward();
    sum(axis_angle_to_matrix(v_gpu) * w.to(gpu)).backward();
    expect_close(v_gpu.grad().cpu(), v_cpu.grad(), tol, "axis_angle_to_matrix gradient");
  }
}

}  // namespace
