// CUDA skinning, forward and backward. A block owns one sample b and a tile of kTile vertices,
// one thread per vertex, with A[b] (J x 12) staged in shared memory (every thread reads all of
// it). The gradient to A is a sum over V: each block reduces its tile in shared memory as a
// small (J x kTile) x (kTile x 12) product and writes one partial (J x 12) per tile; a second
// kernel adds the tiles up in order. No atomics, so the result is the same on every run.
#include <cuda_runtime.h>

#include <type_traits>

#include "hmr/body/skinning.h"
#include "tensor/cuda_context.h"
#include "tensor/error.h"

namespace hmr::body::skinning::cuda {
namespace {

constexpr int kTile = 128;  // vertices (and threads) per block

void check_launch(const char* what) {
  cudaError_t err = cudaGetLastError();
  HMR_CHECK(err == cudaSuccess, CudaError, what, ": kernel launch failed: ", cudaGetErrorString(err));
}

cudaStream_t prepare(const Tensor& t) {
  ::hmr::cuda::set_device(t.device().index);
  return static_cast<cudaStream_t>(::hmr::cuda::current_stream(t.device().index));
}

// Copies A[b] into shared memory (dynamic: J * 12 elements, then whatever the caller adds).
template <class T>
__device__ void stage_transforms(const T* A, int64_t b, int J, T* shared_A) {
  const T* src = A + b * J * kTransform;
  for (int k = threadIdx.x; k < J * kTransform; k += blockDim.x) shared_A[k] = src[k];
  __syncthreads();
}

template <class T>
__global__ void skin_forward_kernel(const T* __restrict__ w, const T* __restrict__ A, const T* __restrict__ p,
                                    T* __restrict__ out, int64_t V, int J, int64_t tiles) {
  extern __shared__ __align__(16) unsigned char smem[];
  T* shared_A = reinterpret_cast<T*>(smem);
  const int64_t b = blockIdx.x / tiles, v = (blockIdx.x % tiles) * kTile + threadIdx.x;
  stage_transforms(A, b, J, shared_A);
  if (v >= V) return;
  T t[kTransform];
  blend(w + v * J, shared_A, J, t);
  const int64_t i = b * V + v;
  apply(t, p + i * 3, out + i * 3);
}

// Writes grad_p for the tile and partial[b, tile] = sum over the tile's vertices of w[v] dT[v].
template <class T>
__global__ void skin_backward_kernel(const T* __restrict__ w, const T* __restrict__ A,
                                     const T* __restrict__ p, const T* __restrict__ g, T* __restrict__ grad_p,
                                     T* __restrict__ partial, int64_t V, int J, int64_t tiles) {
  extern __shared__ __align__(16) unsigned char smem[];
  T* shared_A = reinterpret_cast<T*>(smem);
  T* shared_dt = shared_A + J * kTransform;  // (kTile, 12)
  const int64_t b = blockIdx.x / tiles, v0 = (blockIdx.x % tiles) * kTile, v = v0 + threadIdx.x;
  stage_transforms(A, b, J, shared_A);
  T* dt = shared_dt + threadIdx.x * kTransform;
  if (v < V) {
    const int64_t i = b * V + v;
    T t[kTransform], dp[3];
    blend(w + v * J, shared_A, J, t);
    apply_backward(t, p + i * 3, g + i * 3, dp, dt);
    for (int c = 0; c < 3; ++c) grad_p[i * 3 + c] = dp[c];
  } else {
    for (int k = 0; k < kTransform; ++k) dt[k] = T(0);
  }
  __syncthreads();
  // Each output (j, k) of the tile's partial is a dot product over the tile's vertices.
  const int n = static_cast<int>(V - v0 < kTile ? V - v0 : kTile);
  T* out = partial + blockIdx.x * int64_t(J) * kTransform;
  for (int o = threadIdx.x; o < J * kTransform; o += blockDim.x) {
    const int j = o / kTransform, k = o % kTransform;
    T s = T(0);
    for (int u = 0; u < n; ++u) s += w[(v0 + u) * J + j] * shared_dt[u * kTransform + k];
    out[o] = s;
  }
}

// grad_A[b, o] = sum over tiles of partial[b, tile, o], tiles added in order.
template <class T>
__global__ void sum_tiles_kernel(const T* __restrict__ partial, T* __restrict__ grad_A, int64_t B,
                                 int64_t row, int64_t tiles) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= B * row) return;
  const int64_t b = i / row, o = i % row;
  const T* src = partial + b * tiles * row + o;
  T s = T(0);
  for (int64_t t = 0; t < tiles; ++t) s += src[t * row];
  grad_A[i] = s;
}

template <class F>
void dispatch_f32_f64(DType dtype, const char* op, F&& f) {
  if (dtype == DType::F32) return f(float{});
  HMR_CHECK(dtype == DType::F64, DTypeError, op, ": expected f32 or f64 but found ", dtype);
  f(double{});
}

}  // namespace

void skin_forward(const Tensor& weights, const Tensor& A, const Tensor& v_posed, const Tensor& out) {
  const int64_t B = A.size(0), V = v_posed.size(1);
  const int J = static_cast<int>(A.size(1));
  const int64_t tiles = (V + kTile - 1) / kTile;
  cudaStream_t stream = prepare(A);
  dispatch_f32_f64(A.dtype(), "skin", [&](auto zero) {
    using T = decltype(zero);
    const size_t shared = size_t(J) * kTransform * sizeof(T);
    skin_forward_kernel<T><<<unsigned(B * tiles), kTile, shared, stream>>>(
        static_cast<const T*>(weights.raw_data()), static_cast<const T*>(A.raw_data()),
        static_cast<const T*>(v_posed.raw_data()), static_cast<T*>(out.raw_data()), V, J, tiles);
  });
  check_launch("skin");
}

void skin_backward(const Tensor& weights, const Tensor& A, const Tensor& v_posed, const Tensor& grad,
                   const Tensor& grad_A, const Tensor& grad_v_posed) {
  const int64_t B = A.size(0), V = v_posed.size(1);
  const int J = static_cast<int>(A.size(1));
  const int64_t tiles = (V + kTile - 1) / kTile, row = int64_t(J) * kTransform;
  cudaStream_t stream = prepare(A);
  Tensor partial = Tensor::empty({B, tiles, row}, A.dtype(), A.device());
  dispatch_f32_f64(A.dtype(), "skin_backward", [&](auto zero) {
    using T = decltype(zero);
    const size_t shared = (size_t(J) * kTransform + size_t(kTile) * kTransform) * sizeof(T);
    skin_backward_kernel<T><<<unsigned(B * tiles), kTile, shared, stream>>>(
        static_cast<const T*>(weights.raw_data()), static_cast<const T*>(A.raw_data()),
        static_cast<const T*>(v_posed.raw_data()), static_cast<const T*>(grad.raw_data()),
        static_cast<T*>(grad_v_posed.raw_data()), static_cast<T*>(partial.raw_data()), V, J, tiles);
    check_launch("skin_backward");
    const int threads = 256;
    sum_tiles_kernel<T><<<unsigned((B * row + threads - 1) / threads), threads, 0, stream>>>(
        static_cast<const T*>(partial.raw_data()), static_cast<T*>(grad_A.raw_data()), B, row, tiles);
  });
  check_launch("skin_backward");
}

}  // namespace hmr::body::skinning::cuda
