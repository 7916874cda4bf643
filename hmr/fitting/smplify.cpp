// SPIN's batched two-stage SMPLify: the losses of smplify/losses.py and the optimisation of
// smplify/smplify.py, written with autograd ops (no kernels of its own) so that one code path
// serves CPU and CUDA tensors.
#include "hmr/fitting/smplify.h"

#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "hmr/geometry/camera.h"
#include "nn/optim/optimizer.h"
#include "tensor/error.h"

namespace hmr::fitting {
namespace {

Tensor index_tensor(const std::vector<int64_t>& idx, Device device) {
  return Tensor::from_vector(idx, {static_cast<int64_t>(idx.size())}).to(device);
}

// The pinhole principal point at the crop centre, one row per sample: (B, 2).
Tensor camera_center(const Tensor& like, int64_t batch, double image_size) {
  return full({batch, 2}, image_size / 2, TensorOptions(like.dtype(), like.device()));
}

std::string shape_of(const Tensor& t) { return t.defined() ? t.shape_str() : std::string("undefined"); }

}  // namespace

Tensor gmof(const Tensor& residual, double sigma) {
  const Tensor r2 = square(residual);
  return r2 * (sigma * sigma) / (r2 + sigma * sigma);
}

Tensor angle_prior(const Tensor& body_pose) {
  HMR_CHECK(body_pose.defined() && body_pose.dim() == 2 && body_pose.size(1) == 69, ShapeError,
            "angle_prior: expected body_pose [B, 69], found ", shape_of(body_pose));
  // Left elbow, right elbow, left knee, right knee: indices 55, 58, 12, 15 of the 72-vector
  // less the 3 of the global orientation. The signs make bending the natural way cheap.
  const Tensor idx = index_tensor({52, 55, 9, 12}, body_pose.device());
  const Tensor signs = tensor({1.0, -1.0, -1.0, -1.0}, TensorOptions(body_pose.dtype(), body_pose.device()));
  return square(exp(index_select(body_pose, 1, idx) * signs));
}

Tensor project_joints(const Tensor& joints, const Tensor& cam_t, const SmplifyOptions& o) {
  return geometry::perspective_projection(joints, Tensor(), cam_t, o.focal,
                                          camera_center(joints, joints.size(0), o.image_size));
}

Tensor reprojection_terms(const Tensor& joints, const Tensor& cam_t, const Tensor& keypoints,
                          const SmplifyOptions& o) {
  HMR_CHECK(
      keypoints.defined() && keypoints.dim() == 3 && keypoints.size(2) == 3 && joints.defined() &&
          joints.dim() == 3 && keypoints.size(0) == joints.size(0) && keypoints.size(1) == joints.size(1),
      ShapeError, "reprojection_terms: expected keypoints [B, N, 3] for joints [B, N, 3], found keypoints ",
      shape_of(keypoints), " and joints ", shape_of(joints));
  const Tensor projected = project_joints(joints, cam_t, o);  // (B, N, 2)
  const Tensor conf = keypoints.select(2, 2);
  const Tensor rho = gmof(projected - keypoints.slice(2, 0, 2), o.sigma);
  return square(conf) * sum(rho, {2});
}

Tensor camera_fitting_loss(const Tensor& joints, const Tensor& cam_t, const Tensor& init_cam_t,
                           const Tensor& keypoints, const SmplifyOptions& o) {
  HMR_CHECK(keypoints.defined() && keypoints.dim() == 3 && keypoints.size(1) == kSpinJoints &&
                keypoints.size(2) == 3,
            ShapeError, "camera_fitting_loss: expected keypoints [B, 49, 3], found ", shape_of(keypoints));
  const Device dev = joints.device();
  const Tensor op = index_tensor({kOpRHip, kOpLHip, kOpRShoulder, kOpLShoulder}, dev);
  const Tensor gt = index_tensor({kGtRightHip, kGtLeftHip, kGtRightShoulder, kGtLeftShoulder}, dev);
  const Tensor projected = project_joints(joints, cam_t, o);
  const Tensor xy = keypoints.slice(2, 0, 2);
  const Tensor err_op =
      sum(square(index_select(xy, 1, op) - index_select(projected, 1, op)), {1, 2});  // (B,)
  const Tensor err_gt = sum(square(index_select(xy, 1, gt) - index_select(projected, 1, gt)), {1, 2});
  // OpenPose's torso is preferred when all 4 detections exist (it is the more reliable one here).
  const Tensor op_valid = (amin(index_select(keypoints.select(2, 2), 1, op), {1}) > 0.0).to(joints.dtype());
  const Tensor reprojection = op_valid * err_op + (1.0 - op_valid) * err_gt;
  const Tensor depth =
      square(cam_t.select(1, 2) - init_cam_t.select(1, 2)) * (o.depth_weight * o.depth_weight);
  return sum(reprojection + depth);
}

Tensor body_fitting_loss(const Tensor& body_pose, const Tensor& betas, const Tensor& joints,
                         const Tensor& cam_t, const Tensor& keypoints, const GmmPrior& prior,
                         const SmplifyOptions& o) {
  const Tensor reprojection = sum(reprojection_terms(joints, cam_t, keypoints, o), {1});
  const Tensor pose_prior = prior.energy(body_pose) * (o.pose_prior_weight * o.pose_prior_weight);
  const Tensor angle = sum(angle_prior(body_pose), {1}) * (o.angle_prior_weight * o.angle_prior_weight);
  const Tensor shape = sum(square(betas), {1}) * (o.shape_prior_weight * o.shape_prior_weight);
  return reprojection + pose_prior + angle + shape;
}

Tensor ignore_hip_joints(const Tensor& keypoints) {
  HMR_CHECK(keypoints.defined() && keypoints.dim() == 3 && keypoints.size(1) == kSpinJoints &&
                keypoints.size(2) == 3,
            ShapeError, "ignore_hip_joints: expected keypoints [B, 49, 3], found ", shape_of(keypoints));
  std::vector<double> keep(kSpinJoints, 1.0);
  for (int64_t j : {kOpNeck, kOpRHip, kOpLHip, kGtRightHip, kGtLeftHip}) keep[static_cast<size_t>(j)] = 0.0;
  const Tensor mask = Tensor::from_vector(keep, {kSpinJoints}).to(keypoints.device(), keypoints.dtype());
  return cat({keypoints.slice(2, 0, 2), (keypoints.select(2, 2) * mask).unsqueeze(2)}, 2);
}

// ---- the optimisation -------------------------------------------------------------------------------

Smplify::Smplify(const body::BodyModel& model, const GmmPrior& prior, SmplifyOptions options)
    : model_(model), prior_(prior), options_(options) {
  HMR_CHECK(prior.dim() == 3 * (model.num_joints() - 1), ValueError, "Smplify: the pose prior is over ",
            prior.dim(), " dimensions, the body pose of this model has ", 3 * (model.num_joints() - 1));
  HMR_CHECK(options.camera_iters >= 0 && options.body_iters >= 0 && options.lr > 0 && options.focal > 0 &&
                options.image_size > 0 && options.sigma > 0,
            ValueError, "Smplify: expected iterations >= 0 and positive lr, focal, image_size and sigma");
}

GmmPrior Smplify::prior_for(const Tensor& like) const {
  if (prior_.means().dtype() == like.dtype() && prior_.means().device() == like.device()) return prior_;
  return prior_.to(like.device(), like.dtype());
}

void Smplify::check_inputs(const Tensor& pose, const Tensor& betas, const Tensor& cam_t,
                           const Tensor& keypoints, const char* op) const {
  const int64_t j = model_.num_joints();
  HMR_CHECK(pose.defined() && pose.dim() == 2 && pose.size(1) == 3 * j, ShapeError, op,
            ": expected pose [B, ", 3 * j, "] axis-angle, found ", shape_of(pose));
  const int64_t b = pose.size(0);
  HMR_CHECK(betas.defined() && betas.dim() == 2 && betas.size(0) == b, ShapeError, op, ": expected betas [",
            b, ", S] for pose ", pose.sizes(), ", found ", shape_of(betas));
  HMR_CHECK(cam_t.defined() && cam_t.dim() == 2 && cam_t.size(0) == b && cam_t.size(1) == 3, ShapeError, op,
            ": expected cam_t [", b, ", 3], found ", shape_of(cam_t));
  HMR_CHECK(keypoints.defined() && keypoints.dim() == 3 && keypoints.size(0) == b &&
                keypoints.size(1) == kSpinJoints && keypoints.size(2) == 3,
            ShapeError, op, ": expected keypoints [", b, ", 49, 3] (x, y, confidence in crop pixels), found ",
            shape_of(keypoints));
  for (const Tensor* t : {&betas, &cam_t, &keypoints})
    HMR_CHECK(t->dtype() == pose.dtype() && t->device() == pose.device() && pose.is_floating_point(),
              DTypeError, op, ": expected every input to be ", pose.dtype(), " on ", pose.device(),
              " (as pose), found ", t->dtype(), " on ", t->device());
}

Tensor Smplify::joints49(const Tensor& global_orient, const Tensor& body_pose, const Tensor& betas) const {
  const body::BodyOutput out = model_.forward(betas, cat({global_orient, body_pose}, 1));
  return model_.spin_joints49(out);
}

SmplifyResult Smplify::run(const Tensor& init_pose, const Tensor& init_betas, const Tensor& init_cam_t,
                           const Tensor& keypoints) const {
  check_inputs(init_pose, init_betas, init_cam_t, keypoints, "Smplify::run");
  // The fit differentiates its own losses even when the caller runs under no-grad (SPIN's
  // trainer calls it between the regressor's forward and backward).
  EnableGradGuard enable_grad;
  const SmplifyOptions& o = options_;
  const GmmPrior prior = prior_for(init_pose);
  const Tensor pose0 = where(isnan(init_pose.detach()), zeros_like(init_pose), init_pose.detach());
  Tensor global_orient = pose0.slice(1, 0, 3).clone();
  Tensor body_pose = pose0.slice(1, 3, pose0.size(1)).clone();
  Tensor betas = init_betas.detach().clone();
  Tensor cam_t = init_cam_t.detach().clone();
  const Tensor cam_t0 = init_cam_t.detach();
  const Tensor kp = keypoints.detach();

  optim::AdamOptions adam;
  adam.lr = o.lr;
  {  // Stage 1: the camera, with the body's pose and shape held.
    global_orient.requires_grad_(true);
    cam_t.requires_grad_(true);
    optim::Adam opt(std::vector<Tensor>{global_orient, cam_t}, adam);
    for (int64_t i = 0; i < o.camera_iters; ++i) {
      opt.zero_grad();
      camera_fitting_loss(joints49(global_orient, body_pose, betas), cam_t, cam_t0, kp, o).backward();
      opt.step();
    }
    cam_t = cam_t.detach();
  }
  const Tensor kp_body = ignore_hip_joints(kp);
  {  // Stage 2: the body, under the camera just found.
    body_pose.requires_grad_(true);
    betas.requires_grad_(true);
    optim::Adam opt(std::vector<Tensor>{body_pose, betas, global_orient}, adam);
    for (int64_t i = 0; i < o.body_iters; ++i) {
      opt.zero_grad();
      const Tensor joints = joints49(global_orient, body_pose, betas);
      sum(body_fitting_loss(body_pose, betas, joints, cam_t, kp_body, prior, o)).backward();
      opt.step();
    }
  }

  NoGradGuard no_grad;
  SmplifyResult r;
  r.pose = cat({global_orient, body_pose}, 1).detach();
  r.betas = betas.detach();
  r.cam_t = cam_t;
  const body::BodyOutput out = model_.forward(r.betas, r.pose);
  r.vertices = out.vertices;
  r.joints = model_.spin_joints49(out);
  r.reprojection_loss = mean(reprojection_terms(r.joints, r.cam_t, kp_body, o), {1});
  return r;
}

Tensor Smplify::reprojection_score(const Tensor& pose, const Tensor& betas, const Tensor& cam_t,
                                   const Tensor& keypoints) const {
  check_inputs(pose, betas, cam_t, keypoints, "Smplify::reprojection_score");
  NoGradGuard no_grad;
  const body::BodyOutput out = model_.forward(betas.detach(), pose.detach());
  return mean(reprojection_terms(model_.spin_joints49(out), cam_t.detach(),
                                 ignore_hip_joints(keypoints.detach()), options_),
              {1});
}

}  // namespace hmr::fitting
