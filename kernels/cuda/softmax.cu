// CUDA softmax and log-softmax over contiguous (outer, n, inner) lanes, forward and backward.
// inner == 1: a warp per row up to 1024 elements, a block per longer row; the group makes
// three sweeps (max, sum of exp(x - max), write) with warp-shuffle all-reductions between
// them. inner > 1: a thread per lane, neighbouring threads on neighbouring lanes so every
// sweep is coalesced. The per-element math is kernels/softmax.h's, shared with the CPU.
#include <cuda_runtime.h>

#include <limits>

#include "kernels/cast.h"
#include "kernels/softmax.h"
#include "tensor/cuda_context.h"
#include "tensor/dispatch.h"

namespace hmr::kernels::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int64_t kShortRow = 1024;

void check_launch(const char* what) {
  cudaError_t err = cudaGetLastError();
  HMR_CHECK(err == cudaSuccess, CudaError, what, ": kernel launch failed: ", cudaGetErrorString(err));
}

struct MaxOf {
  template <class A> __device__ A operator()(A a, A b) const { return softmax_max(a, b); }
};
struct SumOf {
  template <class A> __device__ A operator()(A a, A b) const { return a + b; }
};

// Every thread of the group (a warp, or the whole block when kBlock) gets the combined value.
template <bool kBlock, class A, class Op>
__device__ A group_all_reduce(A v, Op op) {
  for (int d = 16; d > 0; d >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, d));
  if constexpr (kBlock) {
    __shared__ A per_warp[kWarps];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    __syncthreads();  // per_warp may still be read by an earlier call
    if (lane == 0) per_warp[warp] = v;
    __syncthreads();
    v = per_warp[0];
    for (int w = 1; w < kWarps; ++w) v = op(v, per_warp[w]);
  }
  return v;
}

// The row this thread works on, its first position and its step, for a warp or a block per row.
template <bool kBlock> struct RowGroup {
  int64_t row;
  int first, step;
  __device__ RowGroup()
      : row(kBlock ? int64_t(blockIdx.x) : int64_t(blockIdx.x) * kWarps + threadIdx.x / 32),
        first(kBlock ? threadIdx.x : threadIdx.x % 32),
        step(kBlock ? kThreads : 32) {}
};

template <bool kBlock, class T>
__global__ void softmax_rows(const T* x, int64_t rows, int64_t n, bool log, T* y) {
  using A = acc_t<T>;
  RowGroup<kBlock> g;
  // A warp past the last row still joins the block-wide steps (kBlock has none to skip).
  const bool live = g.row < rows;
  const T* xr = x + (live ? g.row : 0) * n;
  A m = -std::numeric_limits<A>::infinity(), s = A(0);
  if (live)
    for (int64_t j = g.first; j < n; j += g.step) m = softmax_max(m, cast<A>(xr[j]));
  m = group_all_reduce<kBlock>(m, MaxOf{});
  if (live)
    for (int64_t j = g.first; j < n; j += g.step) s += math::exp(cast<A>(xr[j]) - m);
  s = softmax_scale(group_all_reduce<kBlock>(s, SumOf{}), log);
  if (!live) return;
  T* yr = y + g.row * n;
  for (int64_t j = g.first; j < n; j += g.step) yr[j] = cast<T>(softmax_output(cast<A>(xr[j]), m, s, log));
}

template <bool kBlock, class T>
__global__ void softmax_backward_rows(const T* gr, const T* y, int64_t rows, int64_t n, bool log, T* gi) {
  using A = acc_t<T>;
  RowGroup<kBlock> g;
  const bool live = g.row < rows;
  const int64_t base = (live ? g.row : 0) * n;
  A dot = A(0);
  if (live)
    for (int64_t j = g.first; j < n; j += g.step) dot += softmax_dot_term(cast<A>(gr[base + j]), cast<A>(y[base + j]), log);
  dot = group_all_reduce<kBlock>(dot, SumOf{});
  if (!live) return;
  for (int64_t j = g.first; j < n; j += g.step)
    gi[base + j] = cast<T>(softmax_grad(cast<A>(gr[base + j]), cast<A>(y[base + j]), dot, log));
}

