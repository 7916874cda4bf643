// HMRRegressor (hmr_regressor.h): the backbone's modules re-registered at top level, the IEF
// loop, and the SPIN checkpoint loader.
#include "hmr/models/hmr_regressor.h"

#include "autograd/grad_mode.h"
#include "hmr/geometry/rotations.h"
#include "io/torch_file.h"
#include "nn/init.h"

namespace hmr::models {

namespace {

// A mean-parameter vector as a (1, n) f32 buffer; accepts (n,) or (1, n) of any float dtype.
Tensor mean_buffer(const Tensor& t, int64_t n, const char* what) {
  HMR_CHECK(t.defined(), ValueError, "HMRRegressor: the mean ", what, " is missing");
  HMR_CHECK((t.dim() == 1 || (t.dim() == 2 && t.size(0) == 1)) && t.numel() == n, ShapeError,
            "HMRRegressor: mean ", what, " must be (", n, ",) or (1, ", n, ") but found ", t.sizes());
  HMR_CHECK(t.is_floating_point(), DTypeError, "HMRRegressor: mean ", what,
            " must be floating point but found ", t.dtype());
  return t.detach().reshape({1, n}).to(DType::F32).contiguous().clone();
}

}  // namespace

HMRRegressor::HMRRegressor(const HMRRegressorOptions& o, const Tensor& mean_pose, const Tensor& mean_shape,
                           const Tensor& mean_cam)
    : Module("HMRRegressor"), options_(o) {
  HMR_CHECK(o.n_iter >= 0 && o.num_joints > 0 && o.num_betas > 0, ValueError,
            "HMRRegressor: n_iter must be >= 0 and num_joints, num_betas > 0 but found n_iter=", o.n_iter,
            ", num_joints=", o.num_joints, ", num_betas=", o.num_betas);
  const int64_t npose = o.num_joints * 6;
  // SPIN registers its buffers on the top module; PyTorch lists a module's own tensors before
  // its children's, so these come first in the state dict whatever the registration order.
  init_pose = register_buffer("init_pose", mean_buffer(mean_pose, npose, "pose"));
  init_shape = register_buffer("init_shape", mean_buffer(mean_shape, o.num_betas, "shape"));
  init_cam = register_buffer("init_cam", mean_buffer(mean_cam, 3, "cam"));

  nn::ResNetOptions backbone_options;
  backbone_options.include_fc = false;
  backbone_ = std::make_shared<nn::ResNet>(o.backbone_depth, backbone_options);
  conv1 = register_module("conv1", backbone_->conv1);
  bn1 = register_module("bn1", backbone_->bn1);
  register_module("relu", backbone_->relu);
  register_module("maxpool", backbone_->maxpool);
  layer1 = register_module("layer1", backbone_->layers[0]);
  layer2 = register_module("layer2", backbone_->layers[1]);
  layer3 = register_module("layer3", backbone_->layers[2]);
  layer4 = register_module("layer4", backbone_->layers[3]);
  register_module("avgpool", backbone_->avgpool);

  // fc1 reads the feature and the current estimate: F + J*6 + S + 3 (2048 + 144 + 10 + 3).
  const int64_t state = npose + o.num_betas + 3;
  fc1 = register_module("fc1", std::make_shared<nn::Linear>(feature_dim() + state, 1024));
  drop1 = register_module("drop1", std::make_shared<nn::Dropout>(o.dropout));
  fc2 = register_module("fc2", std::make_shared<nn::Linear>(1024, 1024));
  drop2 = register_module("drop2", std::make_shared<nn::Dropout>(o.dropout));
  decpose = register_module("decpose", std::make_shared<nn::Linear>(1024, npose));
  decshape = register_module("decshape", std::make_shared<nn::Linear>(1024, o.num_betas));
  deccam = register_module("deccam", std::make_shared<nn::Linear>(1024, 3));
  // Small decoders: the first estimates stay near the mean parameters (HMR's choice).
  NoGradGuard no_grad;
  for (auto* dec : {decpose.get(), decshape.get(), deccam.get()})
    nn::init::xavier_uniform_(dec->weight, 0.01);
}

HMRRegressor::HMRRegressor(const HMRRegressorOptions& o, const body::BodyModelData& body)
    : HMRRegressor(o, body.mean_pose, body.mean_shape, body.mean_cam) {}

HMROutput HMRRegressor::forward_full(const Tensor& images, int64_t n_iter) {
  HMR_CHECK(images.dim() == 4 && images.size(1) == 3, ShapeError,
            "HMRRegressor: expected images (B, 3, H, W) but found ", images.sizes());
  HMR_CHECK(images.dtype() == init_pose.dtype(), DTypeError, "HMRRegressor: images are ", images.dtype(),
            " but the model is ", init_pose.dtype());
  HMR_CHECK(images.device() == init_pose.device(), DeviceError, "HMRRegressor: images are on ",
            images.device(), " but the model is on ", init_pose.device());
  if (n_iter < 0) n_iter = options_.n_iter;
  const int64_t batch = images.size(0);

  HMROutput out;
  out.feature = backbone_->features(images).pooled;  // (B, F)
  Tensor pose = init_pose.expand({batch, -1});       // (B, J*6)
  Tensor betas = init_shape.expand({batch, -1});     // (B, S)
  Tensor cam = init_cam.expand({batch, -1});         // (B, 3)
  // Iterative Error Feedback: each round reads its own previous estimate and adds a correction.
  for (int64_t i = 0; i < n_iter; ++i) {
    Tensor h = drop1->forward(fc1->forward(cat({out.feature, pose, betas, cam}, 1)));
    h = drop2->forward(fc2->forward(h));  // no nonlinearity between fc1 and fc2, as SPIN
    pose = decpose->forward(h) + pose;
    betas = decshape->forward(h) + betas;
    cam = deccam->forward(h) + cam;
    out.iterations.push_back({pose, betas, cam});
  }
  out.pose6d = pose;
  out.betas = betas;
  out.cam = cam;
  out.rotmat = geometry::rot6d_to_matrix(pose.reshape({batch, options_.num_joints, 6}));  // (B, J, 3, 3)
  return out;
}

Tensor HMRRegressor::forward(const Tensor& images) { return forward_full(images).pose6d; }

void load_spin_checkpoint(HMRRegressor& model, const std::string& path) {
  io::TorchFile file = io::load_torch(path);
  TensorDict dict = io::state_dict_of(file.root, "", /*strip_module_prefix=*/true);
  try {
    model.load_state_dict(dict, /*strict=*/true);
  } catch (const ValueError& e) {
    throw ValueError(str("load_spin_checkpoint('", path, "'): ", e.what()));
  }
}

}  // namespace hmr::models
