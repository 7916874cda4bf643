// Cameras of HMR/SPIN/GraphCMR: the weak-perspective crop camera (s, tx, ty), the pinhole
// perspective projection, the conversion between them, and SPIN's closed-form estimate of the
// camera translation from 2D-3D correspondences. Batched, differentiable, f32/f64, any device.
#pragma once

#include "tensor/tensor.h"

namespace hmr::geometry {

// Weak perspective as HMR/SPIN/GraphCMR code it: x = s * (X_xy + t), in the crop's normalised
// [-1, 1] coordinates. points (..., N, 3), camera (..., 3) = [s, tx, ty] -> (..., N, 2).
Tensor weak_perspective_projection(const Tensor& points, const Tensor& camera);

// Pinhole projection as SPIN's perspective_projection: P = R X + t, then
//   u = f_x P_x / P_z + c_x,  v = f_y P_y / P_z + c_y.
// points (..., N, 3); rotation (..., 3, 3), or an undefined Tensor for the identity;
// translation (..., 3); focal_length (...) for f_x = f_y or (..., 2) for (f_x, f_y);
// camera_center (..., 2). Leading dims must equal points' leading dims. -> (..., N, 2) pixels.
Tensor perspective_projection(const Tensor& points, const Tensor& rotation, const Tensor& translation,
                              const Tensor& focal_length, const Tensor& camera_center);
// The same with one focal length for the whole batch.
Tensor perspective_projection(const Tensor& points, const Tensor& rotation, const Tensor& translation,
                              double focal_length, const Tensor& camera_center);

// SPIN's weak-perspective -> perspective translation for a square crop of image_size pixels:
//   t = [tx, ty, 2 f / (image_size * s + 1e-9)]
// (the 1e-9 sits in the denominator, next to image_size * s, exactly as SPIN's trainer). With
// it, the perspective projection divided by image_size / 2 (principal point 0) matches the
// weak-perspective one for points near the depth plane. camera (..., 3) -> (..., 3).
Tensor weak_perspective_to_translation(const Tensor& camera, double focal_length, double image_size);

// SPIN's estimate_translation(_np), batched: the translation t minimising
//   sum_j c_j * |project(X_j + t) - x_j|^2
// in its linearised form (both sides multiplied by the depth Z_j + t_z), which is linear in t:
// per joint the rows [f, 0, c_x - u_j] t = (u_j - c_x) Z_j - f X_j and likewise for v. SPIN
// weights the rows by sqrt(c_j), so the normal equations A t = b carry c_j; they are solved per
// sample (a 3x3 solve). joints_3d (..., N, 3), joints_2d (..., N, 2) pixels, confidence (..., N),
// camera_center (..., 2) pixels -> (..., 3). Needs non-zero confidence on at least 2 joints.
Tensor estimate_camera_translation(const Tensor& joints_3d, const Tensor& joints_2d, const Tensor& confidence,
                                   double focal_length, const Tensor& camera_center);
// The same with the principal point at the centre of a square image of image_size pixels
// (SPIN's default: focal_length 5000, image_size 224).
Tensor estimate_camera_translation(const Tensor& joints_3d, const Tensor& joints_2d, const Tensor& confidence,
                                   double focal_length = 5000.0, double image_size = 224.0);

}  // namespace hmr::geometry
