// SPIN's training losses (see spin_losses.h).
#include "hmr/train/spin_losses.h"

#include <vector>

#include "autograd/ops.h"
#include "hmr/geometry/rotations.h"
#include "nn/loss.h"
#include "tensor/error.h"

namespace hmr::train {

namespace {

void check_rank(const Tensor& t, int64_t rank, const char* op, const char* what) {
  HMR_CHECK(t.defined(), ValueError, op, ": ", what, " is undefined");
  HMR_CHECK(t.dim() == rank, ShapeError, op, ": expected ", what, " of rank ", rank, ", got shape ",
            t.shape_str());
}

// A zero that depends on x, so backward through an empty term still reaches x's graph.
Tensor zero_like_loss(const Tensor& x) { return sum(x) * 0.0 + 0.0; }  // + 0 turns -0 into 0

}  // namespace

Tensor select_rows(const Tensor& x, const Tensor& mask) {
  Tensor m = mask.to(Device::cpu(), DType::F64).contiguous();
  HMR_CHECK(m.dim() == 1 && m.size(0) == x.size(0), ShapeError, "select_rows: mask of shape ",
            mask.shape_str(), " does not match ", x.size(0), " rows");
  const double* p = m.data<double>();
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < m.size(0); ++i)
    if (p[i] != 0.0) rows.push_back(i);
  if (rows.empty()) return Tensor();
  if (static_cast<int64_t>(rows.size()) == x.size(0)) return x;
  Tensor index = Tensor::from_vector(rows, {static_cast<int64_t>(rows.size())}, x.device());
  return index_select(x, 0, index);
}

Tensor keypoint_2d_loss(const Tensor& pred, const Tensor& target, double openpose_weight, double gt_weight) {
  check_rank(pred, 3, "keypoint_2d_loss", "pred");
  check_rank(target, 3, "keypoint_2d_loss", "target");
  HMR_CHECK(pred.size(0) == target.size(0) && pred.size(1) == target.size(1) && pred.size(2) == 2 &&
                target.size(2) == 3,
            ShapeError, "keypoint_2d_loss: expected pred (B, K, 2) and target (B, K, 3), got ",
            pred.shape_str(), " and ", target.shape_str());
  const int64_t k = pred.size(1);
  Tensor conf = narrow(target, 2, 2, 1).detach();
  if (k > 25) {
    std::vector<double> w(static_cast<size_t>(k), gt_weight);
    for (int64_t i = 0; i < 25; ++i) w[static_cast<size_t>(i)] = openpose_weight;
    conf = conf * Tensor::from_vector(w, {1, k, 1}, conf.device()).to(conf.dtype());
  } else {
    conf = conf * gt_weight;
  }
  Tensor diff = pred - narrow(target, 2, 0, 2).detach();
  return mean(conf * diff * diff);
}

Tensor keypoint_3d_loss(const Tensor& pred, const Tensor& target, const Tensor& has_pose_3d) {
  check_rank(pred, 3, "keypoint_3d_loss", "pred");
  check_rank(target, 3, "keypoint_3d_loss", "target");
  HMR_CHECK(pred.size(0) == target.size(0) && pred.size(1) == target.size(1) && pred.size(1) > 3 &&
                pred.size(2) == 3 && target.size(2) == 4,
            ShapeError, "keypoint_3d_loss: expected pred (B, J, 3) and target (B, J, 4) with J > 3, got ",
            pred.shape_str(), " and ", target.shape_str());
  Tensor p = select_rows(pred, has_pose_3d);
  if (!p.defined()) return zero_like_loss(pred);
  Tensor t = select_rows(target, has_pose_3d).detach();
  Tensor conf = narrow(t, 2, 3, 1);
  Tensor gt = narrow(t, 2, 0, 3);
  auto pelvis = [](const Tensor& j) { return (narrow(j, 1, 2, 1) + narrow(j, 1, 3, 1)) * 0.5; };
  Tensor diff = (p - pelvis(p)) - (gt - pelvis(gt));
  return mean(conf * diff * diff);
}

SmplLosses smpl_parameter_losses(const Tensor& pred_rotmat, const Tensor& pred_betas,
                                 const Tensor& target_pose, const Tensor& target_betas, const Tensor& valid) {
  check_rank(pred_rotmat, 4, "smpl_parameter_losses", "pred_rotmat");
  check_rank(pred_betas, 2, "smpl_parameter_losses", "pred_betas");
  check_rank(target_pose, 2, "smpl_parameter_losses", "target_pose");
  const int64_t b = pred_rotmat.size(0), j = pred_rotmat.size(1);
  HMR_CHECK(
      target_pose.size(0) == b && target_pose.size(1) == j * 3 && target_betas.sizes() == pred_betas.sizes(),
      ShapeError, "smpl_parameter_losses: expected target_pose (", b, ", ", j * 3, ") and target_betas ",
      pred_betas.shape_str(), ", got ", target_pose.shape_str(), " and ", target_betas.shape_str());
  Tensor r = select_rows(pred_rotmat, valid);
  if (!r.defined()) return {zero_like_loss(pred_rotmat), zero_like_loss(pred_betas)};
  Tensor pose = select_rows(target_pose, valid).detach();
  Tensor target_rotmat = geometry::axis_angle_to_matrix(reshape(pose, {-1, j, 3}));
  SmplLosses out;
  out.pose = nn::mse_loss(r, target_rotmat);
  out.betas = nn::mse_loss(select_rows(pred_betas, valid), select_rows(target_betas, valid).detach());
  return out;
}

Tensor vertex_loss(const Tensor& pred_vertices, const Tensor& target_vertices, const Tensor& valid) {
  check_rank(pred_vertices, 3, "vertex_loss", "pred_vertices");
  HMR_CHECK(pred_vertices.sizes() == target_vertices.sizes(), ShapeError, "vertex_loss: pred ",
            pred_vertices.shape_str(), " and target ", target_vertices.shape_str(), " differ");
  Tensor p = select_rows(pred_vertices, valid);
  if (!p.defined()) return zero_like_loss(pred_vertices);
  return nn::l1_loss(p, select_rows(target_vertices, valid).detach());
}

Tensor camera_scale_loss(const Tensor& camera) {
  check_rank(camera, 2, "camera_scale_loss", "camera");
  HMR_CHECK(camera.size(1) == 3, ShapeError, "camera_scale_loss: expected camera (B, 3), got ",
            camera.shape_str());
  Tensor e = exp(narrow(camera, 1, 0, 1) * -10.0);
  return mean(e * e);
}

}  // namespace hmr::train
