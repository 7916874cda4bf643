// hmr/data/augment: crop geometry checked against hand-computed maps, a drawn marker that must land
// where its transformed keypoint says, 3D joints / pose rotations checked against projection and
// the body model, flip involutions, the parameter sampler's distribution, and argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "autograd/ops.h"
#include "hmr/body/body_model.h"
#include "hmr/body/generate.h"
#include "hmr/data/augment.h"
#include "hmr/geometry/rotations.h"
#include "support.h"

using namespace hmr;
using namespace hmr::data;
using hmr::testing::error_message;

namespace {

Tensor f64(const std::vector<double>& v, const Shape& s) { return Tensor::from_vector<double>(v, s); }

std::vector<double> random_values(size_t n, double lo, double hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (double& x : v) x = d(rng);
  return v;
}

// The camera of the test scene: the principal point is the crop centre, so rotating the 3D
// joints about the optical axis must match rotating the crop.
struct Scene {
  double f = 300, px = 70.3, py = 55.1;
  double scale = 0.2;  // box 40 px
  int64_t res = 64;    // magnified 1.6x, so a small marker stays a blob after resampling
};

}  // namespace

TEST(DataAugment, TransformByHand) {
  // k = 200 / (200 * 1) = 1, c0 = 99.5: a translation by c0 - center.
  auto t = CropTransform::make(100, 50, 1.0, 200);
  auto p = t.apply(200, 50);  // the box's right edge -> the crop's right edge (res - 0.5)
  EXPECT_NEAR(p[0], 199.5, 1e-12);
  EXPECT_NEAR(p[1], 99.5, 1e-12);
  // 90 degrees: content turns counter-clockwise on screen (y down): right of centre -> above.
  t = CropTransform::make(100, 50, 1.0, 200, 90);
  p = t.apply(101, 50);
  EXPECT_NEAR(p[0], 99.5, 1e-12);
  EXPECT_NEAR(p[1], 98.5, 1e-12);
  // Flip mirrors about the crop centre; scale 0.5 magnifies 2x.
  t = CropTransform::make(100, 50, 0.5, 200, 0, true);
  p = t.apply(110, 53);
  EXPECT_NEAR(p[0], 99.5 - 20, 1e-12);
  EXPECT_NEAR(p[1], 99.5 + 6, 1e-12);
}

TEST(DataAugment, TransformInverseIsIdentity) {
  const auto v = random_values(60, -1, 1, 7);
  for (int i = 0; i < 10; ++i) {
    const double cx = 300 * v[i * 6], cy = 200 * v[i * 6 + 1], s = 1.5 + v[i * 6 + 2];
    const double rot = 60 * v[i * 6 + 3];
    const auto t = CropTransform::make(cx, cy, s, 224, rot, v[i * 6 + 4] > 0);
    const auto inv = t.inverse();
    const double x = 500 * v[i * 6 + 5], y = -300 * v[i * 6 + 2];
    const auto q = t.apply(x, y);
    const auto back = inv.apply(q[0], q[1]);
    EXPECT_NEAR(back[0], x, 1e-9);
    EXPECT_NEAR(back[1], y, 1e-9);
    const auto a = t.matrix3(), b = inv.matrix3();
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) {
        double s3 = 0;
        for (int k = 0; k < 3; ++k) s3 += a[r * 3 + k] * b[k * 3 + c];
        EXPECT_NEAR(s3, r == c ? 1.0 : 0.0, 1e-12);
      }
  }
}

TEST(DataAugment, CropImageExactCases) {
  // 8x8 image, box 8 px centred on the image, res 8: the identity, its mirror, and a quarter turn.
  std::vector<uint8_t> px(8 * 8 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>((i * 37) % 251);
  const Tensor img = Tensor::from_vector<uint8_t>(px, {8, 8, 3});
  const double s = 8.0 / 200.0;
  const auto same = crop_image(img, 3.5, 3.5, s, 8).to_vector<int>();
  const auto mirror = crop_image(img, 3.5, 3.5, s, 8, 0, true).to_vector<int>();
  const auto turned = crop_image(img, 3.5, 3.5, s, 8, 90).to_vector<int>();
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x)
      for (int c = 0; c < 3; ++c) {
        const int v = px[(y * 8 + x) * 3 + c];
        EXPECT_EQ(same[(y * 8 + x) * 3 + c], v);
        EXPECT_EQ(mirror[(y * 8 + (7 - x)) * 3 + c], v);
        // (x, y) -> (c0 + (y - c0), c0 - (x - c0)) = (y, 7 - x)
        EXPECT_EQ(turned[((7 - x) * 8 + y) * 3 + c], v);
      }
  // Half-pixel shift: bilinear average of neighbours (by hand), and outside counts as 0.
  const auto half = crop_image(img, 4.0, 3.5, s, 8).to_vector<int>();
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) {
      const double a = px[(y * 8 + x) * 3], b = x + 1 < 8 ? px[(y * 8 + x + 1) * 3] : 0.0;
      EXPECT_NEAR(half[(y * 8 + x) * 3], 0.5 * (a + b), 0.5 + 1e-9);
    }
  const auto far = crop_image(img, 500, 500, s, 8).to_vector<int>();
  for (int v : far) EXPECT_EQ(v, 0);
}

