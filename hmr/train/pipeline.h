// What every HMR-family step shares: image batch -> regressor -> SMPL body -> SPIN's 49 joints
// and their projection into the 224-pixel crop SPIN's losses are defined on (weak-perspective
// camera turned into a perspective translation at focal length 5000, principal point at the
// crop centre, normalised to [-1, 1]). The network's actual input size does not enter the
// geometry: a 96-pixel input is a lower-resolution view of the same virtual 224 crop.
#pragma once

#include "hmr/body/body_model.h"
#include "hmr/models/hmr_regressor.h"
#include "tensor/tensor.h"

namespace hmr::train {

inline constexpr double kFocalLength = 5000.0;  // SPIN's FOCAL_LENGTH
inline constexpr double kCropSize = 224.0;      // SPIN's IMG_RES: the crop the camera lives in

struct Prediction {
  models::HMROutput regression;
  body::BodyOutput body;
  Tensor joints49;   // (B, 49, 3)
  Tensor cam_t;      // (B, 3) perspective translation
  Tensor keypoints;  // (B, 49, 2) projected, normalised to [-1, 1]
};

Prediction predict(models::HMRRegressor& model, const body::BodyModel& body, const Tensor& images);

// Crop-pixel keypoints (x, y in [0, 224]) from normalised ones ([-1, 1]), confidences kept.
Tensor keypoints_to_crop_pixels(const Tensor& keypoints);

}  // namespace hmr::train
