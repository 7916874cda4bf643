// hmr/metrics: pose metrics against NumPy (tests/fixtures/make_geometry_fixtures.py), hand cases
// whose answer follows from the definition, SPIN-style segmentation counts, gradchecks, errors.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "hmr/geometry/procrustes.h"
#include "hmr/geometry/rotations.h"
#include "hmr/geometry_testing.h"
#include "hmr/metrics/metrics.h"
#include "support.h"

using namespace hmr;
using namespace hmr::metrics;
using hmr::testing::error_message;
using hmr::testing::expect_close;
using hmr::testing::from_fixture;
namespace fx = geometry_fixture;

namespace {

Tensor f64(std::vector<double> v, const Shape& s) { return tensor(v, s, DType::F64); }

TEST(PoseMetrics, MatchNumpy) {
  Tensor a = from_fixture(fx::kPoseA), b = from_fixture(fx::kPoseB);
  expect_close(mpjpe(a, b), fx::kPoseMpjpe, 1e-12, "mpjpe");
  expect_close(pa_mpjpe(a, b), fx::kPosePaMpjpe, 1e-10, "pa_mpjpe");
  // SPIN's H36M pelvis: the mid-point of the hips (LSP-14 joints 2 and 3).
  expect_close(root_relative_mpjpe(a, b, {2, 3}), fx::kPoseRootMpjpe, 1e-12, "root_relative_mpjpe");
  Tensor a_mm = a * fx::kPoseMmScale, b_mm = b * fx::kPoseMmScale;
  expect_close(pck(a_mm, b_mm, 150.0), fx::kPosePck150, 1e-12, "pck");
  expect_close(auc(a_mm, b_mm, 150.0), fx::kPoseAuc, 1e-12, "auc");
  // Units follow the inputs: metres with 0.15 give the same fractions.
  expect_close(auc(a * (fx::kPoseMmScale / 1000), b * (fx::kPoseMmScale / 1000), 0.15), fx::kPoseAuc, 1e-12);
  expect_close(mpjpe(a.to(DType::F32), b.to(DType::F32)), fx::kPoseMpjpe, 1e-5, "f32");
}

TEST(PoseMetrics, HandCases) {
  // Joint errors 5 (the 3-4-5 triangle) and 0: MPJPE 2.5; PCK at 4 counts one of two.
  Tensor pred = f64({3, 4, 0, 1, 1, 1}, {1, 2, 3}), target = f64({0, 0, 0, 1, 1, 1}, {1, 2, 3});
  expect_close(mpjpe(pred, target), {2.5}, {1}, 1e-15);
  expect_close(pve(pred, target), {2.5}, {1}, 1e-15);
  expect_close(pck(pred, target, 4.0), {0.5}, {1}, 0);
  expect_close(pck(pred, target, 5.0001), {1.0}, {1}, 0);
  // AUC over thresholds 0, 5, 10 (steps 3): errors 0 and 5 are below (0: none) (5: one) (10: two).
  expect_close(auc(pred, target, 10.0, 3), {0.5}, {1}, 1e-15);
  // Root-relative MPJPE ignores a global shift; PA-MPJPE ignores a similarity transform.
  Tensor joints = from_fixture(fx::kPoseB);
  Tensor shifted = joints + f64({5, -2, 1}, {3});
  expect_close(root_relative_mpjpe(shifted, joints, {0}), zeros({4}, DType::F64), 1e-12);
  Tensor rotation = geometry::axis_angle_to_matrix(f64({0.3, 2.0, -1.0}, {1, 3}));
  geometry::SimilarityTransform t{f64({1.7}, {1}), rotation, f64({0.1, 0.2, 0.3}, {1, 3})};
  Tensor moved = geometry::apply_similarity_transform(t, joints);
  expect_close(pa_mpjpe(moved, joints), zeros({4}, DType::F64), 1e-12);
  EXPECT_GT(hmr::min(mpjpe(moved, joints)).item(), 0.1);
  // root_relative subtracts the mean of the given joints.
  expect_close(root_relative(f64({2, 0, 0, 4, 2, 0, 0, 0, 6}, {3, 3}), {0, 1}),
               {-1, -1, 0, 1, 1, 0, -3, -1, 6}, {3, 3}, 0);
}

TEST(PoseMetrics, Gradchecks) {
  Tensor a = narrow(from_fixture(fx::kPoseA), 0, 0, 2), b = narrow(from_fixture(fx::kPoseB), 0, 0, 2);
  auto check = [&](const GradcheckFn& fn, const char* what) {
    GradcheckResult r =
        gradcheck(fn, {a.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()});
    EXPECT_TRUE(r.ok) << what << ": " << r.message;
  };
  check([](const std::vector<Tensor>& in) { return mpjpe(in[0], in[1]); }, "mpjpe");
  check([](const std::vector<Tensor>& in) { return pa_mpjpe(in[0], in[1]); }, "pa_mpjpe");
  check(
      [](const std::vector<Tensor>& in) {
        return root_relative_mpjpe(in[0], in[1], {2, 3});
      },
      "root_relative");
  check([](const std::vector<Tensor>& in) { return pve(in[0], in[1]); }, "pve");
}

TEST(PoseMetrics, BadInputIsNamed) {
  std::string m = error_message([] { mpjpe(zeros({2, 14, 3}), zeros({2, 17, 3})); });
  EXPECT_NE(m.find("mpjpe"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 17, 3]"), std::string::npos) << m;
  EXPECT_THROW(pa_mpjpe(zeros({2, 14, 2}), zeros({2, 14, 2})), ShapeError);
  EXPECT_THROW(pck(zeros({14, 3}), zeros({14, 4}), 150), ShapeError);
  EXPECT_THROW(auc(zeros({14, 3}), zeros({14, 3}), 150, 1), ValueError);
  m = error_message([] { root_relative(zeros({14, 3}), {14}); });
  EXPECT_NE(m.find("root_relative"), std::string::npos) << m;
  EXPECT_THROW(root_relative(zeros({14, 3}), {14}), IndexError);
}

TEST(Segmentation, MatchesSpinsCounting) {
  Tensor pred = from_fixture(fx::kSegPred).to(DType::I64), gt = from_fixture(fx::kSegGt).to(DType::I64);
  SegmentationScores scores(7);
  // Two images added one by one accumulate like the whole batch at once.
  scores.add(select(pred, 0, 0), select(gt, 0, 0));
  scores.add(select(pred, 0, 1).to(DType::U8), select(gt, 0, 1).to(DType::U8));
  EXPECT_NEAR(scores.accuracy(), fx::kSegAccuracy.values[0], 1e-15);
  std::vector<double> f1 = scores.f1();
  ASSERT_EQ(f1.size(), 7u);
  double mean = 0;
  for (int c = 0; c < 7; ++c) {
    EXPECT_NEAR(f1[c], fx::kSegF1.values[c], 1e-15) << "class " << c;
    mean += fx::kSegF1.values[c] / 7;
  }
  EXPECT_NEAR(scores.mean_f1(), mean, 1e-15);
  SegmentationScores batch(7);
  batch.add(pred, gt);
  EXPECT_EQ(batch.true_positives(), scores.true_positives());
  EXPECT_EQ(batch.false_positives(), scores.false_positives());
}

TEST(Segmentation, HandCase) {
  // Foreground/background, 4 pixels: gt 1 1 0 255, pred 1 0 0 1.
  // class 1: TP 1, FN 1, FP 0 (the ignored pixel is no prediction) -> F1 2/3;
  // class 0: TP 1, FP 1 -> F1 2/3; accuracy: pixels 0 and 2 agree, pixel 3 (gt -> 0, pred 1) not.
  SegmentationScores s(2);
  s.add(tensor({1, 0, 0, 1}, DType::I32), tensor({1, 1, 0, 255}, DType::I32));
  EXPECT_DOUBLE_EQ(s.f1()[1], 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(s.f1()[0], 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(s.accuracy(), 0.5);
  EXPECT_THROW(s.add(tensor({1.0, 0.0}), tensor({1.0, 0.0})), DTypeError);
  std::string m = error_message([&] { s.add(zeros({2, 3}, DType::I64), zeros({3, 2}, DType::I64)); });
  EXPECT_NE(m.find("SegmentationScores::add"), std::string::npos) << m;
  EXPECT_NE(m.find("[3, 2]"), std::string::npos) << m;
}

}  // namespace