TEST(DataAugment, CropMaskIsNearest) {
  std::vector<uint8_t> m(40 * 30);
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 40; ++x) m[y * 40 + x] = static_cast<uint8_t>(x < 20 ? (y < 15 ? 3 : 7) : 11);
  const Tensor mask = Tensor::from_vector<uint8_t>(m, {30, 40});
  const Tensor out = crop_mask(mask, 20, 15, 0.3, 50, 30, true);
  ASSERT_EQ(out.sizes(), (Shape{50, 50}));
  const std::set<int> labels = {0, 3, 7, 11};
  std::set<int> seen;
  for (int v : out.to_vector<int>()) {
    EXPECT_TRUE(labels.count(v)) << v;
    seen.insert(v);
  }
  EXPECT_EQ(seen, labels);  // the 60 px box is larger than the image, so 0 shows too
  const Tensor out3 = crop_mask(Tensor::from_vector<uint8_t>(m, {30, 40, 1}), 20, 15, 0.3, 50, 30, true);
  EXPECT_EQ(out3.to_vector<int>(), out.to_vector<int>());
}

// Projected 3D joints: processing the 2D keypoints equals projecting the processed 3D joints
// with the crop's camera (focal k f, principal point at the crop centre c0).
TEST(DataAugment, KeypointsAndJointsAgreeThroughProjection) {
  const Scene sc;
  const auto v = random_values(24 * 3, -0.15, 0.15, 11);
  std::vector<double> X(24 * 4), kp(24 * 3);
  for (int j = 0; j < 24; ++j) {
    X[j * 4] = v[j * 3], X[j * 4 + 1] = v[j * 3 + 1], X[j * 4 + 2] = 3 + v[j * 3 + 2], X[j * 4 + 3] = 1;
    kp[j * 3] = sc.f * X[j * 4] / X[j * 4 + 2] + sc.px;
    kp[j * 3 + 1] = sc.f * X[j * 4 + 1] / X[j * 4 + 2] + sc.py;
    kp[j * 3 + 2] = 0.5 + j;  // confidence passes through (permuted with its joint)
  }
  const double k = sc.res / (200 * sc.scale), c0 = (sc.res - 1) / 2.0;
  for (auto [rot, flip] : std::vector<std::pair<double, bool>>{{0, false}, {0, true}, {25, false}, {-40, true}}) {
    const auto k2 = process_keypoints_2d(f64(kp, {24, 3}), sc.px, sc.py, sc.scale, sc.res, rot, flip)
                        .to_vector<double>();
    const auto X2 = process_joints_3d(f64(X, {24, 4}), rot, flip).to_vector<double>();
    for (int j = 0; j < 24; ++j) {
      const double u = c0 + k * sc.f * X2[j * 4] / X2[j * 4 + 2];
      const double w = c0 + k * sc.f * X2[j * 4 + 1] / X2[j * 4 + 2];
      EXPECT_NEAR(k2[j * 3], (2 * u + 1) / sc.res - 1, 1e-9) << rot << " " << flip << " " << j;
      EXPECT_NEAR(k2[j * 3 + 1], (2 * w + 1) / sc.res - 1, 1e-9);
      const int src = flip ? static_cast<int>(j24_flip_perm()[j]) : j;
      EXPECT_EQ(k2[j * 3 + 2], kp[src * 3 + 2]);
      EXPECT_EQ(X2[j * 4 + 3], 1.0);
    }
  }
}

