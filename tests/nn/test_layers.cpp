// Layer modules: parameter shapes, defaults, repr text and mode behaviour as torch.nn's
// (repr strings are what PyTorch 1.13 prints for the same constructor calls; running-statistic
// values are worked out by hand).
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "nn/layers.h"
#include "support.h"

using namespace hmr;

TEST(NnLayers, ReprMatchesPyTorch) {
  nn::Conv2dOptions o;
  o.stride = {2, 2};
  o.padding = {3, 3};
  o.bias = false;
  EXPECT_EQ(nn::Conv2d(3, 64, 7, o).to_string(),
            "Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)");
  nn::Conv2dOptions g;
  g.groups = 4;
  g.dilation = {2, 2};
  EXPECT_EQ(nn::Conv2d(8, 8, Size2{3, 1}, g).to_string(),
            "Conv2d(8, 8, kernel_size=(3, 1), stride=(1, 1), dilation=(2, 2), groups=4)");
  EXPECT_EQ(nn::BatchNorm2d(64).to_string(),
            "BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  EXPECT_EQ(nn::MaxPool2d({3, 3}, Size2{2, 2}, {1, 1}).to_string(),
            "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)");
  EXPECT_EQ(nn::AdaptiveAvgPool2d({1, 1}).to_string(), "AdaptiveAvgPool2d(output_size=(1, 1))");
  EXPECT_EQ(nn::Dropout(0.5).to_string(), "Dropout(p=0.5, inplace=False)");
  EXPECT_EQ(nn::GroupNorm(32, 64).to_string(), "GroupNorm(32, 64, eps=1e-05, affine=True)");
  EXPECT_EQ(nn::LayerNorm({10}).to_string(), "LayerNorm((10,), eps=1e-05, elementwise_affine=True)");
  EXPECT_EQ(nn::LayerNorm({4, 5}).to_string(), "LayerNorm((4, 5), eps=1e-05, elementwise_affine=True)");
  EXPECT_EQ(nn::Embedding(10, 3, 0).to_string(), "Embedding(10, 3, padding_idx=0)");
}

TEST(NnLayers, ParameterShapesAndNames) {
  nn::Conv2dOptions g;
  g.groups = 2;
  nn::Conv2d c(4, 6, 3, g);
  EXPECT_EQ(c.weight.sizes(), (Shape{6, 2, 3, 3}));
  EXPECT_EQ(c.bias.sizes(), (Shape{6}));
  // U(±1/sqrt(fan_in)) bias with fan_in = 2 * 9 for this grouped conv.
  double bound = 1.0 / std::sqrt(18.0);
  for (float b : c.bias.to_vector<float>()) EXPECT_LE(std::abs(b), bound);
  nn::ConvTranspose2d t(4, 6, {2, 2}, {.stride = {2, 2}, .groups = 2});
  EXPECT_EQ(t.weight.sizes(), (Shape{4, 3, 2, 2}));
  EXPECT_EQ(t.forward(randn({1, 4, 5, 5})).sizes(), (Shape{1, 6, 10, 10}));
  nn::BatchNorm1d bn(5);
  EXPECT_EQ(bn.state_dict().keys(),
            (std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}));
  EXPECT_EQ(bn.num_batches_tracked.dtype(), DType::I64);
  nn::BatchNorm2d plain(3, {.affine = false, .track_running_stats = false});
  EXPECT_TRUE(plain.state_dict().empty());
  EXPECT_THROW(nn::Conv2d(3, 4, 3, {.groups = 2}), ValueError);
  EXPECT_THROW(nn::GroupNorm(3, 8), ValueError);
}

TEST(NnLayers, BatchNormTracksRunningStatisticsInTrainingOnly) {
  // One channel, batch values {1, 3}: mean 2, biased var 1 (normalising), unbiased var 2.
  nn::BatchNorm1d bn(1);
  Tensor x = tensor({1.0, 3.0}, DType::F32).reshape({2, 1});
  std::vector<float> y = bn.forward(x).to_vector<float>();
  float s = static_cast<float>(1.0 / std::sqrt(1.0 + 1e-5));
  EXPECT_NEAR(y[0], -s, 1e-6);
  EXPECT_NEAR(y[1], s, 1e-6);
  EXPECT_NEAR(bn.running_mean.item(), 0.1 * 2.0, 1e-7);
  EXPECT_NEAR(bn.running_var.item(), 0.9 * 1.0 + 0.1 * 2.0, 1e-7);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 1);
  bn.eval();
  // Eval: (x - 0.2) / sqrt(1.1 + eps), statistics unchanged.
  std::vector<float> e = bn.forward(x).to_vector<float>();
  EXPECT_NEAR(e[0], (1.0 - 0.2) / std::sqrt(1.1 + 1e-5), 1e-6);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 1);
  EXPECT_NEAR(bn.running_mean.item(), 0.2, 1e-7);
}

TEST(NnLayers, BatchNormWithoutMomentumAveragesAllBatches) {
  // momentum=None: running mean after batches with means 2 and 6 is their average, 4.
  nn::BatchNorm1d bn(1, {.momentum = std::nullopt});
  bn.forward(tensor({1.0, 3.0}).reshape({2, 1}));
  bn.forward(tensor({5.0, 7.0}).reshape({2, 1}));
  EXPECT_NEAR(bn.running_mean.item(), 4.0, 1e-6);
  EXPECT_NEAR(bn.running_var.item(), 2.0, 1e-6);  // both batches have unbiased var 2
  EXPECT_EQ(bn.to_string(), "BatchNorm1d(1, eps=1e-05, momentum=None, affine=True, track_running_stats=True)");
}

TEST(NnLayers, BatchNormWithoutRunningStatsUsesBatchStatsInEval) {
  nn::BatchNorm1d bn(1, {.track_running_stats = false});
  bn.eval();
  std::vector<float> y = bn.forward(tensor({1.0, 3.0}).reshape({2, 1})).to_vector<float>();
  EXPECT_NEAR(y[0], -1.0, 1e-4);
  std::string msg = hmr::testing::error_message([&] { bn.forward(zeros({2, 2})); });
  EXPECT_NE(msg.find("BatchNorm1d"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 2]"), std::string::npos) << msg;
  EXPECT_THROW(nn::BatchNorm2d(3).forward(zeros({2, 3})), ShapeError);
}

TEST(NnLayers, DropoutIsIdentityInEvalAndEmbeddingZeroesThePaddingRow) {
  nn::Dropout d(0.5);
  Tensor x = ones({1000});
  std::vector<float> t = d.forward(x).to_vector<float>();
  int kept = 0;
  for (float v : t) {
    EXPECT_TRUE(v == 0.0f || v == 2.0f);
    kept += v != 0.0f;
  }
  EXPECT_GT(kept, 400);
  EXPECT_LT(kept, 600);
  d.eval();
  EXPECT_EQ(d.forward(x).to_vector<float>(), x.to_vector<float>());
  nn::Embedding e(5, 3, -1);  // padding_idx -1 means row 4, as in torch
  ASSERT_TRUE(e.padding_idx.has_value());
  EXPECT_EQ(*e.padding_idx, 4);
  EXPECT_EQ(e.weight.select(0, 4).to_vector<float>(), (std::vector<float>{0, 0, 0}));
  Tensor idx = Tensor::from_vector(std::vector<int64_t>{4, 1}, {2});
  EXPECT_EQ(e.forward(idx).sizes(), (Shape{2, 3}));
  EXPECT_EQ(e.forward(idx).select(0, 1).to_vector<float>(), e.weight.select(0, 1).to_vector<float>());
}
