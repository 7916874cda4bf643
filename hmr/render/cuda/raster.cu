// The renderer's CUDA backend. Rasterization and the soft-silhouette forward run per 16x16 tile:
// a block walks its image's faces in chunks of 256, keeps (in order, by a warp-ballot prefix
// sum) those whose box meets the tile, and each thread lets them visit its pixel, so every pixel
// sees its faces in ascending order as on the CPU: no atomics, the same ties and sums. The
// soft-silhouette backward runs a thread per face over the pixels of its box (each face owns its
// nine outputs); index_add then sums corners into vertices.
#include <cuda_runtime.h>

#include <type_traits>

#include "hmr/render/backend.h"
#include "hmr/render/raster_math.h"
#include "tensor/cuda_context.h"
#include "tensor/dispatch.h"

namespace hmr::render::cuda {

namespace {

constexpr int kTile = 16;
constexpr int kThreads = kTile * kTile;  // one chunk of faces per pass, one face per thread
constexpr int kWarps = kThreads / 32;

void check_launch(const char* what) {
  cudaError_t err = cudaGetLastError();
  HMR_CHECK(err == cudaSuccess, CudaError, what, ": kernel launch failed: ", cudaGetErrorString(err));
}

cudaStream_t prepare(const Tensor& t) {
  hmr::cuda::set_device(t.device().index);
  return static_cast<cudaStream_t>(hmr::cuda::current_stream(t.device().index));
}

unsigned blocks_for(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

template <class T>
__global__ void project_kernel(const T* vertices, const int64_t* faces, int64_t num_meshes, int64_t V, int64_t F,
                               Camera cam, ScreenTriangle<T>* tris) {
  const int64_t g = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (g >= num_meshes * F) return;
  tris[g] = project_triangle(vertices + (g / F) * V * 3, faces + (g % F) * 3, cam);
}

// Every face of every mesh on the screen, in a device buffer: mesh m's face f at m * F + f.
template <class T>
Tensor project_all(const Tensor& vertices, const Tensor& faces, const Camera& cam, cudaStream_t stream) {
  const int64_t M = vertices.size(0), V = vertices.size(1), F = faces.size(0);
  Tensor buffer = Tensor::empty({M * F * int64_t(sizeof(ScreenTriangle<T>))}, DType::U8, vertices.device());
  if (M * F > 0)
    project_kernel<<<blocks_for(M * F), kThreads, 0, stream>>>(
        vertices.data<T>(), faces.data<int64_t>(), M, V, F, cam, static_cast<ScreenTriangle<T>*>(buffer.raw_data()));
  check_launch("render: project faces");
  return buffer;
}

// Block (tile x, tile y, image n). order/start: the meshes of each image (backend.h's MeshBatch).
template <class T, class Op>
__global__ void tile_kernel(const ScreenTriangle<T>* tris, const int64_t* order, const int64_t* start, int64_t F,
                            int64_t H, int64_t W, Op op) {
  __shared__ int64_t kept[kThreads];
  __shared__ int warp_counts[kWarps];
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int64_t n = blockIdx.z;
  const int64_t x = int64_t(blockIdx.x) * kTile + tid % kTile, y = int64_t(blockIdx.y) * kTile + tid / kTile;
  const T px = T(x) + T(0.5), py = T(y) + T(0.5);
  // The tile's pixel centres, for the box test of whole faces.
  const T tx0 = T(blockIdx.x * kTile) + T(0.5), tx1 = tx0 + T(kTile - 1);
  const T ty0 = T(blockIdx.y * kTile) + T(0.5), ty1 = ty0 + T(kTile - 1);
  const T margin = op.margin();
  const int64_t first_mesh = start[n], count = (start[n + 1] - first_mesh) * F;
  typename Op::State state = op.init();
  for (int64_t chunk = 0; chunk < count; chunk += kThreads) {
    const int64_t k = chunk + tid;
    int64_t id = 0;
    bool keep = false;
    if (k < count) {
      id = order[first_mesh + k / F] * F + k % F;
      const ScreenTriangle<T>& t = tris[id];
      keep = t.valid && t.xmax + margin >= tx0 && t.xmin - margin <= tx1 && t.ymax + margin >= ty0 &&
             t.ymin - margin <= ty1;
    }
    // Ordered compaction: a face's slot is the number of kept faces before it in the chunk.
    const unsigned ballot = __ballot_sync(0xffffffffu, keep);
    if (lane == 0) warp_counts[warp] = __popc(ballot);
    __syncthreads();
    int offset = 0, total = 0;
    for (int w = 0; w < kWarps; ++w) {
      offset += w < warp ? warp_counts[w] : 0;
      total += warp_counts[w];
    }
    if (keep) kept[offset + __popc(ballot & ((1u << lane) - 1u))] = id;
    __syncthreads();
    for (int i = 0; i < total; ++i) op.visit(state, tris[kept[i]], kept[i], px, py);
    __syncthreads();  // kept and warp_counts are rewritten by the next chunk
  }
  if (x < W && y < H) op.finish(state, (n * H + y) * W + x, px, py);
}

template <class T, class Op>
void draw(const Tensor& tris, int64_t F, const MeshBatch& meshes, const Camera& cam, const Op& op,
          cudaStream_t stream) {
  const int64_t N = meshes.image_start.numel() - 1;
  // The mesh grouping lives on the host; the kernel reads it from the device.
  Tensor order = meshes.mesh_order.to(meshes.vertices.device());
  Tensor start = meshes.image_start.to(meshes.vertices.device());
  const dim3 grid(static_cast<unsigned>((cam.width + kTile - 1) / kTile),
                  static_cast<unsigned>((cam.height + kTile - 1) / kTile), static_cast<unsigned>(N));
  tile_kernel<<<grid, kThreads, 0, stream>>>(static_cast<const ScreenTriangle<T>*>(tris.raw_data()),
                                             order.data<int64_t>(), start.data<int64_t>(), F, cam.height,
                                             cam.width, op);
  check_launch("render: draw tiles");
}

template <class T>
__global__ void interpolate_kernel(const int64_t* face, const int64_t* instance, const T* bary,
                                   const int64_t* faces, const T* attributes, int64_t mesh_stride, int64_t channels,
                                   int64_t pixels, T* out) {
  const int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p >= pixels) return;
  interpolate_pixel(face[p], bary + 3 * p, faces, attributes + (face[p] < 0 ? 0 : instance[p] * mesh_stride),
                    channels, out + p * channels);
}

template <class T>
__global__ void pick_labels_kernel(const int64_t* face, const int64_t* instance, const T* bary,
                                   const int64_t* faces, const int64_t* labels, int64_t mesh_stride, bool majority,
                                   int64_t background, int64_t pixels, int64_t* out) {
  const int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p >= pixels) return;
  out[p] = pick_label(face[p], bary + 3 * p, faces, labels + (face[p] < 0 ? 0 : instance[p] * mesh_stride),
                      majority, background);
}

template <class T>
__global__ void soft_backward_kernel(const ScreenTriangle<T>* tris, int64_t total, int64_t F, Camera cam, T sigma,
                                     const T* grad, const T* log_q, T* out) {
  const int64_t id = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (id >= total) return;
  T* o = out + 9 * id;
  if (!tris[id].valid) {
    for (int i = 0; i < 9; ++i) o[i] = T(0);
    return;
  }
  const int64_t HW = cam.height * cam.width, image = id / F;
  soft_silhouette_face_gradient(tris[id], cam, sigma, grad + image * HW, log_q + image * HW, cam.height, cam.width,
                                o);
}

// f32 and f64 only (the front ends check).
template <class F>
void dispatch_real(DType dtype, const char* op, const F& f) {
  dispatch_floating(dtype, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) f(tag);
  });
}

}  // namespace

