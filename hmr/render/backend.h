// The renderer's backends, CPU and CUDA, with the same signatures. The front ends
// (rasterize.cpp, soft_silhouette.cpp) check arguments and hand over contiguous tensors on one
// device; the math both run is in raster_math.h.
#pragma once

#include "hmr/render/camera.h"
#include "tensor/tensor.h"

namespace hmr::render {

// What a rasterization pass needs. Meshes are grouped by image: image n draws the meshes
// mesh_order[image_start[n] .. image_start[n+1]), each with all F faces.
struct MeshBatch {
  Tensor vertices;     // (M, V, 3) f32/f64
  Tensor faces;        // (F, 3) I64
  Tensor mesh_order;   // (M) I64, on the CPU
  Tensor image_start;  // (N + 1) I64, on the CPU
};

struct RasterOutputs {
  Tensor face, instance;  // (N, H, W) I64
  Tensor bary;            // (N, H, W, 3)
  Tensor depth;           // (N, H, W)
};

#define HMR_RENDER_BACKEND                                                                        \
  void rasterize(const MeshBatch& meshes, const Camera& camera, const RasterOutputs& out);         \
  /* out (N, H, W, C) = sum_i bary_i * attributes[mesh or 0, faces[face, i], :]; 0 off the mesh */ \
  void interpolate(const RasterOutputs& raster, const Tensor& faces, const Tensor& attributes,     \
                   const Tensor& out);                                                            \
  /* labels (M or 1, V) I64 -> (N, H, W): the face's majority label, or its nearest corner's */   \
  void pick_labels(const RasterOutputs& raster, const Tensor& faces, const Tensor& labels,          \
                   bool majority, int64_t background, const Tensor& out);                         \
  void soft_silhouette(const Tensor& vertices, const Tensor& faces, const Camera& camera,          \
                       double sigma, const Tensor& prob, const Tensor& log_q);                     \
  /* -> grad_corners (B, F, 3, 3): d loss / d (camera coordinates of each face corner) */         \
  void soft_silhouette_backward(const Tensor& vertices, const Tensor& faces, const Camera& camera, \
                                double sigma, const Tensor& grad, const Tensor& log_q,            \
                                const Tensor& grad_corners);

namespace cpu { HMR_RENDER_BACKEND }
namespace cuda { HMR_RENDER_BACKEND }

// Calls cuda::fn when t is on a GPU and cpu::fn otherwise (kernels' HMR_DISPATCH_DEVICE, for
// this folder's namespaces).
#ifdef HMR_WITH_CUDA
#define HMR_RENDER_DISPATCH(t, call) \
  do {                               \
    if ((t).is_cuda()) {             \
      ::hmr::render::cuda::call;     \
    } else {                         \
      ::hmr::render::cpu::call;      \
    }                                \
  } while (0)
#else
#define HMR_RENDER_DISPATCH(t, call)                                                       \
  do {                                                                                     \
    HMR_CHECK(!(t).is_cuda(), DeviceError, "render: CUDA tensor in a build without CUDA"); \
    ::hmr::render::cpu::call;                                                              \
  } while (0)
#endif

}  // namespace hmr::render
