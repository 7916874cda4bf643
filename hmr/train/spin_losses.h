// The training losses of HMR/SPIN (SPIN's trainer, methods doc §B2), as functions of batched
// tensors so that every method that regresses SMPL can reuse them. All are differentiable with
// respect to the predictions; targets carry no gradient. Terms over an empty selection (no
// sample with 3D joints, no valid fit) are an exact 0 that still depends on the predictions.
#pragma once

#include "tensor/tensor.h"

namespace hmr::train {

// SPIN's keypoint_loss: mean over (B, K, 2) of c * (pred - gt)^2 with c the target confidence,
// times openpose_weight for the first 25 keypoints and gt_weight for the rest.
// pred (B, K, 2), target (B, K, 3) = (x, y, conf), both normalised to [-1, 1].
Tensor keypoint_2d_loss(const Tensor& pred, const Tensor& target, double openpose_weight = 0.0,
                        double gt_weight = 1.0);

// SPIN's keypoint_3d_loss: over the samples with has_pose_3d, both sets centred on the pelvis
// (mean of joints 2 and 3: right and left hip of the 24 GT joints), mean of c * (pred - gt)^2.
// pred (B, 24, 3) (the last 24 of the 49 joints), target (B, 24, 4), has_pose_3d (B,).
Tensor keypoint_3d_loss(const Tensor& pred, const Tensor& target, const Tensor& has_pose_3d);

// SPIN's smpl_losses over the samples with valid != 0: MSE between the predicted rotation
// matrices and the target axis-angle pose as matrices, and MSE between the betas.
// pred_rotmat (B, 24, 3, 3), pred_betas (B, 10), target_pose (B, 72), target_betas (B, 10).
struct SmplLosses {
  Tensor pose;
  Tensor betas;
};
SmplLosses smpl_parameter_losses(const Tensor& pred_rotmat, const Tensor& pred_betas,
                                 const Tensor& target_pose, const Tensor& target_betas, const Tensor& valid);

// SPIN's shape_loss: L1 between vertex sets over the valid samples. (B, V, 3).
Tensor vertex_loss(const Tensor& pred_vertices, const Tensor& target_vertices, const Tensor& valid);

// SPIN's camera term: mean over the batch of exp(-10 s)^2, s the weak-perspective scale, which
// keeps the implied depth positive. camera (B, 3).
Tensor camera_scale_loss(const Tensor& camera);

// Weights of the terms; the defaults are SPIN's code defaults (methods doc §B2 and §E.3).
struct SpinLossWeights {
  double keypoint_2d = 5.0;
  double keypoint_3d = 5.0;
  double pose = 1.0;
  double betas = 0.001;
  double vertices = 0.0;
  double openpose = 0.0;  // openpose_train_weight
  double gt_2d = 1.0;     // gt_train_weight
  double overall = 60.0;
};

// The selected rows (the samples where mask != 0) of x along dim 0; the index is computed on
// the host. Undefined when no row is selected.
Tensor select_rows(const Tensor& x, const Tensor& mask);

}  // namespace hmr::train
