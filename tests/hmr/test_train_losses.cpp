// SPIN's training losses against PyTorch (fixture from tests/fixtures/make_train_fixtures.py),
// the training config parser, and the fits dictionary's augmentation round trip.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "autograd/ops.h"
#include "hmr/data/augment.h"
#include "hmr/geometry/rotations.h"
#include "hmr/train/config.h"
#include "hmr/train/fits_dict.h"
#include "hmr/train/spin_losses.h"
#include "io/json.h"
#include "io/npy.h"
#include "support.h"

namespace hmr {
namespace {

const TensorDict& fixture() {
  static const TensorDict d =
      io::load_npz(std::string(HMR_SOURCE_DIR) + "/tests/fixtures/train/spin_losses.npz");
  return d;
}

Tensor leaf(const std::string& name) { return fixture().at(name).clone().requires_grad_(); }
Tensor value(const std::string& name) { return fixture().at(name); }

double max_abs_diff(const Tensor& a, const Tensor& b) {
  return amax(abs(a.to(DType::F64) - b.to(DType::F64))).item();
}

void expect_loss(const Tensor& loss, const Tensor& wrt, const std::string& name) {
  SCOPED_TRACE(name);
  EXPECT_NEAR(loss.item(), value("loss_" + name).item(), 1e-12 * (1 + std::abs(loss.item())));
  loss.backward();
  ASSERT_TRUE(wrt.grad().defined());
  EXPECT_LT(max_abs_diff(wrt.grad(), value("grad_" + name)), 1e-12);
}

TEST(SpinLosses, Keypoint2dMatchesPyTorch) {
  Tensor pred = leaf("pred_kp2d");
  Tensor loss = train::keypoint_2d_loss(pred, value("gt_kp2d"), value("openpose_weight").item(),
                                        value("gt_weight").item());
  expect_loss(loss, pred, "kp2d");
}

TEST(SpinLosses, Keypoint3dMatchesPyTorch) {
  Tensor pred = leaf("pred_kp3d");
  expect_loss(train::keypoint_3d_loss(pred, value("gt_kp3d"), value("has_pose_3d")), pred, "kp3d");
}

TEST(SpinLosses, SmplParametersMatchPyTorch) {
  Tensor rotmat = leaf("pred_rotmat"), betas = leaf("pred_betas");
  auto l = train::smpl_parameter_losses(rotmat, betas, value("gt_pose"), value("gt_betas"), value("valid"));
  expect_loss(l.pose, rotmat, "pose");
  expect_loss(l.betas, betas, "betas");
}

TEST(SpinLosses, VerticesAndCameraMatchPyTorch) {
  Tensor v = leaf("pred_vertices"), cam = leaf("camera");
  expect_loss(train::vertex_loss(v, value("gt_vertices"), value("valid")), v, "vertices");
  expect_loss(train::camera_scale_loss(cam), cam, "camera");
}

TEST(SpinLosses, EmptySelectionIsAZeroThatStillBackpropagates) {
  Tensor pred = leaf("pred_kp3d");
  Tensor loss = train::keypoint_3d_loss(pred, value("gt_kp3d"), zeros({4}));
  EXPECT_EQ(loss.item(), 0.0);
  loss.backward();
  ASSERT_TRUE(pred.grad().defined());
  EXPECT_EQ(amax(abs(pred.grad())).item(), 0.0);
}

TEST(SpinLosses, ShapeErrorsNameTheOperands) {
  std::string msg = testing::error_message([] {
    train::keypoint_2d_loss(zeros({2, 49, 3}), zeros({2, 49, 3}));
  });
  EXPECT_NE(msg.find("keypoint_2d_loss"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 49, 3]"), std::string::npos) << msg;
  msg = testing::error_message([] { train::camera_scale_loss(zeros({2, 4})); });
  EXPECT_NE(msg.find("camera"), std::string::npos) << msg;
}

// ---- config -----------------------------------------------------------------------------------

TEST(TrainConfig, ParsesNestedKeysDatasetsAndOverrides) {
  io::Json doc = io::parse_json(R"({
    "method": "hmr", "backbone": 18, "img_res": 96, "batch_size": 16, "lr": 1e-4,
    "loss": {"pose": 2.5}, "smplify": {"run": true, "body_iters": 7},
    "datasets": [{"npz": "synth/train.npz", "probability": 0.25}, {"name": "b", "npz": "/abs/b.npz"}],
    "eval_dataset": {"npz": "synth/val.npz"}
  })");
  train::TrainConfig c = train::parse_train_config(doc, "cfg.json", "/base");
  EXPECT_EQ(c.method, "hmr");
  EXPECT_EQ(c.backbone, 18);
  EXPECT_EQ(c.img_res, 96);
  EXPECT_EQ(c.loss.pose, 2.5);
  EXPECT_EQ(c.loss.keypoint_2d, 5.0);  // untouched default
  EXPECT_TRUE(c.smplify.run);
  EXPECT_EQ(c.smplify.body_iters, 7);
  ASSERT_EQ(c.datasets.size(), 2u);
  EXPECT_EQ(c.datasets[0].npz, "/base/synth/train.npz");
  EXPECT_EQ(c.datasets[0].name, "train");
  EXPECT_EQ(c.datasets[0].probability, 0.25);
  EXPECT_EQ(c.datasets[1].npz, "/abs/b.npz");
  EXPECT_EQ(c.eval_dataset.npz, "/base/synth/val.npz");
  c.validate();

  train::apply_override(c, "loss.betas=0.1");
  train::apply_override(c, "steps=42");
  train::apply_override(c, "device=cpu");
  train::apply_override(c, "smplify.run=false");
  EXPECT_EQ(c.loss.betas, 0.1);
  EXPECT_EQ(c.steps, 42);
  EXPECT_EQ(c.device, "cpu");
  EXPECT_FALSE(c.smplify.run);

  // JSON round trip gives the same config.
  train::TrainConfig back = train::parse_train_config(train::train_config_to_json(c), "round trip");
  EXPECT_EQ(io::to_json(train::train_config_to_json(back)), io::to_json(train::train_config_to_json(c)));
}

TEST(TrainConfig, UnknownKeysAndBadValuesAreNamed) {
  auto parse = [](const char* text) {
    return testing::error_message(
        [&] { train::parse_train_config(io::parse_json(text), "cfg.json").validate(); });
  };
  std::string msg = parse(R"({"lerning_rate": 1, "datasets": [{"npz": "a.npz"}]})");
  EXPECT_NE(msg.find("lerning_rate"), std::string::npos) << msg;
  EXPECT_NE(msg.find("lr"), std::string::npos) << msg;  // lists the known keys
  msg = parse(R"({"loss": {"pos": 1}, "datasets": [{"npz": "a.npz"}]})");
  EXPECT_NE(msg.find("loss.pos"), std::string::npos) << msg;
  msg = parse(R"({"batch_size": 1.5, "datasets": [{"npz": "a.npz"}]})");
  EXPECT_NE(msg.find("batch_size"), std::string::npos) << msg;
  msg = parse(R"({"method": "cmr", "datasets": [{"npz": "a.npz"}]})");
  EXPECT_NE(msg.find("method"), std::string::npos) << msg;
  msg = parse(R"({"grad_clip": -1, "datasets": [{"npz": "a.npz"}]})");
  EXPECT_NE(msg.find("grad_clip"), std::string::npos) << msg;
  msg = parse(R"({"datasets": []})");
  EXPECT_NE(msg.find("datasets"), std::string::npos) << msg;
  msg = parse(R"({"datasets": [{"npz": "a.npz", "prob": 1}]})");
  EXPECT_NE(msg.find("prob"), std::string::npos) << msg;
  train::TrainConfig c;
  msg = testing::error_message([&] { train::apply_override(c, "nosuchkey=1"); });
  EXPECT_NE(msg.find("nosuchkey"), std::string::npos) << msg;
  msg = testing::error_message([&] { train::apply_override(c, "steps"); });
  EXPECT_NE(msg.find("key=value"), std::string::npos) << msg;
}

// ---- fits dictionary ----------------------------------------------------------------------------

Tensor random_pose(int64_t b, uint64_t seed) {
  Generator g(seed);
  return randn({b, 72}, DType::F32, &g) * 0.4;
}

// Axis-angles are compared as rotations (2*pi ambiguity).
double max_rotation_diff(const Tensor& a, const Tensor& b) {
  Tensor ra = geometry::axis_angle_to_matrix(reshape(a.to(DType::F64), {-1, 3}));
  Tensor rb = geometry::axis_angle_to_matrix(reshape(b.to(DType::F64), {-1, 3}));
  return amax(abs(ra - rb)).item();
}

TEST(FitsDict, StoresInTheUnaugmentedFrameAndReadsBackAugmented) {
  train::FitsDict fits({"a", "b"}, {5, 3});
  Tensor ds = Tensor::from_vector<int64_t>({0, 1, 0}, {3});
  Tensor ix = Tensor::from_vector<int64_t>({4, 2, 1}, {3});
  Tensor rot = Tensor::from_vector<float>({30.f, -50.f, 0.f}, {3});
  Tensor flip = Tensor::from_vector<float>({1.f, 0.f, 1.f}, {3});
  Tensor pose = random_pose(3, 1);
  Tensor betas = randn({3, 10});
  EXPECT_EQ(sum(fits.has_fit(ds, ix)).item(), 0.0);
  fits.set(ds, ix, rot, flip, pose, betas, ones({3}));
  EXPECT_EQ(sum(fits.has_fit(ds, ix)).item(), 3.0);

  // Read back under the same augmentation: the same rotations and betas.
  auto [p, b] = fits.get(ds, ix, rot, flip);
  EXPECT_LT(max_rotation_diff(p, pose), 1e-5);
  EXPECT_LT(max_abs_diff(b, betas), 1e-7);

  // The stored row is the un-augmented pose: augmenting it with process_pose gives the input.
  Tensor stored = narrow(fits.table(0), 0, 4, 1).reshape({82});
  Tensor re = data::process_pose(narrow(stored, 0, 0, 72), 30.0, true);
  EXPECT_LT(max_rotation_diff(re.reshape({1, 72}), narrow(pose, 0, 0, 1)), 1e-5);

  // update = 0 leaves a row alone.
  Tensor before = fits.table(1).clone();
  fits.set(ds, ix, rot, flip, random_pose(3, 2), betas, Tensor::from_vector<float>({1.f, 0.f, 1.f}, {3}));
  EXPECT_EQ(max_abs_diff(fits.table(1), before), 0.0);
}

TEST(FitsDict, SaveAndLoadStaticFits) {
  const std::string dir = (std::filesystem::temp_directory_path() / "hmr_fits_test").string();
  std::filesystem::remove_all(dir);
  train::FitsDict fits({"a"}, {4});
  Tensor ds = zeros({2}, DType::I64), ix = Tensor::from_vector<int64_t>({0, 3}, {2});
  fits.set(ds, ix, zeros({2}), zeros({2}), random_pose(2, 3), randn({2, 10}), ones({2}));
  fits.save(dir);
  train::FitsDict loaded({"a", "missing"}, {4, 2});
  EXPECT_EQ(loaded.load_static(dir), 1);
  EXPECT_EQ(max_abs_diff(loaded.table(0), fits.table(0)), 0.0);
  EXPECT_EQ(
      sum(loaded.has_fit(zeros({4}, DType::I64), Tensor::from_vector<int64_t>({0, 1, 2, 3}, {4}))).item(),
      4.0);
  train::FitsDict wrong({"a"}, {5});
  std::string msg = testing::error_message([&] { wrong.load_static(dir); });
  EXPECT_NE(msg.find("(5, 82)"), std::string::npos) << msg;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hmr
