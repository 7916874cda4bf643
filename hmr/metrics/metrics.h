// Evaluation metrics of the human-mesh-recovery literature, defined as SPIN/GraphCMR/ProHMR
// evaluate them. Distances are in the inputs' units (metres in, metres out: multiplying by 1000
// for mm is the caller's job). Pose metrics return one value per sample (the leading dims) so a
// caller can average, sum or keep them; they are built from autograd ops.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace hmr::metrics {

// Per-joint Euclidean distance |pred_j - target_j|: (..., J, D) x2 -> (..., J).
Tensor joint_errors(const Tensor& pred, const Tensor& target);

// MPJPE: mean over joints of the Euclidean distance, no alignment. (..., J, 3) -> (...).
Tensor mpjpe(const Tensor& pred, const Tensor& target);

// joints minus the mean of the given root joints (one index: that joint; SPIN's H36M
// protocol uses the pelvis as the mid-point of the two hips, e.g. {2, 3} of the LSP-14 order).
// (..., J, 3) -> (..., J, 3).
Tensor root_relative(const Tensor& joints, const std::vector<int64_t>& root_joints);

// MPJPE after moving both poses' roots to the origin (the "aligned at the pelvis" MPJPE).
Tensor root_relative_mpjpe(const Tensor& pred, const Tensor& target, const std::vector<int64_t>& root_joints);

// PA-MPJPE (SPIN's "reconstruction error"): MPJPE after the similarity Procrustes alignment of
// pred to target (geometry::procrustes_align). (..., J, 3) -> (...).
Tensor pa_mpjpe(const Tensor& pred, const Tensor& target);

// PVE: mean per-vertex Euclidean error, no alignment (GraphCMR/SPIN's UP-3D shape error).
// (..., V, 3) -> (...).
Tensor pve(const Tensor& pred_vertices, const Tensor& target_vertices);

// PCK: the fraction of joints whose error is below threshold (strictly; MPI-INF-3DHP uses
// 150 mm). (..., J, 3) -> (...) in [0, 1]; not differentiable.
Tensor pck(const Tensor& pred, const Tensor& target, double threshold);

// AUC as MPI-INF-3DHP reports it: the mean of pck() over `steps` thresholds evenly spaced on
// [0, max_threshold] (0, 5, ..., 150 mm: max_threshold 150 in mm or 0.15 in metres, steps 31).
// (..., J, 3) -> (...) in [0, 1].
Tensor auc(const Tensor& pred, const Tensor& target, double max_threshold, int64_t steps = 31);

// Segmentation scores accumulated over a dataset, as SPIN's LSP evaluation (after UP-3D):
// foreground/background (2 classes) or 6 parts + background (7 classes), labels 0..C-1.
//  - per class c: TP/FP/FN count pixels with pred == c and/or gt == c, where pixels with gt ==
//    ignore_label are never counted as a prediction of c (so they add no TP or FP);
//  - F1_c = 2 TP / (2 TP + FP + FN), over the sums for the whole dataset (NaN for a class that
//    never occurs in either map, as numpy's 0/0), and the macro F1 is their mean;
//  - accuracy = equal pixels / all pixels, where ignore_label in either map counts as label 0
//    (so an ignored gt pixel is "correct" when predicted background).
class SegmentationScores {
 public:
  explicit SegmentationScores(int64_t num_classes, int64_t ignore_label = 255);
  // pred and gt: integer label maps of one shape (any dims, e.g. (H, W) or (B, H, W)).
  void add(const Tensor& pred, const Tensor& gt);
  double accuracy() const;
  std::vector<double> f1() const;  // per class
  double mean_f1() const;          // macro F1 over all classes

  int64_t num_classes() const { return num_classes_; }
  const std::vector<int64_t>& true_positives() const { return tp_; }
  const std::vector<int64_t>& false_positives() const { return fp_; }
  const std::vector<int64_t>& false_negatives() const { return fn_; }

 private:
  int64_t num_classes_, ignore_label_;
  std::vector<int64_t> tp_, fp_, fn_;
  int64_t correct_ = 0, total_ = 0;
};

}  // namespace hmr::metrics
