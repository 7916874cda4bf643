// ResNet as torchvision builds it (nn/resnet.h): layer counts per depth, block types, the
// stride on the 3x3 convolution of bottlenecks, and kaiming-normal(fan_out) convolutions.
#include "nn/resnet.h"

#include "autograd/grad_mode.h"
#include "nn/init.h"

namespace hmr::nn {

namespace {

std::shared_ptr<Conv2d> conv(int64_t in, int64_t out, int64_t k, int64_t stride) {
  Conv2dOptions o;
  o.stride = {stride, stride};
  o.padding = {k / 2, k / 2};
  o.bias = false;
  return std::make_shared<Conv2d>(in, out, k, o);
}

std::shared_ptr<Sequential> projection(int64_t in, int64_t out, int64_t stride) {
  auto seq = std::make_shared<Sequential>();
  seq->push_back(conv(in, out, 1, stride));
  seq->push_back(std::make_shared<BatchNorm2d>(out));
  return seq;
}

struct Plan {
  bool bottleneck;
  std::array<int64_t, 4> blocks;
};

Plan plan_for(int depth) {
  switch (depth) {
    case 18: return {false, {2, 2, 2, 2}};
    case 34: return {false, {3, 4, 6, 3}};
    case 50: return {true, {3, 4, 6, 3}};
    case 101: return {true, {3, 4, 23, 3}};
    case 152: return {true, {3, 8, 36, 3}};
    default:
      throw ValueError(str("ResNet: depth must be 18, 34, 50, 101 or 152 but found ", depth));
  }
}

}  // namespace

BasicBlock::BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<Sequential> ds)
    : Module("BasicBlock") {
  conv1 = register_module("conv1", conv(inplanes, planes, 3, stride));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  register_module("relu", std::make_shared<ReLU>());
  conv2 = register_module("conv2", conv(planes, planes, 3, 1));
  bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  if (ds) downsample = register_module("downsample", ds);
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor y = relu(bn1->forward(conv1->forward(x)));
  y = bn2->forward(conv2->forward(y));
  return relu(y + (downsample ? downsample->forward(x) : x));
}

Bottleneck::Bottleneck(int64_t inplanes, int64_t planes, int64_t stride, std::shared_ptr<Sequential> ds)
    : Module("Bottleneck") {
  conv1 = register_module("conv1", conv(inplanes, planes, 1, 1));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  conv2 = register_module("conv2", conv(planes, planes, 3, stride));
  bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  conv3 = register_module("conv3", conv(planes, planes * expansion, 1, 1));
  bn3 = register_module("bn3", std::make_shared<BatchNorm2d>(planes * expansion));
  register_module("relu", std::make_shared<ReLU>());
  if (ds) downsample = register_module("downsample", ds);
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor y = relu(bn1->forward(conv1->forward(x)));
  y = relu(bn2->forward(conv2->forward(y)));
  y = bn3->forward(conv3->forward(y));
  return relu(y + (downsample ? downsample->forward(x) : x));
}

ResNet::ResNet(int depth, ResNetOptions o) : Module("ResNet"), depth_(depth) {
  Plan plan = plan_for(depth);
  const int64_t expansion = plan.bottleneck ? Bottleneck::expansion : BasicBlock::expansion;
  conv1 = register_module("conv1", conv(3, 64, 7, 2));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(64));
  relu = register_module("relu", std::make_shared<ReLU>());
  maxpool = register_module("maxpool", std::make_shared<MaxPool2d>(Size2{3, 3}, Size2{2, 2}, Size2{1, 1}));
  int64_t inplanes = 64;
  for (int l = 0; l < 4; ++l) {
    int64_t planes = int64_t{64} << l;
    int64_t stride = l == 0 ? 1 : 2;
    auto layer = std::make_shared<Sequential>();
    for (int64_t b = 0; b < plan.blocks[l]; ++b) {
      int64_t s = b == 0 ? stride : 1;
      std::shared_ptr<Sequential> ds;
      if (b == 0 && (s != 1 || inplanes != planes * expansion)) ds = projection(inplanes, planes * expansion, s);
      if (plan.bottleneck) layer->push_back(std::make_shared<Bottleneck>(inplanes, planes, s, ds));
      else layer->push_back(std::make_shared<BasicBlock>(inplanes, planes, s, ds));
      inplanes = planes * expansion;
    }
    layers[l] = register_module("layer" + std::to_string(l + 1), layer);
  }
  feature_dim_ = inplanes;
  avgpool = register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(Size2{1, 1}));
  if (o.include_fc) fc = register_module("fc", std::make_shared<Linear>(inplanes, o.num_classes));

  // torchvision: kaiming_normal_(fan_out, relu) for every convolution, BN weight 1 / bias 0.
  NoGradGuard no_grad;
  for (auto& [name, m] : named_modules()) {
    if (auto c = std::dynamic_pointer_cast<Conv2d>(m)) init::kaiming_normal_(c->weight, 0.0, "fan_out", "relu");
    if (o.zero_init_residual) {
      if (auto b = std::dynamic_pointer_cast<Bottleneck>(m)) init::zeros_(b->bn3->weight);
      if (auto b = std::dynamic_pointer_cast<BasicBlock>(m)) init::zeros_(b->bn2->weight);
    }
  }
}

ResNetFeatures ResNet::features(const Tensor& x) {
  HMR_CHECK(x.dim() == 4 && x.size(1) == 3, ShapeError, "ResNet: expected images (N, 3, H, W) but found ",
            x.sizes());
  ResNetFeatures f;
  Tensor y = maxpool->forward(relu->forward(bn1->forward(conv1->forward(x))));
  for (int l = 0; l < 4; ++l) y = f.stages[l] = layers[l]->forward(y);
  f.pooled = flatten(avgpool->forward(y), 1);
  return f;
}

Tensor ResNet::forward(const Tensor& x) {
  Tensor pooled = features(x).pooled;
  return fc ? fc->forward(pooled) : pooled;
}

}  // namespace hmr::nn