void rasterize(const MeshBatch& meshes, const Camera& camera, const RasterOutputs& out) {
  cudaStream_t stream = prepare(meshes.vertices);
  dispatch_real(meshes.vertices.dtype(), "rasterize", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t F = meshes.faces.size(0);
    Tensor tris = project_all<T>(meshes.vertices, meshes.faces, camera, stream);
    RasterPixel<T> op{static_cast<const ScreenTriangle<T>*>(tris.raw_data()), F, out.face.data<int64_t>(),
                      out.instance.data<int64_t>(), out.bary.data<T>(), out.depth.data<T>()};
    draw<T>(tris, F, meshes, camera, op, stream);
  });
}

void interpolate(const RasterOutputs& raster, const Tensor& faces, const Tensor& attributes, const Tensor& out) {
  cudaStream_t stream = prepare(out);
  dispatch_real(raster.bary.dtype(), "interpolate", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t pixels = raster.face.numel(), C = attributes.size(2);
    const int64_t mesh_stride = attributes.size(0) == 1 ? 0 : attributes.size(1) * C;
    interpolate_kernel<<<blocks_for(pixels), kThreads, 0, stream>>>(
        raster.face.data<int64_t>(), raster.instance.data<int64_t>(), raster.bary.data<T>(), faces.data<int64_t>(),
        attributes.data<T>(), mesh_stride, C, pixels, out.data<T>());
  });
  check_launch("interpolate");
}

