// CUDA reductions over a contiguous (outer, reduced, inner) block, with the reducers of
// kernels/reduce.h. Rows (inner == 1): a warp per short row or a block per long row, each
// thread striding over the row with four independent accumulators, then a warp-shuffle tree
// and one shared-memory step across warps. Columns (inner > 1): a thread per output, threads
// of a warp on neighbouring columns so every load is coalesced. When the outputs are too few
// to fill the GPU (a full sum of 2^24 elements has one), the reduced range is cut into
// segments reduced in parallel into a partial buffer, and a second launch folds the partials.
#include <cuda_runtime.h>

#include <algorithm>

#include "kernels/reduce.h"
#include "tensor/cuda_context.h"

namespace hmr::kernels::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int64_t kShortRow = 1024;      // rows up to this long get a warp, longer ones a block
constexpr int kMaxSegments = 1024;

void check_launch(const char* what) {
  cudaError_t err = cudaGetLastError();
  HMR_CHECK(err == cudaSuccess, CudaError, what, ": kernel launch failed: ", cudaGetErrorString(err));
}

cudaStream_t stream_of(const Tensor& t) { return static_cast<cudaStream_t>(hmr::cuda::current_stream(t.device().index)); }

int sm_count(const Tensor& t) {
  int n = 0;
  cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, t.device().index);
  return std::max(n, 1);
}

__device__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// ---- shuffles of every accumulator type ----------------------------------------------------
template <class T> __device__ T shfl_down(T v, int delta) { return __shfl_down_sync(0xffffffffu, v, delta); }
template <> __device__ bool shfl_down(bool v, int delta) { return __shfl_down_sync(0xffffffffu, int(v), delta) != 0; }
template <> __device__ uint8_t shfl_down(uint8_t v, int delta) {
  return uint8_t(__shfl_down_sync(0xffffffffu, int(v), delta));
}
template <class A> __device__ reducers::ValueIndex<A> shfl_down(reducers::ValueIndex<A> v, int delta) {
  return {shfl_down(v.value, delta), shfl_down(v.index, delta)};
}

template <class R> __device__ typename R::Acc warp_reduce(typename R::Acc v) {
  for (int d = 16; d > 0; d >>= 1) v = R::combine(v, shfl_down(v, d));
  return v;
}

// The block's combined value, valid in thread 0.
template <class R> __device__ typename R::Acc block_reduce(typename R::Acc v) {
  using Acc = typename R::Acc;
  __shared__ Acc per_warp[kWarps];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_reduce<R>(v);
  if (lane == 0) per_warp[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kWarps ? per_warp[lane] : R::identity();
    v = warp_reduce<R>(v);
  }
  return v;
}

// Folds x[begin..end) (positions along the reduced dim) with `step` between a thread's loads.
template <class R, class T>
__device__ typename R::Acc fold_strided(const T* x, int64_t begin, int64_t end, int64_t first, int step) {
  using Acc = typename R::Acc;
  Acc a0 = R::identity(), a1 = R::identity(), a2 = R::identity(), a3 = R::identity();
  int64_t r = begin + first;
  for (; r + 3 * step < end; r += 4 * step) {
    a0 = R::combine(a0, R::load(x[r], r));
    a1 = R::combine(a1, R::load(x[r + step], r + step));
    a2 = R::combine(a2, R::load(x[r + 2 * step], r + 2 * step));
    a3 = R::combine(a3, R::load(x[r + 3 * step], r + 3 * step));
  }
  for (; r < end; r += step) a0 = R::combine(a0, R::load(x[r], r));
  return R::combine(R::combine(a0, a1), R::combine(a2, a3));
}

// Writes an accumulator as the final value(s) or as a partial for the second pass.
template <class O> struct StoreValue {
  O* out;
  template <class Acc> __device__ void operator()(int64_t k, Acc a) const { out[k] = cast<O>(a); }
};
template <class T> struct StoreValueIndex {
  T* values;
  int64_t* indices;
  template <class Acc> __device__ void operator()(int64_t k, Acc a) const {
    values[k] = cast<T>(a.value);
    indices[k] = a.index;
  }
};
template <class Acc> struct StorePartial {
  Acc* out;
  __device__ void operator()(int64_t k, Acc a) const { out[k] = a; }
};

// Short rows: warp w of block b owns row b * kWarps + w.
template <class R, class T, class Store>
__global__ void warp_per_row(const T* x, int64_t rows, int64_t len, Store store) {
  int64_t row = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (row >= rows) return;
  auto acc = fold_strided<R>(x + row * len, 0, len, threadIdx.x % 32, 32);
  acc = warp_reduce<R>(acc);
  if (threadIdx.x % 32 == 0) store(row, acc);
}

// Long rows: block b owns segment b % segments of row b / segments and writes output
// row * segments + segment (the final value when segments == 1).
template <class R, class T, class Store>
__global__ void block_per_segment(const T* x, int64_t len, int segments, Store store) {
  int64_t row = blockIdx.x / segments;
  int seg = blockIdx.x % segments;
  int64_t per = (len + segments - 1) / segments;
  int64_t begin = seg * per, end = min64(len, begin + per);
  auto acc = fold_strided<R>(x + row * len, begin, end, threadIdx.x, blockDim.x);
  acc = block_reduce<R>(acc);
  if (threadIdx.x == 0) store(row * segments + seg, acc);
}

