// The renderer's CPU backend. Work is split into bands of rows of one image; a band walks the
// faces of its image in ascending order and lets each touch the pixels of its box, so every
// pixel sees its faces in the same order as on the GPU (deterministic z-buffer ties, equal sums).
#include <algorithm>
#include <vector>

#include "hmr/render/backend.h"
#include "hmr/render/raster_math.h"
#include "tensor/dispatch.h"
#include "tensor/parallel.h"

namespace hmr::render::cpu {

namespace {

constexpr int64_t kBandRows = 8;

// Every face of every mesh on the screen: mesh m's face f at m * F + f.
template <class T>
std::vector<ScreenTriangle<T>> project_all(const Tensor& vertices, const Tensor& faces, const Camera& cam) {
  const int64_t M = vertices.size(0), V = vertices.size(1), F = faces.size(0);
  const T* v = vertices.data<T>();
  const int64_t* f = faces.data<int64_t>();
  std::vector<ScreenTriangle<T>> tris(static_cast<size_t>(M * F));
  parallel_for(0, M * F, 4096, [&](int64_t b, int64_t e) {
    for (int64_t g = b; g < e; ++g) tris[g] = project_triangle(v + (g / F) * V * 3, f + (g % F) * 3, cam);
  });
  return tris;
}

// Runs op over every pixel of every image (see raster_math.h: init, visit in face order, finish).
template <class T, class Op>
void draw(const std::vector<ScreenTriangle<T>>& tris, int64_t F, const MeshBatch& meshes, const Camera& cam,
          const Op& op) {
  const int64_t N = meshes.image_start.numel() - 1, H = cam.height, W = cam.width;
  const int64_t bands = (H + kBandRows - 1) / kBandRows;
  const int64_t* order = meshes.mesh_order.data<int64_t>();
  const int64_t* start = meshes.image_start.data<int64_t>();
  const T margin = op.margin();
  parallel_for(0, N * bands, 1, [&](int64_t ub, int64_t ue) {
    std::vector<typename Op::State> states(static_cast<size_t>(kBandRows * W));
    for (int64_t u = ub; u < ue; ++u) {
      const int64_t n = u / bands, y0 = (u % bands) * kBandRows, y1 = std::min(H, y0 + kBandRows);
      std::fill(states.begin(), states.end(), op.init());
      for (int64_t k = start[n]; k < start[n + 1]; ++k)
        for (int64_t g = order[k] * F, g_end = g + F; g < g_end; ++g) {
          const ScreenTriangle<T>& tri = tris[g];
          if (!tri.valid) continue;
          int64_t ya, yb, xa, xb;
          pixel_span(tri.ymin, tri.ymax, margin, H, ya, yb);
          ya = std::max(ya, y0);
          yb = std::min(yb, y1 - 1);
          if (ya > yb) continue;
          pixel_span(tri.xmin, tri.xmax, margin, W, xa, xb);
          for (int64_t y = ya; y <= yb; ++y)
            for (int64_t x = xa; x <= xb; ++x)
              op.visit(states[(y - y0) * W + x], tri, g, T(x) + T(0.5), T(y) + T(0.5));
        }
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t x = 0; x < W; ++x)
          op.finish(states[(y - y0) * W + x], (n * H + y) * W + x, T(x) + T(0.5), T(y) + T(0.5));
    }
  });
}

// Image b draws mesh b alone.
MeshBatch one_mesh_per_image(const Tensor& vertices, const Tensor& faces) {
  const int64_t B = vertices.size(0);
  std::vector<int64_t> order(B), start(B + 1);
  for (int64_t b = 0; b <= B; ++b) {
    if (b < B) order[b] = b;
    start[b] = b;
  }
  return {vertices, faces, Tensor::from_vector(order, {B}), Tensor::from_vector(start, {B + 1})};
}

}  // namespace

