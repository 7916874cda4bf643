// Evaluation of an HMR-family regressor on a dataset with 3D joints (SPIN's eval.py, methods
// doc §C): MPJPE and PA-MPJPE in mm on the 14 LSP joints. Predicted joints are regressed from
// the predicted mesh with the Human3.6M regressor (H36M_TO_J14), ground truth is the dataset's
// 24 GT joints (J24_TO_J14 = the first 14). Both sets are centred on the mid-point of the hips
// (joints 2 and 3 of the 14) — SPIN centres its prediction on the H36M pelvis instead, which
// only shifts MPJPE by that joint's offset and leaves PA-MPJPE unchanged. Also reports the
// mean-pose baseline: the regressor's initial estimate (SPIN's mean parameters) for every image.
#pragma once

#include <cstdint>
#include <functional>

#include "hmr/body/body_model.h"
#include "hmr/data/dataset.h"
#include "hmr/models/hmr_regressor.h"

namespace hmr::train {

struct EvalOptions {
  int64_t batch_size = 32;
  int num_workers = 2;
  int64_t max_samples = 0;  // 0: all
  Device device = Device::cpu();
  std::function<void(int64_t done, int64_t total)> progress;  // optional
};

struct EvalResult {
  int64_t samples = 0;
  double mpjpe = 0, pa_mpjpe = 0;                    // mm
  double baseline_mpjpe = 0, baseline_pa_mpjpe = 0;  // mm, mean pose and shape
  double seconds = 0;
};

// The per-sample (MPJPE, PA-MPJPE) in mm of predicted vertices against GT joints (B, 24, 4).
std::pair<Tensor, Tensor> lsp14_errors(const body::BodyModel& body, const body::BodyOutput& pred,
                                       const Tensor& gt_pose_3d);

// Only samples with has_pose_3d count; ValueError when the dataset has none.
EvalResult evaluate(models::HMRRegressor& model, const body::BodyModel& body,
                    std::shared_ptr<const data::SampleSource> source, const EvalOptions& options);

}  // namespace hmr::train