// Columns: thread (o, i) folds segment blockIdx.y of x[o, :, i] and writes output
// (o * segments + segment) * inner + i.
template <class R, class T, class Store>
__global__ void thread_per_column(const T* x, int64_t outer, int64_t len, int64_t inner, Store store) {
  int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= outer * inner) return;
  int64_t o = k / inner, i = k % inner;
  int segments = gridDim.y, seg = blockIdx.y;
  int64_t per = (len + segments - 1) / segments;
  int64_t begin = seg * per, end = min64(len, begin + per);
  using Acc = typename R::Acc;
  Acc acc = R::identity();
  const T* col = x + o * len * inner + i;
  for (int64_t r = begin; r < end; ++r) acc = R::combine(acc, R::load(col[r * inner], r));
  store((o * segments + seg) * inner + i, acc);
}

// Scratch memory for partials from the caching allocator (freed in stream order).
template <class Acc> Tensor partial_buffer(int64_t count, Device device) {
  return Tensor::empty({count * int64_t(sizeof(Acc))}, DType::U8, device);
}

template <class R, class T, class Store>
void launch_rows(const T* x, int64_t rows, int64_t len, int sms, const Tensor& like, cudaStream_t stream,
                 Store store) {
  using Acc = typename R::Acc;
  if (len <= kShortRow) {
    int64_t blocks = (rows + kWarps - 1) / kWarps;
    warp_per_row<R><<<unsigned(blocks), kThreads, 0, stream>>>(x, rows, len, store);
    check_launch("reduce (warp per row)");
    return;
  }
  // Enough blocks for ~4 per SM, each segment at least 16 elements per thread.
  int64_t want = (4 * int64_t(sms) + rows - 1) / rows;
  int segments = int(std::clamp<int64_t>(std::min(want, len / (16 * kThreads)), 1, kMaxSegments));
  if (segments == 1) {
    block_per_segment<R><<<unsigned(rows), kThreads, 0, stream>>>(x, len, 1, store);
    check_launch("reduce (block per row)");
    return;
  }
  Tensor scratch = partial_buffer<Acc>(rows * segments, like.device());
  Acc* partial = static_cast<Acc*>(scratch.raw_data());
  block_per_segment<R><<<unsigned(rows * segments), kThreads, 0, stream>>>(x, len, segments, StorePartial<Acc>{partial});
  check_launch("reduce (row segments)");
  warp_per_row<R><<<unsigned((rows + kWarps - 1) / kWarps), kThreads, 0, stream>>>(
      static_cast<const Acc*>(partial), rows, int64_t(segments), store);
  check_launch("reduce (row partials)");
}

template <class R, class T, class Store>
void launch_columns(const T* x, int64_t outer, int64_t len, int64_t inner, int sms, const Tensor& like,
                    cudaStream_t stream, Store store) {
  using Acc = typename R::Acc;
  const int64_t outputs = outer * inner;
  const unsigned blocks = unsigned((outputs + kThreads - 1) / kThreads);
  // Few outputs and long columns: split the columns so ~2048 threads run per SM, each
  // folding at least 32 rows.
  int64_t want = (2048 * int64_t(sms) + outputs - 1) / outputs;
  int segments = int(std::clamp<int64_t>(std::min(want, len / 32), 1, kMaxSegments));
  if (segments == 1) {
    thread_per_column<R><<<blocks, kThreads, 0, stream>>>(x, outer, len, inner, store);
    check_launch("reduce (columns)");
    return;
  }
  Tensor scratch = partial_buffer<Acc>(outputs * segments, like.device());
  Acc* partial = static_cast<Acc*>(scratch.raw_data());
  thread_per_column<R><<<dim3(blocks, unsigned(segments)), kThreads, 0, stream>>>(x, outer, len, inner,
                                                                                   StorePartial<Acc>{partial});
  check_launch("reduce (column segments)");
  thread_per_column<R><<<blocks, kThreads, 0, stream>>>(static_cast<const Acc*>(partial), outer,
                                                        int64_t(segments), inner, store);
  check_launch("reduce (column partials)");
}

template <class R, class T, class Store>
void launch(const Tensor& x, Store store) {
  const int64_t outer = x.sizes()[0], len = x.sizes()[1], inner = x.sizes()[2];
  hmr::cuda::set_device(x.device().index);
  const T* px = static_cast<const T*>(x.raw_data());
  if (inner == 1) launch_rows<R>(px, outer, len, sm_count(x), x, stream_of(x), store);
  else launch_columns<R>(px, outer, len, inner, sm_count(x), x, stream_of(x), store);
}

}  // namespace

void reduce_rows(ReduceOp op, const Tensor& x, const Tensor& out) {
  dispatch_reduce(op, x.dtype(), [&](auto rtag, auto ttag, auto otag) {
    using R = typename decltype(rtag)::type;
    using T = typename decltype(ttag)::type;
    using O = typename decltype(otag)::type;
    launch<R, T>(x, StoreValue<O>{static_cast<O*>(out.raw_data())});
  });
}

void arg_reduce_rows(ArgReduceOp op, const Tensor& x, const Tensor& values, const Tensor& indices) {
  dispatch_arg_reduce(op, x.dtype(), [&](auto rtag, auto ttag) {
    using R = typename decltype(rtag)::type;
    using T = typename decltype(ttag)::type;
    launch<R, T>(x, StoreValueIndex<T>{static_cast<T*>(values.raw_data()),
                                       static_cast<int64_t*>(indices.raw_data())});
  });
}

}  // namespace hmr::kernels::cuda
