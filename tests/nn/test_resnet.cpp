// ResNet against torchvision: parameter names and counts, then ResNet-18 logits (eval and
// train mode), running statistics and gradients against tests/fixtures/resnet18_fixtures.inc
// (weights by formula, see make_resnet_fixtures.py), and a real torchvision ResNet-50 checkpoint
// loaded through hmr's pickle reader when /usr/bin/python3 has torchvision to write one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "fixtures/resnet18_fixtures.inc"
#include "io/npy.h"
#include "io/torch_file.h"
#include "nn/resnet.h"

using namespace hmr;

namespace {

// u(k, i) of make_resnet_fixtures.py: splitmix64(k * golden + i), top 24 bits, on [-1, 1).
std::vector<double> unit(uint64_t k, int64_t n) {
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    uint64_t z = k * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(i);
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z = z ^ (z >> 31);
    out[static_cast<size_t>(i)] = static_cast<double>(z >> 40) / 8388608.0 - 1.0;
  }
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void fill_formula_weights(nn::Module& model) {
  int k = 0;
  for (auto& [name, t] : model.state_dict()) {
    if (!ends_with(name, "num_batches_tracked")) {
      std::vector<double> u = unit(static_cast<uint64_t>(k), t.numel());
      for (double& v : u) {
        if (ends_with(name, "running_var")) v = 0.75 + 0.25 * v;
        else if (ends_with(name, "running_mean")) v = 0.1 * v;
        else if (t.dim() == 4) v = v * std::sqrt(6.0 / static_cast<double>(t.size(1) * t.size(2) * t.size(3)));
        else if (name == "fc.weight") v = v / std::sqrt(static_cast<double>(t.size(1)));
        else if (name == "fc.bias") v = 0.01 * v;
        else if (ends_with(name, "weight")) v = 1.0 + 0.1 * v;
        else v = 0.1 * v;
      }
      std::vector<float> f(u.begin(), u.end());
      NoGradGuard no_grad;
      t.copy_(Tensor::from_vector(f, t.sizes()));
    }
    ++k;
  }
}

// max |a - b| / max(1, max |b|): the logits are O(10-100), so this is a relative error.
double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0, scale = 1;
  for (float v : b) scale = std::max(scale, static_cast<double>(std::abs(v)));
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
  return worst / scale;
}

std::vector<float> head(const Tensor& t, size_t n) {
  std::vector<float> v = t.to_vector<float>();
  v.resize(std::min(n, v.size()));
  return v;
}

}  // namespace

TEST(NnResNet, TorchvisionNamesAndParameterCounts) {
  // Parameter counts torchvision reports (sum(p.numel() for p in model.parameters())).
  nn::ResNet r18(18);
  EXPECT_EQ(r18.parameter_count(), 11689512);
  EXPECT_EQ(nn::ResNet(34).parameter_count(), 21797672);
  TensorDict sd = r18.state_dict();
  EXPECT_EQ(static_cast<int>(sd.size()), resnet18_fixture::state_dict_size);
  std::vector<std::string> k = sd.keys();
  EXPECT_EQ(k[0], "conv1.weight");
  EXPECT_EQ(k[1], "bn1.weight");
  EXPECT_EQ(k[5], "bn1.num_batches_tracked");
  EXPECT_EQ(k.back(), "fc.bias");
  EXPECT_TRUE(sd.contains("layer2.0.downsample.0.weight"));
  EXPECT_TRUE(sd.contains("layer2.0.downsample.1.running_var"));
  EXPECT_FALSE(sd.contains("layer1.0.downsample.0.weight"));
  EXPECT_EQ(sd.at("layer4.1.conv2.weight").sizes(), (Shape{512, 512, 3, 3}));
  nn::ResNet r50(50, {.num_classes = 1000, .include_fc = false});
  EXPECT_FALSE(r50.state_dict().contains("fc.weight"));
  EXPECT_EQ(r50.parameter_count() + 2048 * 1000 + 1000, 25557032);  // + fc
  EXPECT_EQ(r50.feature_dim(), 2048);
  EXPECT_EQ(r50.state_dict().at("layer3.5.conv3.weight").sizes(), (Shape{1024, 256, 1, 1}));
  EXPECT_THROW(nn::ResNet(20), ValueError);
}

