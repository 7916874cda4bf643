// GradScaler: scaling, unscaling, skipping non-finite steps, and the growth/backoff schedule of
// torch.cuda.amp.GradScaler, worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "autograd/ops.h"
#include "nn/optim/grad_scaler.h"

using namespace hmr;

TEST(GradScaler, ScalesUnscalesAndStepsLikePlainSgd) {
  Tensor w = tensor({1.0, 2.0}).requires_grad_();
  optim::SGD opt({w}, {.lr = 0.1});
  optim::GradScaler scaler({.init_scale = 1024.0, .growth_interval = 2});
  Tensor loss = (w * w).sum();  // grad 2w
  Tensor scaled = scaler.scale(loss);
  EXPECT_FLOAT_EQ(scaled.item<float>(), 5.0f * 1024.0f);
  scaled.backward();
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{2048.0f, 4096.0f}));
  EXPECT_TRUE(scaler.step(opt));
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{2.0f, 4.0f}));
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{0.8f, 1.6f}));
  scaler.update();
  EXPECT_EQ(scaler.get_scale(), 1024.0);
  EXPECT_EQ(scaler.growth_tracker(), 1);
  // A second clean step reaches growth_interval = 2: the scale doubles, the tracker resets.
  opt.zero_grad();
  scaler.scale((w * w).sum()).backward();
  scaler.step(opt);
  scaler.update();
  EXPECT_EQ(scaler.get_scale(), 2048.0);
  EXPECT_EQ(scaler.growth_tracker(), 0);
}

TEST(GradScaler, SkipsTheStepAndBacksOffOnNonFiniteGradients) {
  Tensor w = tensor({1.0, 2.0}).requires_grad_();
  optim::SGD opt({w}, {.lr = 0.1});
  optim::GradScaler scaler({.init_scale = 8.0});
  w.set_grad(tensor({1.0, std::numeric_limits<double>::infinity()}));
  EXPECT_FALSE(scaler.step(opt));
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{1.0f, 2.0f}));  // untouched
  scaler.update();
  EXPECT_EQ(scaler.get_scale(), 4.0);
  w.set_grad(tensor({std::nan(""), 0.0}));
  scaler.unscale_(opt);
  EXPECT_THROW(scaler.unscale_(opt), ValueError);  // once per step
  EXPECT_FALSE(scaler.step(opt));
  scaler.update();
  EXPECT_EQ(scaler.get_scale(), 2.0);
  // State round trip.
  optim::GradScaler other;
  other.load_state_dict(scaler.state_dict());
  EXPECT_EQ(other.get_scale(), 2.0);
}

TEST(GradScaler, DisabledIsATransparentPassThrough) {
  Tensor w = tensor({1.0}).requires_grad_();
  optim::SGD opt({w}, {.lr = 1.0});
  optim::GradScaler scaler({.enabled = false});
  Tensor loss = (w * 3.0).sum();
  EXPECT_TRUE(scaler.scale(loss).is_same(loss));
  loss.backward();
  EXPECT_TRUE(scaler.step(opt));
  EXPECT_EQ(w.item<float>(), -2.0f);
}
