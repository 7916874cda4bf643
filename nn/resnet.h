// ResNet-18/34/50/101/152 with torchvision's module names and initialisation, so
// torchvision's checkpoints load unchanged ("conv1.weight", "layer3.2.bn2.running_var", ...).
// Usable as an ImageNet classifier or, without the fc layer, as the backbone every HMR method
// starts from (pooled feature plus per-stage feature maps).
#pragma once

#include <array>
#include <memory>

#include "nn/layers.h"

namespace hmr::nn {

// conv3x3 -> bn -> relu -> conv3x3 -> bn, plus the (projected) input, then relu.
class BasicBlock : public Module {
 public:
  static constexpr int64_t expansion = 1;
  BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<Sequential> downsample);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> conv1, conv2;
  std::shared_ptr<BatchNorm2d> bn1, bn2;
  std::shared_ptr<Sequential> downsample;  // null when the shapes already match
};

// 1x1 reduce -> 3x3 (carries the stride, as torchvision's "ResNet v1.5") -> 1x1 expand (x4).
class Bottleneck : public Module {
 public:
  static constexpr int64_t expansion = 4;
  Bottleneck(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<Sequential> downsample);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> conv1, conv2, conv3;
  std::shared_ptr<BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<Sequential> downsample;
};

struct ResNetOptions {
  int64_t num_classes = 1000;
  // Without the classifier ("fc") the model is a backbone: forward returns the pooled feature.
  bool include_fc = true;
  // Zero the last BN weight of each block (torchvision's zero_init_residual).
  bool zero_init_residual = false;
};

struct ResNetFeatures {
  std::array<Tensor, 4> stages;  // layer1..layer4 outputs: strides 4, 8, 16, 32
  Tensor pooled;                 // (N, 512 * expansion) after global average pooling
};

class ResNet : public Module {
 public:
  // depth: 18, 34, 50, 101 or 152.
  explicit ResNet(int depth, ResNetOptions o = {});
  // Logits (N, num_classes), or the pooled feature when built without fc.
  Tensor forward(const Tensor& x) override;
  ResNetFeatures features(const Tensor& x);
  int depth() const { return depth_; }
  int64_t feature_dim() const { return feature_dim_; }

  std::shared_ptr<Conv2d> conv1;
  std::shared_ptr<BatchNorm2d> bn1;
  std::shared_ptr<ReLU> relu;
  std::shared_ptr<MaxPool2d> maxpool;
  std::array<std::shared_ptr<Sequential>, 4> layers;
  std::shared_ptr<AdaptiveAvgPool2d> avgpool;
  std::shared_ptr<Linear> fc;  // null without fc

 private:
  int depth_;
  int64_t feature_dim_ = 0;
};

}  // namespace hmr::nn
