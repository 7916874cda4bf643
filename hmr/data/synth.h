// One synthetic training sample: the body model in a sampled pose and shape, dressed in
// per-part clothing colours, lit, rendered by a random perspective camera over a procedural
// background with occluders, and its annotations (2D/3D joints in SPIN's 49-joint order,
// noisy "detector" keypoints, SMPL parameters in the camera frame, mask, part labels, crop box).
// Sample i depends only on (seed, i), so any subset can be made in any order or in parallel.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "hmr/body/body_model.h"
#include "hmr/data/pose_sampler.h"
#include "tensor/tensor.h"

namespace hmr::data {

struct SynthOptions {
  int64_t res = 256;          // square image side in pixels
  uint64_t seed = 0;
  double truncation = 0.1;    // probability of a person pushed partly out of the frame
  double occlusion = 0.3;     // probability of an occluding box over the person
};

struct SynthSample {
  Tensor image;  // (res, res, 3) U8
  Tensor mask;   // (res, res) U8: 255 on the person (before occluders), else 0
  Tensor parts;  // (res, res) U8: 0 background, 1 + SMPL part label on the person
  PoseFamily family = PoseFamily::Standing;
  std::vector<double> pose;   // 72 axis-angle; the root includes the camera's view of the body
  std::vector<double> betas;  // 10
  std::array<double, 3> transl{};  // added to the model's output: camera coordinates of the body
  double focal = 0;                // pixels; principal point at the image centre
  Tensor joints3d;   // (49, 3) F64 camera coordinates (metres), SPIN's joint order
  Tensor joints2d;   // (49, 3) F64 pixel x, y and visibility (1 inside the image, else 0)
  Tensor openpose;   // (25, 3) F64 noisy detections of the 25 OpenPose joints with confidence
  std::array<double, 2> center{};  // person box centre (pixels)
  double scale = 0;                // box side / 200, SPIN's convention (with a 1.2 margin)
};

class SynthGenerator {
 public:
  // The model must have SPIN's extra arrays (the generated body does).
  SynthGenerator(const body::BodyModelData& model, SynthOptions options);
  SynthSample sample(int64_t index) const;
  const SynthOptions& options() const { return options_; }

 private:
  body::BodyModel model_;
  Tensor faces_;
  Tensor part_labels_;
  SynthOptions options_;
};

}  // namespace hmr::data