TEST(NnResNet, ResNet18MatchesTorchvisionInEvalAndTrainMode) {
  nn::ResNet model(18);
  fill_formula_weights(model);
  Tensor x = Tensor::from_vector(std::vector<float>([] {
                                   auto u = unit(9999, 2 * 3 * 64 * 64);
                                   return std::vector<float>(u.begin(), u.end());
                                 }()),
                                 {2, 3, 64, 64});
  model.eval();
  {
    NoGradGuard no_grad;
    EXPECT_LT(rel_err(model.forward(x).to_vector<float>(), resnet18_fixture::eval_logits), 2e-5);
  }
  // Eval mode leaves the running statistics alone.
  EXPECT_EQ(model.bn1->num_batches_tracked.item<int64_t>(), 0);

  model.train();
  Tensor logits = model.forward(x);
  EXPECT_LT(rel_err(logits.to_vector<float>(), resnet18_fixture::train_logits), 2e-5);
  EXPECT_LT(rel_err(model.bn1->running_mean.to_vector<float>(), resnet18_fixture::bn1_running_mean), 1e-5);
  EXPECT_LT(rel_err(model.bn1->running_var.to_vector<float>(), resnet18_fixture::bn1_running_var), 1e-5);
  auto block = std::dynamic_pointer_cast<nn::BasicBlock>((*model.layers[3])[1]);
  EXPECT_LT(rel_err(block->bn2->running_var.to_vector<float>(), resnet18_fixture::layer4_1_bn2_running_var), 1e-5);
  EXPECT_EQ(model.bn1->num_batches_tracked.item<int64_t>(), 1);

  square(logits).mean().backward();
  EXPECT_LT(rel_err(model.fc->bias.grad().to_vector<float>(), resnet18_fixture::fc_bias_grad), 1e-4);
  EXPECT_LT(rel_err(head(model.conv1->weight.grad(), 256), resnet18_fixture::conv1_weight_grad_head), 1e-4);
  double abs_sum = model.conv1->weight.grad().abs().sum().item();
  EXPECT_NEAR(abs_sum, resnet18_fixture::conv1_weight_grad_abs_sum[0], 1e-4 * abs_sum);
  auto down = std::dynamic_pointer_cast<nn::BatchNorm2d>((*std::dynamic_pointer_cast<nn::BasicBlock>((*model.layers[2])[0])->downsample)[1]);
  EXPECT_LT(rel_err(down->weight.grad().to_vector<float>(), resnet18_fixture::layer3_0_downsample_bn_weight_grad), 1e-4);
}

TEST(NnResNet, BackboneReturnsStagesAndPooledFeature) {
  nn::ResNet model(18, {.num_classes = 1000, .include_fc = false});
  model.eval();
  NoGradGuard no_grad;
  nn::ResNetFeatures f = model.features(randn({1, 3, 64, 96}));
  EXPECT_EQ(f.stages[0].sizes(), (Shape{1, 64, 16, 24}));
  EXPECT_EQ(f.stages[3].sizes(), (Shape{1, 512, 2, 3}));
  EXPECT_EQ(f.pooled.sizes(), (Shape{1, 512}));
  // The pooled feature is the spatial mean of the last stage.
  EXPECT_LT(rel_err(f.pooled.to_vector<float>(), f.stages[3].mean({2, 3}).to_vector<float>()), 1e-6);
  EXPECT_EQ(model.forward(randn({1, 3, 64, 64})).sizes(), (Shape{1, 512}));
  EXPECT_THROW(model.forward(randn({1, 4, 64, 64})), ShapeError);
}

TEST(NnResNet, TorchvisionResNet50CheckpointLoadsAndMatches) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("hmr_resnet50_" + std::to_string(::getpid()));
  std::string cmd = "/usr/bin/python3 -c 'import torch, torchvision' >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0)
    GTEST_SKIP() << "/usr/bin/python3 has no torch+torchvision to write a ResNet-50 checkpoint";
  std::string script = std::string(HMR_SOURCE_DIR) + "/tests/fixtures/make_resnet_fixtures.py";
  cmd = "/usr/bin/python3 " + script + " --pth " + dir.string() + " --arch resnet50";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  io::TorchFile file = io::load_torch((dir / "resnet50.pth").string());
  EXPECT_EQ(file.format, "zip");
  nn::ResNet model(50);
  model.load_state_dict(io::state_dict_of(file.root));
  TensorDict io = io::load_npz((dir / "resnet50_io.npz").string());
  model.eval();
  NoGradGuard no_grad;
  Tensor logits = model.forward(io.at("x"));
  EXPECT_LT(rel_err(logits.to_vector<float>(), io.at("logits").to_vector<float>()), 2e-5);
  fs::remove_all(dir);
}
