// Shaded rendering of people to look at: Lambert + ambient light from one direction, per-vertex
// colours, composited over the input image, plus a side view; written as PNG. CPU, f64, not
// differentiable (for figures and the demo, not for losses).
#pragma once

#include <string>

#include "hmr/render/camera.h"
#include "tensor/tensor.h"

namespace hmr::render {

struct ShadingOptions {
  // Direction from the surface towards the light, in camera coordinates (need not be unit):
  // from just above and to the right of the camera.
  double light[3] = {0.3, -0.5, -1.0};
  double ambient = 0.35, diffuse = 0.65;
  double color[3] = {0.65, 0.74, 0.86};  // used when no per-vertex colours are given
  double opacity = 1.0;                  // of the mesh over the background
};

// vertices (V, 3) or (M, V, 3) in camera coordinates, all drawn into one image; faces (F, 3);
// colors (V, 3) or (M, V, 3) in [0, 1] or undefined; background u8 (H, W, 3) (the camera's size)
// or undefined for white -> u8 (H, W, 3). Normals are the interpolated area-weighted vertex
// normals, turned towards the camera (both sides of a face are lit).
Tensor render_shaded(const Tensor& vertices, const Tensor& faces, const Camera& camera, const Tensor& colors = {},
                     const Tensor& background = {}, const ShadingOptions& options = {});

// The meshes turned 90 degrees about the vertical (y) axis through their common centroid, then
// moved so that the centroid projects to the image centre and everything fits in ~90% of the
// frame: the side view of a person. (V, 3) or (M, V, 3) -> same shape, f64.
Tensor side_view(const Tensor& vertices, const Camera& camera);

// Per-vertex colours from integer labels (e.g. the 24 body parts): a fixed palette of hues
// spread by the golden ratio, so neighbouring labels differ. labels (V) -> (V, 3) f64 in [0, 1].
Tensor label_colors(const Tensor& labels);

// render_shaded of the front view over background (white when undefined) beside the side view on
// white: a PNG of H x 2W.
void write_front_and_side_png(const std::string& path, const Tensor& vertices, const Tensor& faces,
                              const Camera& camera, const Tensor& background = {}, const Tensor& colors = {},
                              const ShadingOptions& options = {});

}  // namespace hmr::render