// A marker drawn at a joint's projected pixel must show up in the cropped image where the
// processed keypoint (at its flipped index) says: within 0.5 px (the centroids land within
// 0.25 px; a one-pixel slip in the flip or the centre convention shows).
TEST(DataAugment, MarkerFollowsKeypoint) {
  const Scene sc;
  const int W = 150, H = 110;
  const auto v = random_values(24 * 3, -0.12, 0.12, 5);
  std::vector<double> kp(24 * 2);
  for (int j = 0; j < 24; ++j) {
    const double Z = 3 + v[j * 3 + 2];
    kp[j * 2] = std::round(sc.f * v[j * 3] / Z + sc.px);  // marker centres on whole pixels
    kp[j * 2 + 1] = std::round(sc.f * v[j * 3 + 1] / Z + sc.py);
  }
  struct Case { double cx, cy, scale, rot; bool flip; };
  const std::vector<Case> cases = {{sc.px, sc.py, sc.scale, 0, false}, {sc.px, sc.py, sc.scale, 33, true},
                                   {sc.px + 4.3, sc.py - 2.2, 0.25, -50, false}, {sc.px - 3, sc.py, 0.22, 12, true}};
  for (const Case& cs : cases) {
    const auto k2 = process_keypoints_2d(f64(kp, {24, 2}), cs.cx, cs.cy, cs.scale, sc.res, cs.rot, cs.flip)
                        .to_vector<double>();
    for (int j : {0, 3, 7, 16}) {  // four joints, one image each
      std::vector<uint8_t> img(H * W * 3, 0);
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
          img[(y * W + x) * 3 + 1] = 90;  // a flat second channel: must not move the marker
          if (std::hypot(x - kp[j * 2], y - kp[j * 2 + 1]) <= 2.0) img[(y * W + x) * 3] = 250;
        }
      const auto crop = crop_image(Tensor::from_vector<uint8_t>(img, {H, W, 3}), cs.cx, cs.cy, cs.scale, sc.res,
                                   cs.rot, cs.flip)
                            .to_vector<double>();
      double sw = 0, su = 0, sv = 0;
      for (int y = 0; y < sc.res; ++y)
        for (int x = 0; x < sc.res; ++x) {
          const double w = crop[(y * sc.res + x) * 3];
          sw += w, su += w * x, sv += w * y;
        }
      ASSERT_GT(sw, 0) << "marker left the crop";
      // The joint's processed row is where the flip permutation puts it.
      int row = j;
      if (cs.flip)
        for (int r = 0; r < 24; ++r)
          if (j24_flip_perm()[r] == j) row = r;
      const double eu = ((k2[row * 2] + 1) * sc.res - 1) / 2, ev = ((k2[row * 2 + 1] + 1) * sc.res - 1) / 2;
      EXPECT_NEAR(su / sw, eu, 0.5) << "rot " << cs.rot << " flip " << cs.flip << " joint " << j;
      EXPECT_NEAR(sv / sw, ev, 0.5) << "rot " << cs.rot << " flip " << cs.flip << " joint " << j;
    }
  }
}

TEST(DataAugment, FlipPermutationsAreInvolutions) {
  for (const auto* perm : {&j24_flip_perm(), &j49_flip_perm(), &smpl_joint_flip_perm()}) {
    std::set<int64_t> all(perm->begin(), perm->end());
    EXPECT_EQ(all.size(), perm->size());
    for (size_t i = 0; i < perm->size(); ++i) EXPECT_EQ((*perm)[(*perm)[i]], static_cast<int64_t>(i));
  }
  ASSERT_EQ(j49_flip_perm().size(), 49u);
  EXPECT_EQ(j49_flip_perm()[2], 5);    // OP RShoulder <-> OP LShoulder
  EXPECT_EQ(j49_flip_perm()[25], 30);  // Right Ankle <-> Left Ankle
  EXPECT_EQ(j49_flip_perm()[44], 44);  // Nose stays
  EXPECT_EQ(smpl_joint_flip_perm()[1], 2);  // left hip <-> right hip
}

TEST(DataAugment, FlipTwiceIsIdentity) {
  for (int64_t n : {24, 49}) {
    const auto v = random_values(n * 3, -1, 1, 3);
    const Tensor kp = f64(v, {n, 3});
    EXPECT_EQ(flip_keypoints(flip_keypoints(kp)).to_vector<double>(), v);
    const auto once = flip_keypoints(kp).to_vector<double>();
    const auto& perm = keypoint_flip_perm(n);
    EXPECT_EQ(once[0], -v[perm[0] * 3]);
    EXPECT_EQ(once[4], v[perm[1] * 3 + 1]);
  }
  const auto j = random_values(24 * 4, -1, 1, 4);
  EXPECT_EQ(process_joints_3d(process_joints_3d(f64(j, {24, 4}), 0, true), 0, true).to_vector<double>(), j);
  const auto pose = random_values(72, -0.5, 0.5, 9);
  const auto once = flip_pose(f64(pose, {72})).to_vector<double>();
  EXPECT_EQ(once[3], pose[6]);    // joint 1 takes joint 2's x ...
  EXPECT_EQ(once[4], -pose[7]);   // ... and its negated y and z
  EXPECT_EQ(once[5], -pose[8]);
  EXPECT_EQ(once[0], pose[0]);    // the root keeps x, negates y and z
  EXPECT_EQ(once[1], -pose[1]);
  EXPECT_EQ(flip_pose(flip_pose(f64(pose, {72}))).to_vector<double>(), pose);
  EXPECT_EQ(process_pose(process_pose(f64(pose, {72}), 0, true), 0, true).to_vector<double>(), pose);
  // F32 in, F32 out.
  EXPECT_EQ(flip_pose(f64(pose, {72}).to(DType::F32)).dtype(), DType::F32);
  // 2D keypoints: the flipped crop's keypoints are the unflipped ones, flipped.
  const auto k = random_values(24 * 3, 0, 100, 12);
  EXPECT_EQ(process_keypoints_2d(f64(k, {24, 3}), 50, 40, 0.4, 32, 17, true).to_vector<double>(),
            flip_keypoints(process_keypoints_2d(f64(k, {24, 3}), 50, 40, 0.4, 32, 17, false)).to_vector<double>());
}