template <class T>
__global__ void softmax_columns(const T* x, int64_t outer, int64_t n, int64_t inner, bool log, T* y) {
  using A = acc_t<T>;
  int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= outer * inner) return;
  const int64_t base = (k / inner) * n * inner + k % inner;
  A m = -std::numeric_limits<A>::infinity(), s = A(0);
  for (int64_t r = 0; r < n; ++r) m = softmax_max(m, cast<A>(x[base + r * inner]));
  for (int64_t r = 0; r < n; ++r) s += math::exp(cast<A>(x[base + r * inner]) - m);
  s = softmax_scale(s, log);
  for (int64_t r = 0; r < n; ++r) y[base + r * inner] = cast<T>(softmax_output(cast<A>(x[base + r * inner]), m, s, log));
}

template <class T>
__global__ void softmax_backward_columns(const T* gr, const T* y, int64_t outer, int64_t n, int64_t inner, bool log,
                                         T* gi) {
  using A = acc_t<T>;
  int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= outer * inner) return;
  const int64_t base = (k / inner) * n * inner + k % inner;
  A dot = A(0);
  for (int64_t r = 0; r < n; ++r) dot += softmax_dot_term(cast<A>(gr[base + r * inner]), cast<A>(y[base + r * inner]), log);
  for (int64_t r = 0; r < n; ++r) {
    int64_t j = base + r * inner;
    gi[j] = cast<T>(softmax_grad(cast<A>(gr[j]), cast<A>(y[j]), dot, log));
  }
}

cudaStream_t prepare(const Tensor& t) {
  hmr::cuda::set_device(t.device().index);
  return static_cast<cudaStream_t>(hmr::cuda::current_stream(t.device().index));
}

unsigned blocks_for(int64_t threads_needed) { return unsigned((threads_needed + kThreads - 1) / kThreads); }

}  // namespace

void softmax_lanes(const Tensor& x, bool log, const Tensor& out) {
  const int64_t outer = x.sizes()[0], n = x.sizes()[1], inner = x.sizes()[2];
  cudaStream_t stream = prepare(x);
  dispatch_floating(x.dtype(), "softmax", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = static_cast<const T*>(x.raw_data());
    T* py = static_cast<T*>(out.raw_data());
    if (inner > 1) softmax_columns<<<blocks_for(outer * inner), kThreads, 0, stream>>>(px, outer, n, inner, log, py);
    else if (n <= kShortRow) softmax_rows<false><<<blocks_for(outer * 32), kThreads, 0, stream>>>(px, outer, n, log, py);
    else softmax_rows<true><<<unsigned(outer), kThreads, 0, stream>>>(px, outer, n, log, py);
  });
  check_launch("softmax");
}

void softmax_backward_lanes(const Tensor& grad, const Tensor& y, bool log, const Tensor& grad_in) {
  const int64_t outer = y.sizes()[0], n = y.sizes()[1], inner = y.sizes()[2];
  cudaStream_t stream = prepare(y);
  dispatch_floating(y.dtype(), "softmax_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pg = static_cast<const T*>(grad.raw_data());
    const T* py = static_cast<const T*>(y.raw_data());
    T* pi = static_cast<T*>(grad_in.raw_data());
    if (inner > 1)
      softmax_backward_columns<<<blocks_for(outer * inner), kThreads, 0, stream>>>(pg, py, outer, n, inner, log, pi);
    else if (n <= kShortRow)
      softmax_backward_rows<false><<<blocks_for(outer * 32), kThreads, 0, stream>>>(pg, py, outer, n, log, pi);
    else
      softmax_backward_rows<true><<<unsigned(outer), kThreads, 0, stream>>>(pg, py, outer, n, log, pi);
  });
  check_launch("softmax_backward");
}

}  // namespace hmr::kernels::cuda
