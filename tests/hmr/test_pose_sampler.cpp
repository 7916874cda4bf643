// hmr/data/pose_sampler: Euler -> axis-angle against Rodrigues written here, determinism,
// every sampled joint within its limits, and each family's posture checked on the posed
// generated body (sitting thighs horizontal, reaching wrists forward, ...).
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "hmr/body/body_model.h"
#include "hmr/body/generate.h"
#include "hmr/data/pose_sampler.h"

using namespace hmr;
using namespace hmr::data;

namespace {

using M3 = std::array<std::array<double, 3>, 3>;
M3 rodrigues(const std::array<double, 3>& v) {
  const double t = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  M3 r = {{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}};
  if (t < 1e-15) return r;
  const double k[3] = {v[0] / t, v[1] / t, v[2] / t};
  const double K[3][3] = {{0, -k[2], k[1]}, {k[2], 0, -k[0]}, {-k[1], k[0], 0}};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double kk = 0;
      for (int m = 0; m < 3; ++m) kk += K[i][m] * K[m][j];
      r[i][j] += std::sin(t) * K[i][j] + (1 - std::cos(t)) * kk;
    }
  return r;
}

TEST(PoseSampler, EulerToAxisAngle) {
  for (double t : {0.0, 0.3, -1.2, 3.0}) {
    auto x = euler_xyz_to_axis_angle({t, 0, 0});
    EXPECT_NEAR(x[0], t, 1e-12);
    EXPECT_NEAR(x[1], 0, 1e-12);
    auto y = euler_xyz_to_axis_angle({0, t, 0});
    EXPECT_NEAR(y[1], t, 1e-12);
  }
  // A general triple: Rodrigues(result) == Rx(a) Ry(b) Rz(c), built here by hand.
  const double a = 0.4, b = -0.9, c = 1.3;
  const M3 rx = {{{1, 0, 0}, {0, std::cos(a), -std::sin(a)}, {0, std::sin(a), std::cos(a)}}};
  const M3 ry = {{{std::cos(b), 0, std::sin(b)}, {0, 1, 0}, {-std::sin(b), 0, std::cos(b)}}};
  const M3 rz = {{{std::cos(c), -std::sin(c), 0}, {std::sin(c), std::cos(c), 0}, {0, 0, 1}}};
  M3 rxy{}, want{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) rxy[i][j] += rx[i][k] * ry[k][j];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) want[i][j] += rxy[i][k] * rz[k][j];
  const M3 got = rodrigues(euler_xyz_to_axis_angle({a, b, c}));
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(got[i][j], want[i][j], 1e-12);
}

TEST(PoseSampler, DeterministicForASeed) {
  PoseSampler a(7), b(7), c(8);
  for (int i = 0; i < 5; ++i) {
    const PoseFamily f = a.sample_family();
    EXPECT_EQ(f, b.sample_family());
    EXPECT_EQ(a.sample_pose(f), b.sample_pose(f));
    EXPECT_EQ(a.sample_betas(10), b.sample_betas(10));
  }
  EXPECT_NE(PoseSampler(7).sample_pose(PoseFamily::Free), c.sample_pose(PoseFamily::Free));
}

TEST(PoseSampler, JointsStayWithinLimits) {
  PoseSampler s(1);
  const auto& L = joint_limits();
  for (int i = 0; i < 400; ++i) {
    const auto p = s.sample_pose(static_cast<PoseFamily>(i % kPoseFamilies));
    ASSERT_EQ(p.size(), 72u);
    EXPECT_EQ(p[0], 0.0);
    EXPECT_EQ(p[1], 0.0);
    EXPECT_EQ(p[2], 0.0);
    for (int knee : {4, 5}) {  // hinge about x, bending backward only
      EXPECT_EQ(p[3 * knee + 1], 0.0);
      EXPECT_EQ(p[3 * knee + 2], 0.0);
      EXPECT_GE(p[3 * knee], 0.0);
      EXPECT_LE(p[3 * knee], 2.4 + 1e-12);
    }
    EXPECT_EQ(p[3 * 18], 0.0);  // elbows: hinge about y, forearm forward
    EXPECT_LE(p[3 * 18 + 1], 1e-12);
    EXPECT_GE(p[3 * 19 + 1], -1e-12);
    for (int j : {1, 2, 16, 17}) {
      const double angle = std::sqrt(p[3 * j] * p[3 * j] + p[3 * j + 1] * p[3 * j + 1] + p[3 * j + 2] * p[3 * j + 2]);
      EXPECT_LE(angle, L[static_cast<size_t>(j)].max_swing + 1e-9) << "joint " << j;
    }
  }
  for (double b : s.sample_betas(1000)) {
    EXPECT_GE(b, -2.5);
    EXPECT_LE(b, 2.5);
  }
}

// Posed joints of the small generated body for one pose (f64).
std::vector<double> posed_joints(const std::vector<double>& pose) {
  static body::BodyModel model(body::default_body_model(body::BodySize::Small), DType::F64);
  const Tensor out = model.forward(zeros({1, 10}, DType::F64), Tensor::from_vector(pose, {1, 72})).joints;
  return out.contiguous().to_vector<double>();
}
double coord(const std::vector<double>& j, int joint, int c) { return j[static_cast<size_t>(3 * joint + c)]; }

TEST(PoseSampler, FamiliesLookLikeTheirNames) {
  PoseSampler s(3);
  for (int i = 0; i < 10; ++i) {
    // Sitting: thighs near horizontal and forward.
    auto j = posed_joints(s.sample_pose(PoseFamily::Sitting));
    for (auto [hip, knee] : {std::pair{1, 4}, {2, 5}}) {
      EXPECT_LT(std::fabs(coord(j, knee, 1) - coord(j, hip, 1)), 0.2);
      EXPECT_GT(coord(j, knee, 2) - coord(j, hip, 2), 0.25);
    }
    // Standing: hips over knees over ankles.
    j = posed_joints(s.sample_pose(PoseFamily::Standing));
    for (auto [hip, knee, ankle] : {std::array{1, 4, 7}, {2, 5, 8}}) {
      EXPECT_GT(coord(j, hip, 1) - coord(j, knee, 1), 0.3);
      EXPECT_GT(coord(j, knee, 1) - coord(j, ankle, 1), 0.3);
      EXPECT_LT(std::fabs(coord(j, knee, 2) - coord(j, hip, 2)), 0.15);
    }
    // Standing arms hang: wrists below the shoulders.
    EXPECT_LT(coord(j, 20, 1), coord(j, 16, 1) - 0.2);
    EXPECT_LT(coord(j, 21, 1), coord(j, 17, 1) - 0.2);
    // Walking: one thigh forward, the other back (the hips swing in opposition; where the
    // stride is tiny the 0.05 rad noise may win, so only clear strides are checked).
    const auto w = s.sample_pose(PoseFamily::Walking);
    j = posed_joints(w);
    if (std::fabs(w[3]) > 0.15) {
      EXPECT_LT((coord(j, 4, 2) - coord(j, 1, 2)) * (coord(j, 5, 2) - coord(j, 2, 2)), 0.0);
    }
    // Reaching: at least one wrist well in front of its shoulder.
    j = posed_joints(s.sample_pose(PoseFamily::Reaching));
    EXPECT_GT(std::max(coord(j, 20, 2) - coord(j, 16, 2), coord(j, 21, 2) - coord(j, 17, 2)), 0.15);
  }
  EXPECT_EQ(parse_pose_family("sitting"), PoseFamily::Sitting);
  EXPECT_THROW(parse_pose_family("dancing"), ValueError);
}

}  // namespace