void rasterize(const MeshBatch& meshes, const Camera& camera, const RasterOutputs& out) {
  dispatch_floating(meshes.vertices.dtype(), "rasterize", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      const auto tris = project_all<T>(meshes.vertices, meshes.faces, camera);
      RasterPixel<T> op{tris.data(),           meshes.faces.size(0),     out.face.data<int64_t>(),
                        out.instance.data<int64_t>(), out.bary.data<T>(), out.depth.data<T>()};
      draw(tris, meshes.faces.size(0), meshes, camera, op);
    }
  });
}

void interpolate(const RasterOutputs& raster, const Tensor& faces, const Tensor& attributes, const Tensor& out) {
  dispatch_floating(raster.bary.dtype(), "interpolate", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      const int64_t pixels = raster.face.numel(), C = attributes.size(2);
      const int64_t mesh_stride = attributes.size(0) == 1 ? 0 : attributes.size(1) * C;
      const int64_t* face = raster.face.data<int64_t>();
      const int64_t* inst = raster.instance.data<int64_t>();
      const T* bary = raster.bary.data<T>();
      const T* attr = attributes.data<T>();
      T* o = out.data<T>();
      parallel_for(0, pixels, 4096, [&](int64_t b, int64_t e) {
        for (int64_t p = b; p < e; ++p)
          interpolate_pixel(face[p], bary + 3 * p, faces.data<int64_t>(),
                            attr + (face[p] < 0 ? 0 : inst[p] * mesh_stride), C, o + p * C);
      });
    }
  });
}

void pick_labels(const RasterOutputs& raster, const Tensor& faces, const Tensor& labels, bool majority,
                 int64_t background, const Tensor& out) {
  dispatch_floating(raster.bary.dtype(), "pick_labels", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      const int64_t pixels = raster.face.numel();
      const int64_t mesh_stride = labels.size(0) == 1 ? 0 : labels.size(1);
      const int64_t* face = raster.face.data<int64_t>();
      const int64_t* inst = raster.instance.data<int64_t>();
      const T* bary = raster.bary.data<T>();
      const int64_t* lab = labels.data<int64_t>();
      int64_t* o = out.data<int64_t>();
      parallel_for(0, pixels, 4096, [&](int64_t b, int64_t e) {
        for (int64_t p = b; p < e; ++p)
          o[p] = pick_label(face[p], bary + 3 * p, faces.data<int64_t>(),
                            lab + (face[p] < 0 ? 0 : inst[p] * mesh_stride), majority, background);
      });
    }
  });
}

void soft_silhouette(const Tensor& vertices, const Tensor& faces, const Camera& camera, double sigma,
                     const Tensor& prob, const Tensor& log_q) {
  dispatch_floating(vertices.dtype(), "soft_silhouette", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      const auto tris = project_all<T>(vertices, faces, camera);
      SoftSilhouettePixel<T> op{T(sigma), prob.data<T>(), log_q.data<T>()};
      draw(tris, faces.size(0), one_mesh_per_image(vertices, faces), camera, op);
    }
  });
}

void soft_silhouette_backward(const Tensor& vertices, const Tensor& faces, const Camera& camera, double sigma,
                              const Tensor& grad, const Tensor& log_q, const Tensor& grad_corners) {
  dispatch_floating(vertices.dtype(), "soft_silhouette_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      const auto tris = project_all<T>(vertices, faces, camera);
      const int64_t F = faces.size(0), HW = camera.height * camera.width;
      const T* g = grad.data<T>();
      const T* lq = log_q.data<T>();
      T* out = grad_corners.data<T>();
      // A face owns its nine outputs, so faces run in parallel without atomics.
      parallel_for(0, static_cast<int64_t>(tris.size()), 64, [&](int64_t b, int64_t e) {
        for (int64_t id = b; id < e; ++id) {
          T* o = out + 9 * id;
          if (!tris[id].valid) {
            std::fill(o, o + 9, T(0));
            continue;
          }
          const int64_t image = id / F;
          soft_silhouette_face_gradient(tris[id], camera, T(sigma), g + image * HW, lq + image * HW,
                                        camera.height, camera.width, o);
        }
      });
    }
  });
}

}  // namespace hmr::render::cpu
