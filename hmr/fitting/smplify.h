// SMPLify as SPIN runs it inside training: batched, two stages from a given initial fit.
//   stage 1 (camera): global_orient + cam_t, 4 torso joints' squared reprojection error plus
//                     a depth anchor to the initial t_z;
//   stage 2 (body):   body_pose + betas + global_orient, robust (Geman-McClure) reprojection of
//                     all 49 joints weighted by conf^2, the GMM pose prior, an angle prior on
//                     elbows and knees, and a quadratic shape prior.
// Each stage is Adam over the whole batch (losses summed). Autograd ops only, so it runs on CPU
// or CUDA tensors alike; the loop never reads a value back to the host.
#pragma once

#include <cstdint>

#include "hmr/body/body_model.h"
#include "hmr/fitting/gmm_prior.h"
#include "tensor/tensor.h"

namespace hmr::fitting {

// Indices into SPIN's 49 joints (25 OpenPose, then 24 ground-truth joints).
inline constexpr int64_t kSpinJoints = 49;
inline constexpr int64_t kOpNeck = 1, kOpRShoulder = 2, kOpLShoulder = 5, kOpRHip = 9, kOpLHip = 12;
inline constexpr int64_t kGtRightHip = 27, kGtLeftHip = 28, kGtRightShoulder = 33, kGtLeftShoulder = 34;

struct SmplifyOptions {
  int64_t camera_iters = 100, body_iters = 100;
  double lr = 1e-2;
  double focal = 5000;      // pixels
  double image_size = 224;  // the square crop; the principal point is its centre
  double sigma = 100;       // Geman-McClure scale, pixels
  double pose_prior_weight = 4.78, shape_prior_weight = 5, angle_prior_weight = 15.2;
  double depth_weight = 100;
};

struct SmplifyResult {
  Tensor vertices;           // (B, V, 3)
  Tensor joints;             // (B, 49, 3)
  Tensor pose;               // (B, 72) axis-angle
  Tensor betas;              // (B, S)
  Tensor cam_t;              // (B, 3)
  Tensor reprojection_loss;  // (B,): sum over x, y of conf^2 rho, mean over the 49 joints
};

// ---- the losses (exposed for tests; SPIN's smplify/losses.py) -----------------------------------
// Geman-McClure rho(r) = sigma^2 r^2 / (sigma^2 + r^2), elementwise.
Tensor gmof(const Tensor& residual, double sigma);
// exp(s_i theta_i)^2 for elbows and knees: body_pose (B, 69) -> (B, 4).
Tensor angle_prior(const Tensor& body_pose);
// Projects joints (B, 49, 3) by the pinhole camera at cam_t (B, 3) (rotation I, principal point
// at the crop centre): (B, 49, 2).
Tensor project_joints(const Tensor& joints, const Tensor& cam_t, const SmplifyOptions& o);
// conf^2 * sum_xy rho(projected - keypoints): (B, 49). keypoints (B, 49, 3): x, y, confidence.
Tensor reprojection_terms(const Tensor& joints, const Tensor& cam_t, const Tensor& keypoints,
                          const SmplifyOptions& o);
// Stage 1's loss, summed over the batch (0-dim). The 4 OpenPose torso joints if all have
// confidence > 0 in that sample, else the 4 ground-truth ones; plus depth_weight^2 (t_z - t_z0)^2.
Tensor camera_fitting_loss(const Tensor& joints, const Tensor& cam_t, const Tensor& init_cam_t,
                           const Tensor& keypoints, const SmplifyOptions& o);
// Stage 2's loss per sample (B,) (keypoints as given: the caller zeroes the ignored joints).
Tensor body_fitting_loss(const Tensor& body_pose, const Tensor& betas, const Tensor& joints,
                         const Tensor& cam_t, const Tensor& keypoints, const GmmPrior& prior,
                         const SmplifyOptions& o);
// keypoints with the confidences of OP Neck, OP RHip, OP LHip, Right Hip and Left Hip set to 0:
// the two skeletons define the hips differently, so SPIN leaves them out of the body fit.
Tensor ignore_hip_joints(const Tensor& keypoints);

class Smplify {
 public:
  // The model and prior are converted to each call's dtype and device as needed; the model is
  // kept by reference and must outlive this object.
  Smplify(const body::BodyModel& model, const GmmPrior& prior, SmplifyOptions options = {});

  // init_pose (B, 72) axis-angle (NaN -> 0), init_betas (B, S), init_cam_t (B, 3),
  // keypoints (B, 49, 3) in crop pixels with confidences. All of one floating dtype and device,
  // which must be the model's. ShapeError naming the argument otherwise.
  SmplifyResult run(const Tensor& init_pose, const Tensor& init_betas, const Tensor& init_cam_t,
                    const Tensor& keypoints) const;
  // The fit-quality score of a stored fit, as run() reports it: (B,).
  Tensor reprojection_score(const Tensor& pose, const Tensor& betas, const Tensor& cam_t,
                            const Tensor& keypoints) const;

  const SmplifyOptions& options() const { return options_; }

 private:
  void check_inputs(const Tensor& pose, const Tensor& betas, const Tensor& cam_t, const Tensor& keypoints,
                    const char* op) const;
  GmmPrior prior_for(const Tensor& like) const;
  Tensor joints49(const Tensor& global_orient, const Tensor& body_pose, const Tensor& betas) const;

  const body::BodyModel& model_;
  GmmPrior prior_;
  SmplifyOptions options_;
};

}  // namespace hmr::fitting
