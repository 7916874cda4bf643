// Evaluation of an HMR-family regressor on a dataset (SPIN's eval.py, methods doc §C), in mm:
//  - protocol "lsp14": MPJPE and PA-MPJPE on the 14 LSP joints. Predicted joints are regressed
//    from the predicted mesh with the Human3.6M regressor (H36M_TO_J14), ground truth is the
//    dataset's 24 GT joints (J24_TO_J14 = the first 14). Both are centred on the mid-point of the
//    hips (joints 2 and 3 of the 14) — SPIN centres its prediction on the H36M pelvis instead,
//    which only shifts MPJPE by that joint's offset and leaves PA-MPJPE unchanged.
//  - protocol "mpi17" (MPI-INF-3DHP): all 17 joints (H36M_TO_J17 / J24_TO_J17), both centred on
//    the pelvis (joint 14 of the 17); MPJPE, PCK@150 mm and AUC over 0..150 mm in 5 mm steps,
//    each before and after Procrustes alignment.
//  - PVE (no alignment) against the GT pose and shape through the same body, where has_smpl.
//  - segmentation (LSP, after UP-3D): the predicted mesh rendered into the original image with
//    the crop camera mapped back; foreground/background and 6 parts + background accuracy and
//    macro F1, accumulated over the dataset.
// Also reports the mean-pose baseline: the regressor's initial estimate for every image.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "hmr/body/body_model.h"
#include "hmr/data/dataset.h"
#include "hmr/data/loader.h"
#include "hmr/metrics/metrics.h"
#include "hmr/models/hmr_regressor.h"
#include "hmr/render/camera.h"

namespace hmr::train {

// SPIN's joint selectors (constants.py): the 17 evaluation joints from the 17 Human3.6M ones
// (predictions) and from the 24 ground-truth joints (datasets); the first 14 are LSP's.
inline constexpr std::array<int64_t, 17> kH36mToJ17 = {6,  5,  4,  1, 2,  3, 16, 15, 14,
                                                       11, 12, 13, 8, 10, 0, 7,  9};
inline constexpr std::array<int64_t, 17> kJ24ToJ17 = {0, 1,  2,  3,  4,  5,  6,  7, 8,
                                                      9, 10, 11, 12, 18, 14, 16, 17};
inline constexpr int64_t kJ17Pelvis = 14;

// The 6 parts of UP-3D's LSP segmentation, label 0 being the background.
enum SixPart : int64_t { kBackground = 0, kHead, kTorso, kLeftArm, kRightArm, kLeftLeg, kRightLeg };
// SMPL's 24 part labels (the joint a vertex is skinned to most) -> SixPart: neck and head are the
// head; pelvis, spine and collars the torso; shoulder to hand an arm; hip to toes a leg.
inline constexpr std::array<int64_t, 24> kSmplPartToSix = {
    kTorso,    kLeftLeg,  kRightLeg, kTorso,    kLeftLeg, kRightLeg, kTorso,   kLeftLeg,
    kRightLeg, kTorso,    kLeftLeg,  kRightLeg, kHead,    kTorso,    kTorso,   kHead,
    kLeftArm,  kRightArm, kLeftArm,  kRightArm, kLeftArm, kRightArm, kLeftArm, kRightArm};

// What the GT part images hold: 1 + SMPL part (hmr data synth) or UP-3D's 6 parts; 0 is the
// background and 255 "ignore" in both.
enum class PartLabels { Smpl24, Six };

struct EvalOptions {
  int64_t batch_size = 32;
  int num_workers = 2;
  int64_t max_samples = 0;  // 0: all
  Device device = Device::cpu();
  std::string protocol = "lsp14";  // or "mpi17"
  bool segmentation = false;
  // Segmentation ground truth of a single Dataset, indexed by its row (Batch::sample_index): full
  // paths of the mask (> 0 = person) and part PNGs; an empty path skips that row.
  std::vector<std::string> mask_paths, part_paths;
  PartLabels part_labels = PartLabels::Smpl24;
  std::function<void(int64_t done, int64_t total)> progress;  // optional
};

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct EvalResult {
  int64_t samples = 0;             // with 3D joints
  double mpjpe = 0, pa_mpjpe = 0;  // mm
  double pck = kNaN, auc = kNaN;   // mpi17: fractions in [0, 1]
  double pa_pck = kNaN, pa_auc = kNaN;
  int64_t shape_samples = 0;                         // with GT SMPL
  double pve = kNaN;                                 // mm
  double baseline_mpjpe = 0, baseline_pa_mpjpe = 0;  // mm, mean pose and shape
  int64_t segmentation_samples = 0;                  // with a GT mask or part image
  double fb_accuracy = kNaN, fb_f1 = kNaN, parts_accuracy = kNaN, parts_f1 = kNaN;
  double seconds = 0;
};

// ValueError naming the protocol and the known ones.
void check_protocol(const std::string& protocol);

// Per-sample pose errors of predicted meshes against GT joints (B, 24, 4), in mm (PCK and AUC
// in [0, 1]; undefined under lsp14, which reports neither).
struct PoseErrors {
  Tensor mpjpe, pa_mpjpe, pck, auc, pa_pck, pa_auc;  // (B,) F64
};
PoseErrors pose_errors(const body::BodyModel& body, const body::BodyOutput& pred, const Tensor& gt_pose_3d,
                       const std::string& protocol);

// SPIN's crop camera (focal 5000 on a 224-px crop of side 200 * scale around center) mapped back
// to the original height x width image: focal scaled by the crop's pixel size, principal point at
// the box centre; the weak-perspective translation stays as it is.
render::Camera crop_camera_in_image(double center_x, double center_y, double scale, int64_t height,
                                    int64_t width);

// Running sums of every metric over a dataset. evaluate() feeds it the regressor's predictions;
// anything else (e.g. the ground truth itself) can be fed the same way.
class MetricAccumulator {
 public:
  MetricAccumulator(const body::BodyModel& body, EvalOptions options);
  // pred: the meshes of the first `rows` rows of batch (on the body's device); cam_t (rows, 3)
  // their translation in SPIN's 224-px crop camera (read only for segmentation).
  void add(const data::Batch& batch, int64_t rows, const body::BodyOutput& pred, const Tensor& cam_t);
  // One image's segmentation: vertices (V, 3) in the coordinates of camera, whose size is taken
  // from the GT images; either path may be empty.
  void add_segmentation(const Tensor& vertices, render::Camera camera, const std::string& mask_path,
                        const std::string& part_path);
  EvalResult result() const;  // totals so far (baseline fields 0)

 private:
  const body::BodyModel& body_;
  EvalOptions options_;
  Tensor six_part_of_vertex_;  // (V,) I64, 1..6
  double sums_[6] = {};        // mpjpe, pa_mpjpe, pck, auc, pa_pck, pa_auc
  double pve_sum_ = 0;
  int64_t samples_ = 0, shape_samples_ = 0, segmentation_samples_ = 0;
  metrics::SegmentationScores fb_{2}, parts_{7};
};

// Only samples with has_pose_3d count for the pose metrics; ValueError when the dataset has
// none and no segmentation ground truth either.
EvalResult evaluate(models::HMRRegressor& model, const body::BodyModel& body,
                    std::shared_ptr<const data::SampleSource> source, const EvalOptions& options);

}  // namespace hmr::train