void pick_labels(const RasterOutputs& raster, const Tensor& faces, const Tensor& labels, bool majority,
                 int64_t background, const Tensor& out) {
  cudaStream_t stream = prepare(out);
  dispatch_real(raster.bary.dtype(), "part_segmentation", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t pixels = raster.face.numel();
    const int64_t mesh_stride = labels.size(0) == 1 ? 0 : labels.size(1);
    pick_labels_kernel<<<blocks_for(pixels), kThreads, 0, stream>>>(
        raster.face.data<int64_t>(), raster.instance.data<int64_t>(), raster.bary.data<T>(), faces.data<int64_t>(),
        labels.data<int64_t>(), mesh_stride, majority, background, pixels, out.data<int64_t>());
  });
  check_launch("part_segmentation");
}

void soft_silhouette(const Tensor& vertices, const Tensor& faces, const Camera& camera, double sigma,
                     const Tensor& prob, const Tensor& log_q) {
  cudaStream_t stream = prepare(vertices);
  dispatch_real(vertices.dtype(), "soft_silhouette", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t B = vertices.size(0);
    std::vector<int64_t> order(B), start(B + 1);
    for (int64_t b = 0; b <= B; ++b) {
      if (b < B) order[b] = b;
      start[b] = b;
    }
    MeshBatch meshes{vertices, faces, Tensor::from_vector(order, {B}), Tensor::from_vector(start, {B + 1})};
    Tensor tris = project_all<T>(vertices, faces, camera, stream);
    SoftSilhouettePixel<T> op{T(sigma), prob.data<T>(), log_q.data<T>()};
    draw<T>(tris, faces.size(0), meshes, camera, op, stream);
  });
}

void soft_silhouette_backward(const Tensor& vertices, const Tensor& faces, const Camera& camera, double sigma,
                              const Tensor& grad, const Tensor& log_q, const Tensor& grad_corners) {
  cudaStream_t stream = prepare(vertices);
  dispatch_real(vertices.dtype(), "soft_silhouette_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor tris = project_all<T>(vertices, faces, camera, stream);
    const int64_t total = vertices.size(0) * faces.size(0);
    // Threads per block kept small: a face's loop over its box is long and uneven.
    soft_backward_kernel<<<static_cast<unsigned>((total + 63) / 64), 64, 0, stream>>>(
        static_cast<const ScreenTriangle<T>*>(tris.raw_data()), total, faces.size(0), camera, T(sigma),
        grad.data<T>(), log_q.data<T>(), grad_corners.data<T>());
  });
  check_launch("soft_silhouette_backward");
}

}  // namespace hmr::render::cuda
