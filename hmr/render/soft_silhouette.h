// A differentiable silhouette (SoftRas style) for the methods whose losses render: every face
// spreads into a sigmoid of its signed screen distance, and the faces combine as independent
// coverage probabilities. Gradients flow to the vertices; CPU and CUDA.
#pragma once

#include "hmr/render/camera.h"
#include "tensor/tensor.h"

namespace hmr::render {

// vertices (B, V, 3) f32/f64 in camera coordinates (camera.h), faces (F, 3) I32/I64, sigma > 0
// in pixels -> (B, H, W) in [0, 1]:
//   S(p) = 1 - prod_f (1 - sigmoid(-d_f(p) / sigma)),
// d_f(p) the distance in pixels from the pixel centre p to face f's screen triangle, negative
// inside. Faces with d_f(p) > sigma ln(1e4) (a share below 1e-4) are skipped for that pixel, and
// faces touching the near plane everywhere. As sigma -> 0 it tends to the hard silhouette.
// Backward (hand-written, both backends): dS/dd_f = -sigmoid(-d_f/sigma) prod_g (1 - ...) / sigma,
// the product kept as a log from the forward, so no division by 1 - sigmoid is needed.
Tensor soft_silhouette(const Tensor& vertices, const Tensor& faces, const Camera& camera, double sigma);

}  // namespace hmr::render
