// Z-buffered triangle rasterization of batched meshes (CPU and CUDA): per pixel the visible face,
// the mesh it belongs to, perspective-correct barycentrics and depth; and what is read off such a
// raster: interpolated per-vertex attributes, part segmentation, DensePose-style IUV. Label-like
// outputs, not differentiable (soft_silhouette.h is the differentiable path).
#pragma once

#include <cstdint>

#include "hmr/render/camera.h"
#include "tensor/tensor.h"

namespace hmr::render {

// Per pixel of N images of camera.height x camera.width, on the vertices' device. Off the meshes:
// face and instance -1, barycentrics and depth 0, mask false.
struct Raster {
  Tensor face;      // (N, H, W) I64: index of the visible face in its mesh's face list
  Tensor instance;  // (N, H, W) I64: index of its mesh in the batch
  Tensor bary;      // (N, H, W, 3) vertices' dtype: perspective-correct weights of the face's corners
  Tensor depth;     // (N, H, W): camera z of the surface
  Tensor mask;      // (N, H, W) Bool
  int64_t num_meshes = 0, num_vertices = 0;  // M and V of the meshes drawn (for checks)
};

// vertices (B, V, 3) f32/f64 in camera coordinates (camera.h), faces (F, 3) I32/I64 shared by
// the batch; image b shows mesh b. A pixel shows the face nearest along z whose screen triangle
// holds its centre (edges and corners included, either winding). Ties at equal depth (to f32
// precision) go to the lower mesh index, then the lower face index.
Raster rasterize(const Tensor& vertices, const Tensor& faces, const Camera& camera);

// Several meshes per image (people in one picture): mesh m is drawn into image image_index[m]
// (I64 (M), values in [0, num_images)); Raster.instance says which mesh a pixel shows.
Raster rasterize(const Tensor& vertices, const Tensor& faces, const Camera& camera, const Tensor& image_index,
                 int64_t num_images);

// attributes (V, C) shared by all meshes, or (M, V, C) per mesh -> (N, H, W, C) in the raster's
// dtype: the barycentric blend of the visible face's corner values (perspective-correct, so an
// attribute linear in camera coordinates comes out exactly), 0 off the meshes.
Tensor interpolate(const Raster& raster, const Tensor& faces, const Tensor& attributes);

// How a face's three corner labels become one pixel label.
enum class LabelRule {
  Majority,  // the label two or three corners share, else the nearest corner's
  Nearest,   // the label of the corner with the largest barycentric weight
};

// labels (V) or (M, V) integer per-vertex labels (e.g. the 24 body parts) -> (N, H, W) I64;
// background where no mesh is seen.
Tensor part_segmentation(const Raster& raster, const Tensor& faces, const Tensor& labels,
                         LabelRule rule = LabelRule::Majority, int64_t background = -1);

// DensePose-style IUV: iuv (V, 3) or (M, V, 3) per-vertex (I, U, V), I a part index >= 1 ->
// (N, H, W, 3) in the raster's dtype: I from the nearest corner (so parts keep sharp borders),
// U and V interpolated; all 0 on the background.
Tensor render_iuv(const Raster& raster, const Tensor& faces, const Tensor& iuv);

}  // namespace hmr::render
