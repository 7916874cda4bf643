// One synthetic training sample: the body model in a sampled pose and shape, dressed in
// per-part clothing colours, lit, rendered by a random perspective camera over a procedural
// background with occluders, and its annotations (2D/3D joints in SPIN's 49-joint order,
// noisy "detector" keypoints, SMPL parameters in the camera frame, mask, part labels, DensePose-style
// IUV, crop box); or a scene of several such people occluding each other by depth.
// Sample i depends only on (seed, i), so any subset can be made in any order or in parallel.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "hmr/body/body_model.h"
#include "hmr/data/pose_sampler.h"
#include "hmr/render/camera.h"
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
  // (res, res, 3) U8: I = 1 + part label (equal to parts on every person pixel), U * 255, V * 255
  // in the part's chart (SynthGenerator::iuv_charts); 0 off the person.
  Tensor iuv;
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

// COCO's 17 person keypoints (nose, left/right eye, ear, shoulder, elbow, wrist, hip, knee,
// ankle) as indices into SPIN's 49 joints (its ground-truth joints, 25..48).
extern const int kCocoFromSpin49[17];
extern const char* const kCocoKeypointNames[17];

// Several people in one picture, each at its own depth, occluding one another through the
// rasterizer's depth test. people[k] holds person k's annotations as a single sample does, except
// that its mask is the person's VISIBLE pixels (255) and image, parts and iuv are left undefined
// (they are the scene's).
struct SynthScene {
  Tensor image;     // (res, res, 3) U8
  Tensor instance;  // (res, res) U8: 0 background, 1 + k where person k is the visible surface
  Tensor parts;     // (res, res) U8: 0 background, 1 + part label of the visible person
  Tensor iuv;       // (res, res, 3) U8 as SynthSample::iuv, of the visible person
  std::vector<SynthSample> people;
  // Per person (17, 3) F64 in COCO's order: pixel x, y and v = 2 visible, 1 hidden behind another
  // person, 0 outside the image (then x = y = 0, as COCO writes unlabelled points).
  std::vector<Tensor> coco_keypoints;
};

// The IUV charts: each of the 24 parts gets a planar chart from the rest-pose (zero pose and
// shape) vertices labelled with it: U and V are a point's coordinates along the part's first and
// second principal axes, mapped so the part's vertices span [0, 1] (points beyond clamp). The
// charts are smooth over a part, and a limb's long axis becomes U.
struct PartChart {
  std::array<double, 3> mean{}, axis_u{}, axis_v{};
  double u_lo = 0, u_hi = 1, v_lo = 0, v_hi = 1;
  std::array<double, 2> apply(const double* point) const;
};

class SynthGenerator {
 public:
  // The model must have SPIN's extra arrays (the generated body does).
  SynthGenerator(const body::BodyModelData& model, SynthOptions options);
  SynthSample sample(int64_t index) const;
  // people >= 2 in one scene (1 is allowed and gives a one-person scene, not sample(index)).
  // Scene i depends only on (seed, i, people) and draws from a stream apart from sample(i).
  SynthScene scene(int64_t index, int people) const;
  const SynthOptions& options() const { return options_; }
  const std::vector<PartChart>& iuv_charts() const { return charts_; }

 private:
  // (res, res, 3) U8 IUV of the meshes verts (M, V, 3) drawn into one image.
  Tensor render_iuv_u8(const Tensor& verts, const render::Camera& cam) const;

  body::BodyModel model_;
  Tensor faces_;
  Tensor part_labels_;
  SynthOptions options_;
  std::vector<PartChart> charts_;  // 24
  // The mesh with every face given its own three corners, so a corner can carry the chart of its
  // face's part (a vertex shared by two parts has two (U, V)): faces (F, 3) = 0..3F-1, the
  // original vertex of each corner, and per corner (I, U, V).
  Tensor split_faces_, split_iuv_;
  std::vector<int64_t> split_source_;
};

}  // namespace hmr::data
