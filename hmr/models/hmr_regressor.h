// The HMR regressor as SPIN trains it: a ResNet backbone, global average pooling, then
// Iterative Error Feedback (3 rounds of feature + current estimate -> fc1 -> fc2 -> residual
// updates) from the SMPL mean parameters, with the pose in Zhou et al.'s 6D form. Parameter and
// buffer names are SPIN's exactly, so SPIN's model_checkpoint.pt loads unchanged.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hmr/body/model_data.h"
#include "nn/resnet.h"

namespace hmr::models {

struct HMRRegressorOptions {
  int backbone_depth = 50;  // 18 or 34 (512 features), 50/101/152 (2048)
  int64_t n_iter = 3;       // IEF rounds
  double dropout = 0.5;     // drop1 / drop2 (torch.nn.Dropout's default, as SPIN)
  int64_t num_joints = 24;
  int64_t num_betas = 10;
};

// The estimate after one IEF round (before the 6D -> matrix conversion).
struct HMREstimate {
  Tensor pose6d;  // (B, J * 6)
  Tensor betas;   // (B, S)
  Tensor cam;     // (B, 3) weak perspective [s, tx, ty]
};

struct HMROutput {
  Tensor rotmat;                        // (B, J, 3, 3) from the final pose6d
  Tensor pose6d;                        // (B, J * 6)
  Tensor betas;                         // (B, S)
  Tensor cam;                           // (B, 3) [s, tx, ty]
  Tensor feature;                       // (B, F) the pooled backbone feature the head reads
  std::vector<HMREstimate> iterations;  // one per IEF round; the last equals the fields above
};

class HMRRegressor : public nn::Module {
 public:
  // mean_pose (J*6,) or (1, J*6), mean_shape (S,) or (1, S), mean_cam (3,) or (1, 3): SPIN's
  // smpl_mean_params.npz. Stored as f32 buffers init_pose / init_shape / init_cam.
  HMRRegressor(const HMRRegressorOptions& options, const Tensor& mean_pose, const Tensor& mean_shape,
               const Tensor& mean_cam);
  // The mean parameters a body model carries (BodyModelData::mean_pose/mean_shape/mean_cam).
  HMRRegressor(const HMRRegressorOptions& options, const body::BodyModelData& body);

  // images (B, 3, H, W), normalised f32 on the model's device. n_iter < 0: options().n_iter.
  // H and W may be anything the backbone takes (SPIN uses 224; pooling is global).
  HMROutput forward_full(const Tensor& images, int64_t n_iter = -1);
  // The final pose6d (B, J * 6), for code that chains single-tensor modules.
  Tensor forward(const Tensor& images) override;

  const HMRRegressorOptions& options() const { return options_; }
  int64_t feature_dim() const { return backbone_->feature_dim(); }

  // The backbone's modules, registered at top level under torchvision's names.
  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::Sequential> layer1, layer2, layer3, layer4;
  // The IEF head.
  std::shared_ptr<nn::Linear> fc1, fc2, decpose, decshape, deccam;
  std::shared_ptr<nn::Dropout> drop1, drop2;
  Tensor init_pose, init_shape, init_cam;  // (1, J*6), (1, S), (1, 3)

 private:
  HMRRegressorOptions options_;
  // Owns the backbone's forward (stem, stages, pooling); its modules are the ones registered
  // above, so the ResNet object itself is never registered (names stay at top level).
  std::shared_ptr<nn::ResNet> backbone_;
};

// Loads a PyTorch checkpoint into the regressor: SPIN's {'model': state_dict} (legacy or zip
// format) or a bare state dict, with a DataParallel "module." prefix removed. Strict: a
// ValueError naming the path and listing every missing and unexpected key (nothing is copied).
void load_spin_checkpoint(HMRRegressor& model, const std::string& path);

}  // namespace hmr::models
