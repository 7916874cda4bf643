// Per-sample crop and augmentation geometry of the training loader (SPIN's conventions): the
// box crop with rotation and flip, the matching transforms of 2D keypoints, 3D joints and SMPL
// pose, and a deterministic sampler of the augmentation parameters. Host code in double.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace hmr::data {

// Pixel convention: pixel (row i, column j) has its centre at the point (x = j, y = i), so a
// res x res crop spans [-0.5, res - 0.5] and its centre is c0 = (res - 1) / 2. SPIN's
// get_transform maps the box centre to res / 2 and then shifts by one pixel in transform();
// here the box [cx - h/2, cx + h/2] maps exactly onto the crop, so flipping (x -> res - 1 - x)
// and rotating about c0 keep the crop centred, and the normalised coordinate
// n = (2x + 1) / res - 1 turns the image flip into n -> -n exactly.
//
// The forward map, h = 200 * scale, k = res / h:
//   p' = c0 + F M k (p - center),  M = [[cos r, sin r], [-sin r, cos r]],  F = diag(flip ? -1 : 1, 1)
// (r = rot in degrees: positive r turns the content counter-clockwise on screen, as SPIN's
// imrotate; M is the 2x2 block of rotation_about_camera_axis(rot)).
struct CropTransform {
  double m[2][3] = {{1, 0, 0}, {0, 1, 0}};  // p' = m[:, :2] p + m[:, 2]

  static CropTransform make(double center_x, double center_y, double scale, int64_t res,
                            double rot_deg = 0.0, bool flip = false);
  std::array<double, 2> apply(double x, double y) const;
  CropTransform inverse() const;          // ValueError when singular
  std::array<double, 9> matrix3() const;  // the 3x3 homogeneous form, row-major
};

// (H, W, C) U8 image -> (res, res, C) U8 crop: each output pixel samples the source at the
// inverse transform, bilinearly; source pixels outside the image count as 0.
Tensor crop_image(const Tensor& image, double center_x, double center_y, double scale, int64_t res,
                  double rot_deg = 0.0, bool flip = false);
// (H, W) or (H, W, C) U8 label/mask image -> (res, res[, C]): nearest neighbour (labels never
// blend), outside = 0.
Tensor crop_mask(const Tensor& mask, double center_x, double center_y, double scale, int64_t res,
                 double rot_deg = 0.0, bool flip = false);
// SPIN's colour noise: channel c times factors[c], clipped to [0, 255], rounded. (H, W, 3) U8.
Tensor apply_color_noise(const Tensor& image, const std::array<double, 3>& factors);

// Flip permutations (SPIN's constants): index i of the flipped set takes element perm[i].
const std::vector<int64_t>& j24_flip_perm();
const std::vector<int64_t>& j49_flip_perm();   // 25 OpenPose + the 24 above
const std::vector<int64_t>& smpl_joint_flip_perm();  // SMPL's 24 joints
// The permutation for a joint set of n joints: 24 or 49 (ValueError otherwise).
const std::vector<int64_t>& keypoint_flip_perm(int64_t n);

// Keypoints (N, D) F32/F64 with D >= 2, N in {24, 49}: permute the rows, negate column 0.
// Used on normalised 2D keypoints and on 3D joints (its own inverse).
Tensor flip_keypoints(const Tensor& keypoints);
// SPIN's j2d_processing: (N, 2) or (N, 3) (x, y[, confidence]) in original pixels -> the same
// shape and dtype with x, y in the crop, normalised to n = (2x + 1) / res - 1, flipped with the
// permutation when flip (then N must be 24 or 49). Confidence passes through. (SPIN truncates
// the crop pixel to an integer; this keeps it continuous.)
Tensor process_keypoints_2d(const Tensor& keypoints, double center_x, double center_y, double scale,
                            int64_t res, double rot_deg = 0.0, bool flip = false);
// SPIN's j3d_processing: (N, 3) or (N, 4) (x, y, z[, confidence]) in camera coordinates ->
// rotated about the camera axis by rotation_about_camera_axis(rot), then flipped.
Tensor process_joints_3d(const Tensor& joints, double rot_deg = 0.0, bool flip = false);
// R = [[cos r, sin r, 0], [-sin r, cos r, 0], [0, 0, 1]], r = rot in degrees (row-major): the
// 3D rotation that matches the crop's rotation under a camera centred on the crop.
std::array<double, 9> rotation_about_camera_axis(double rot_deg);
// SPIN's rot_aa: the axis-angle (3,) of R(rot) * Rodrigues(aa), angle in [0, pi]. F32/F64.
Tensor rotate_axis_angle(const Tensor& axis_angle, double rot_deg);
// SPIN's flip_pose: (72,) SMPL pose (24 axis-angles) -> joints permuted by
// smpl_joint_flip_perm() and the y and z components negated (a mirror in x). Its own inverse.
Tensor flip_pose(const Tensor& pose);
// SPIN's pose_processing: rotate the global orient (the first 3) by rot, then flip. (72,).
Tensor process_pose(const Tensor& pose, double rot_deg = 0.0, bool flip = false);

// Augmentation parameters of one sample.
struct AugmentParams {
  bool flip = false;
  double rot = 0.0;    // degrees
  double scale = 1.0;  // multiplies the box scale
  std::array<double, 3> color = {1.0, 1.0, 1.0};  // per-channel colour factors
};
// SPIN's defaults (its options noise_factor, rot_factor, scale_factor).
struct AugmentConfig {
  double flip_prob = 0.5;
  double rot_factor = 30.0;    // rot ~ N(0, rot_factor) clipped to +-2 rot_factor ...
  double rot_zero_prob = 0.6;  // ... and set to 0 with this probability
  double scale_factor = 0.25;  // scale ~ 1 + N(0, scale_factor) clipped to 1 +- scale_factor
  double noise_factor = 0.4;   // colour factors ~ U(1 - noise_factor, 1 + noise_factor)
};
// The parameters of sample `index` under `seed`: Philox-4x32 keyed by seed at counters derived
// from index only, so the result does not depend on which thread asks or in which order.
AugmentParams sample_augment(const AugmentConfig& config, uint64_t seed, uint64_t index);

}  // namespace hmr::data
