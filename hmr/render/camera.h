// The renderer's camera: a pinhole in camera coordinates, the convention of SPIN's
// perspective_projection after its rotation and translation (x right, y down, z forward).
#pragma once

#include <cstdint>

namespace hmr::render {

// A vertex (X, Y, Z) in camera coordinates lands on pixel coordinates
//   u = fx X / Z + cx,   v = fy Y / Z + cy,
// with u along the image's columns and v along its rows; pixel (row i, column j) covers
// [j, j+1) x [i, i+1) and is sampled at its centre (j + 0.5, i + 0.5). So SPIN's crop camera
// (focal 5000, principal point 112, 224 x 224) is Camera{5000, 5000, 112, 112, 224, 224}.
// Faces with a corner at or in front of the near plane (Z <= near) are dropped, not clipped.
// Plain data so CUDA kernels take it by value.
struct Camera {
  double fx = 0, fy = 0;  // focal lengths in pixels
  double cx = 0, cy = 0;  // principal point in pixels
  int64_t height = 0, width = 0;
  double near = 1e-4;
};

}  // namespace hmr::render