TEST(DataAugment, RotateAxisAngleMatchesMatrices) {
  // Against hmr::geometry's Rodrigues: R(rot) Rodrigues(aa) == Rodrigues(rotate_axis_angle(aa, rot)).
  const std::vector<std::vector<double>> aas = {{0.3, -0.2, 0.9}, {0, 0, 0}, {3.1, 0.05, -0.02}, {1e-7, 0, 2e-7}};
  for (const auto& aa : aas)
    for (double rot : {0.0, 37.0, -59.0, 180.0}) {
      const auto out = rotate_axis_angle(f64(aa, {3}), rot).to_vector<double>();
      EXPECT_LE(std::sqrt(out[0] * out[0] + out[1] * out[1] + out[2] * out[2]), M_PI + 1e-9);
      const auto R0 = geometry::axis_angle_to_matrix(f64(aa, {3})).to_vector<double>();
      const auto R1 = geometry::axis_angle_to_matrix(f64(out, {3})).to_vector<double>();
      const auto Rz = rotation_about_camera_axis(rot);
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) {
          double e = 0;
          for (int q = 0; q < 3; ++q) e += Rz[r * 3 + q] * R0[q * 3 + c];
          EXPECT_NEAR(R1[r * 3 + c], e, 1e-9) << rot;
        }
    }
}

// Rotating the global orient rotates the posed body about its root: the SMPL joints of the
// processed pose, relative to the root, are the processed (rotated) joints of the original.
TEST(DataAugment, PoseRotationMatchesJointRotation) {
  const body::BodyModel model(body::default_body_model(body::BodySize::Small), DType::F64);
  const auto pose = random_values(72, -0.4, 0.4, 21);
  const Tensor betas = Tensor::from_vector<double>(random_values(10, -1, 1, 22), {1, 10});
  auto rel = [&](const Tensor& p) {
    const auto j = model.forward(betas, p.reshape({1, 72})).joints.to_vector<double>();
    std::vector<double> r(24 * 3);
    for (int i = 0; i < 24; ++i)
      for (int a = 0; a < 3; ++a) r[i * 3 + a] = j[i * 3 + a] - j[a];
    return r;
  };
  const auto before = rel(f64(pose, {72}));
  for (double rot : {30.0, -55.0}) {
    const auto after = rel(process_pose(f64(pose, {72}), rot, false));
    const auto expect = process_joints_3d(f64(before, {24, 3}), rot, false).to_vector<double>();
    for (int i = 0; i < 72; ++i) EXPECT_NEAR(after[i], expect[i], 1e-9) << rot << " " << i;
    // the pose outside the global orient is untouched
    const auto p2 = process_pose(f64(pose, {72}), rot, false).to_vector<double>();
    for (int i = 3; i < 72; ++i) EXPECT_EQ(p2[i], pose[i]);
  }
}

