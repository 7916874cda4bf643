// Argument checks shared by the renderer's entry points; errors name the function, the argument
// and what was found.
#pragma once

#include "hmr/render/camera.h"
#include "tensor/tensor.h"

namespace hmr::render {

// vertices (B, V, 3) f32/f64.
void check_vertices(const char* op, const Tensor& vertices);
// camera: positive image size, finite non-zero focal lengths, finite principal point.
void check_camera(const char* op, const Camera& camera);
// faces (F, 3) I32/I64 on the vertices' device with indices in [0, V) -> contiguous I64 copy.
Tensor checked_faces(const char* op, const Tensor& faces, const Tensor& vertices);

}  // namespace hmr::render
