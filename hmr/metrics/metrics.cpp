// Pose and shape metrics composed of autograd ops; segmentation counts on the host (integer
// label maps, no gradient, and a per-pixel loop is clearer than a chain of masks).
#include "hmr/metrics/metrics.h"

#include <limits>

#include "autograd/ops.h"
#include "hmr/geometry/checks.h"
#include "hmr/geometry/procrustes.h"

namespace hmr::metrics {

using geometry::check_float;
using geometry::check_last_dims;
using geometry::check_same_shape;

Tensor joint_errors(const Tensor& pred, const Tensor& target) {
  check_float("joint_errors", pred);
  HMR_CHECK(pred.dim() >= 2, ShapeError, "joint_errors: expected pred of shape (..., J, D) but found shape ",
            pred.sizes());
  check_same_shape("joint_errors", pred, target, "pred", "target");
  return sqrt(sum(square(pred - target), {-1}));
}

Tensor mpjpe(const Tensor& pred, const Tensor& target) {
  check_last_dims("mpjpe", pred, {3}, "pred", 1);
  check_same_shape("mpjpe", pred, target, "pred", "target");
  return mean(joint_errors(pred, target), {-1});
}

Tensor root_relative(const Tensor& joints, const std::vector<int64_t>& root_joints) {
  check_float("root_relative", joints);
  check_last_dims("root_relative", joints, {3}, "joints", 1);
  HMR_CHECK(!root_joints.empty(), ValueError, "root_relative: expected at least one root joint");
  const int64_t count = joints.size(-2);
  for (int64_t j : root_joints)
    HMR_CHECK(j >= 0 && j < count, IndexError, "root_relative: root joint ", j,
              " out of range for joints of shape ", joints.sizes());
  Tensor index =
      tensor(std::vector<double>(root_joints.begin(), root_joints.end()), {}, {DType::I64, joints.device()});
  Tensor root = mean(index_select(joints, -2, index), {-2}, true);
  return joints - root;
}

Tensor root_relative_mpjpe(const Tensor& pred, const Tensor& target,
                           const std::vector<int64_t>& root_joints) {
  check_same_shape("root_relative_mpjpe", pred, target, "pred", "target");
  return mpjpe(root_relative(pred, root_joints), root_relative(target, root_joints));
}

Tensor pa_mpjpe(const Tensor& pred, const Tensor& target) {
  check_last_dims("pa_mpjpe", pred, {3}, "pred", 1);
  check_same_shape("pa_mpjpe", pred, target, "pred", "target");
  return mpjpe(geometry::procrustes_align(pred, target), target);
}

Tensor pve(const Tensor& pred_vertices, const Tensor& target_vertices) {
  check_last_dims("pve", pred_vertices, {3}, "pred_vertices", 1);
  check_same_shape("pve", pred_vertices, target_vertices, "pred_vertices", "target_vertices");
  return mean(joint_errors(pred_vertices, target_vertices), {-1});
}

Tensor pck(const Tensor& pred, const Tensor& target, double threshold) {
  check_last_dims("pck", pred, {3}, "pred", 1);
  check_same_shape("pck", pred, target, "pred", "target");
  NoGradGuard no_grad;
  Tensor errors = joint_errors(pred, target);
  return mean(lt(errors, threshold).to(errors.dtype()), {-1});
}

Tensor auc(const Tensor& pred, const Tensor& target, double max_threshold, int64_t steps) {
  check_last_dims("auc", pred, {3}, "pred", 1);
  check_same_shape("auc", pred, target, "pred", "target");
  HMR_CHECK(steps >= 2 && max_threshold > 0, ValueError,
            "auc: expected steps >= 2 and max_threshold > 0 but found steps ", steps, " and max_threshold ",
            max_threshold);
  NoGradGuard no_grad;
  Tensor errors = unsqueeze(joint_errors(pred, target), -1);  // (..., J, 1)
  Tensor thresholds = linspace(0.0, max_threshold, steps, {errors.dtype(), errors.device()});
  Tensor below = lt(errors, thresholds).to(errors.dtype());  // (..., J, steps)
  return mean(below, {-2, -1});
}

SegmentationScores::SegmentationScores(int64_t num_classes, int64_t ignore_label)
    : num_classes_(num_classes), ignore_label_(ignore_label) {
  HMR_CHECK(num_classes >= 1, ValueError, "SegmentationScores: expected at least one class but found ",
            num_classes);
  tp_.assign(num_classes, 0);
  fp_.assign(num_classes, 0);
  fn_.assign(num_classes, 0);
}

void SegmentationScores::add(const Tensor& pred, const Tensor& gt) {
  HMR_CHECK(pred.defined() && gt.defined() && !pred.is_floating_point() && !gt.is_floating_point(),
            DTypeError, "SegmentationScores::add: expected integer label maps but found ",
            pred.defined() ? str(pred.dtype()) : "undefined", " and ",
            gt.defined() ? str(gt.dtype()) : "undefined");
  check_same_shape("SegmentationScores::add", pred, gt, "pred", "gt");
  const std::vector<int64_t> p = pred.to(Device::cpu(), DType::I64).to_vector<int64_t>();
  const std::vector<int64_t> g = gt.to(Device::cpu(), DType::I64).to_vector<int64_t>();
  for (size_t i = 0; i < p.size(); ++i) {
    const bool ignored = g[i] == ignore_label_;
    for (int64_t c = 0; c < num_classes_; ++c) {
      const bool is_gt = g[i] == c, is_pred = !ignored && p[i] == c;
      tp_[c] += is_gt && is_pred;
      fp_[c] += !is_gt && is_pred;
      fn_[c] += is_gt && !is_pred;
    }
    const int64_t gl = ignored ? 0 : g[i], pl = p[i] == ignore_label_ ? 0 : p[i];
    correct_ += gl == pl;
  }
  total_ += static_cast<int64_t>(p.size());
}

double SegmentationScores::accuracy() const {
  return total_ ? static_cast<double>(correct_) / static_cast<double>(total_)
                : std::numeric_limits<double>::quiet_NaN();
}

std::vector<double> SegmentationScores::f1() const {
  std::vector<double> out(num_classes_);
  for (int64_t c = 0; c < num_classes_; ++c) {
    const double denominator = static_cast<double>(2 * tp_[c] + fp_[c] + fn_[c]);
    out[c] = denominator > 0 ? 2.0 * static_cast<double>(tp_[c]) / denominator
                             : std::numeric_limits<double>::quiet_NaN();
  }
  return out;
}

double SegmentationScores::mean_f1() const {
  double total = 0;
  for (double v : f1()) total += v;
  return total / static_cast<double>(num_classes_);
}

}  // namespace hmr::metrics
