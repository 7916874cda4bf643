// The shared regress-and-project pipeline (see pipeline.h).
#include "hmr/train/pipeline.h"

#include "autograd/ops.h"
#include "hmr/geometry/camera.h"

namespace hmr::train {

Prediction predict(models::HMRRegressor& model, const body::BodyModel& body, const Tensor& images) {
  Prediction p;
  p.regression = model.forward_full(images);
  p.body = body.forward(p.regression.betas, p.regression.rotmat);
  p.joints49 = body.spin_joints49(p.body);
  p.cam_t = geometry::weak_perspective_to_translation(p.regression.cam, kFocalLength, kCropSize);
  const int64_t b = images.size(0);
  Tensor center = zeros({b, 2}, TensorOptions(p.joints49.dtype(), p.joints49.device()));
  p.keypoints = geometry::perspective_projection(p.joints49, Tensor(), p.cam_t, kFocalLength, center) *
                (2.0 / kCropSize);
  return p;
}

Tensor keypoints_to_crop_pixels(const Tensor& keypoints) {
  Tensor xy = (narrow(keypoints, -1, 0, 2) + 1.0) * (0.5 * kCropSize);
  return cat({xy, narrow(keypoints, -1, 2, keypoints.size(-1) - 2)}, -1);
}

}  // namespace hmr::train