TEST(DataAugment, SamplerIsDeterministicAndDistributedAsSpin) {
  const AugmentConfig cfg;
  const auto a = sample_augment(cfg, 42, 7), b = sample_augment(cfg, 42, 7), c = sample_augment(cfg, 42, 8);
  EXPECT_EQ(a.rot, b.rot);
  EXPECT_EQ(a.scale, b.scale);
  EXPECT_EQ(a.color, b.color);
  EXPECT_EQ(a.flip, b.flip);
  EXPECT_NE(a.color, c.color);
  const int n = 40000;
  int flips = 0, zero_rot = 0, rot_clipped = 0, scale_clipped = 0;
  double color_sum = 0, rot_sum = 0;
  for (int i = 0; i < n; ++i) {
    const auto p = sample_augment(cfg, 1234, static_cast<uint64_t>(i));
    flips += p.flip;
    zero_rot += p.rot == 0.0;
    rot_clipped += std::abs(p.rot) == 60.0;
    rot_sum += p.rot;
    ASSERT_LE(std::abs(p.rot), 60.0);
    ASSERT_GE(p.scale, 0.75);
    ASSERT_LE(p.scale, 1.25);
    scale_clipped += p.scale == 0.75 || p.scale == 1.25;
    for (double f : p.color) {
      ASSERT_GE(f, 0.6);
      ASSERT_LT(f, 1.4);
      color_sum += f;
    }
  }
  // Expected fractions: flip 0.5; rot 0 with 0.6; |N(0,30)| > 60 with P(|z| > 2) = 0.0455 of
  // the other 0.4; scale clipped with P(|z| > 1) = 0.3173. Tolerances ~5 standard errors.
  EXPECT_NEAR(flips / double(n), 0.5, 0.013);
  EXPECT_NEAR(zero_rot / double(n), 0.6, 0.013);
  EXPECT_NEAR(rot_clipped / double(n), 0.4 * 0.0455, 0.006);
  EXPECT_NEAR(scale_clipped / double(n), 0.3173, 0.012);
  EXPECT_NEAR(color_sum / (3.0 * n), 1.0, 0.005);
  EXPECT_NEAR(rot_sum / n, 0.0, 0.6);
  // Colour noise: channel factors, clipped at 255.
  const Tensor img = Tensor::from_vector<uint8_t>({100, 100, 100, 200, 10, 0}, {1, 2, 3});
  EXPECT_EQ(apply_color_noise(img, {1.3, 0.6, 1.0}).to_vector<int>(), (std::vector<int>{130, 60, 100, 255, 6, 0}));
}

TEST(DataAugment, BadArgumentsError) {
  const Tensor gray = Tensor::empty({4, 5}, DType::U8);
  std::string msg = error_message([&] { crop_image(gray, 1, 1, 1, 8); });
  EXPECT_NE(msg.find("crop_image"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4, 5]"), std::string::npos) << msg;
  EXPECT_THROW(crop_image(gray, 1, 1, 1, 8), ShapeError);
  EXPECT_THROW(crop_image(Tensor::empty({4, 5, 3}, DType::F32), 1, 1, 1, 8), DTypeError);
  EXPECT_THROW(crop_image(Tensor::empty({4, 5, 3}, DType::U8), 1, 1, 1, 0), ValueError);
  EXPECT_THROW(crop_image(Tensor::empty({4, 5, 3}, DType::U8), 1, 1, -2, 8), ValueError);
  EXPECT_THROW(crop_mask(Tensor::empty({4}, DType::U8), 1, 1, 1, 8), ShapeError);
  EXPECT_THROW(apply_color_noise(Tensor::empty({4, 5, 4}, DType::U8), {1, 1, 1}), ShapeError);
  msg = error_message([&] { process_keypoints_2d(zeros({24, 4}, DType::F64), 0, 0, 1, 8); });
  EXPECT_NE(msg.find("process_keypoints_2d"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[24, 4]"), std::string::npos) << msg;
  msg = error_message([&] { process_keypoints_2d(zeros({17, 3}, DType::F64), 0, 0, 1, 8, 0, true); });
  EXPECT_NE(msg.find("17"), std::string::npos) << msg;
  EXPECT_THROW(process_keypoints_2d(zeros({17, 3}, DType::F64), 0, 0, 1, 8, 0, true), ValueError);
  EXPECT_NO_THROW(process_keypoints_2d(zeros({17, 3}, DType::F64), 0, 0, 1, 8, 10, false));
  EXPECT_THROW(process_keypoints_2d(zeros({24, 3}, DType::I64), 0, 0, 1, 8), DTypeError);
  EXPECT_THROW(process_joints_3d(zeros({24, 2}, DType::F64)), ShapeError);
  EXPECT_THROW(flip_keypoints(zeros({25, 3}, DType::F64)), ValueError);
  msg = error_message([&] { flip_pose(zeros({71}, DType::F64)); });
  EXPECT_NE(msg.find("flip_pose"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[71]"), std::string::npos) << msg;
  EXPECT_THROW(process_pose(zeros({24, 3}, DType::F64)), ShapeError);
  EXPECT_THROW(rotate_axis_angle(zeros({4}, DType::F64), 3), ShapeError);
  CropTransform singular;
  singular.m[0][0] = 0;
  EXPECT_THROW(singular.inverse(), ValueError);
}
