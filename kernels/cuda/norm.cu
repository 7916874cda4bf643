// CUDA normalization over contiguous (outer, C, inner) blocks. Statistics: a block per
// (channel, chunk of the channel) runs Welford per thread, merges warps with shuffles (Chan's
// formula) and warp leaders through shared memory; a small kernel merges the chunks, so few long
// channels (batch norm) and many short rows (layer norm) both fill the device. Backward: the same
// split sums g and g * xhat per channel, then an elementwise pass writes grad_x; parameters
// shared across channels get a block each (group norm) or a warp lane per column (layer norm).
// 16-bit inputs keep f32 statistics.
#include <cuda_runtime.h>

#include <algorithm>

#include "kernels/cast.h"
#include "kernels/cuda/loops.cuh"
#include "kernels/norm.h"
#include "tensor/dispatch.h"

namespace hmr::kernels::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

template <class A>
__device__ void warp_merge(Welford<A>& w) {
  for (int d = 16; d > 0; d >>= 1) {
    A n = __shfl_xor_sync(0xffffffffu, w.count, d);
    A m = __shfl_xor_sync(0xffffffffu, w.mean, d);
    A q = __shfl_xor_sync(0xffffffffu, w.m2, d);
    w.merge(n, m, q);
  }
}

// The block's combined Welford state, valid in thread 0.
template <class A>
__device__ Welford<A> block_merge(Welford<A> w) {
  __shared__ A part[3][kWarps];
  warp_merge(w);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) {
    part[0][warp] = w.count;
    part[1][warp] = w.mean;
    part[2][warp] = w.m2;
  }
  __syncthreads();
  Welford<A> total;
  if (threadIdx.x == 0)
    for (int k = 0; k < kWarps; ++k) total.merge(part[0][k], part[1][k], part[2][k]);
  return total;
}

// Sums of two values over the block, valid in thread 0.
template <class A>
__device__ void block_sum2(A& a, A& b) {
  __shared__ A part[2][kWarps];
  for (int d = 16; d > 0; d >>= 1) {
    a += __shfl_xor_sync(0xffffffffu, a, d);
    b += __shfl_xor_sync(0xffffffffu, b, d);
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) {
    part[0][warp] = a;
    part[1][warp] = b;
  }
  __syncthreads();
  if (threadIdx.x != 0) return;
  a = part[0][0];
  b = part[1][0];
  for (int k = 1; k < kWarps; ++k) {
    a += part[0][k];
    b += part[1][k];
  }
}

struct Geometry {
  int64_t outer, channels, inner;
};

Geometry geometry_of(const Tensor& x) { return {x.sizes()[0], x.sizes()[1], x.sizes()[2]}; }

// Each channel's outer * inner elements are cut into gridDim.y chunks of per_chunk, a block per
// (channel, chunk), so a few long channels (batch norm's C = 64 over N * H * W) still fill the
// device; a second, tiny kernel merges the chunks' partial results per channel.
constexpr int64_t kMinPerChunk = kThreads * 16;

int64_t chunks_for(const Geometry& g, const Launch& l) {
  const int64_t count = g.outer * g.inner;
  const int64_t fill = (2 * l.max_blocks + g.channels - 1) / g.channels;  // about two waves of blocks
  const int64_t useful = (count + kMinPerChunk - 1) / kMinPerChunk;
  return std::max<int64_t>(1, std::min<int64_t>({fill, useful, 65535}));
}

// Calls f(offset, i) for this thread's elements of chunk blockIdx.y of channel c, where offset
// is the element's position in the (outer, C, inner) block and i its inner index. (o, i) of
// k = o * inner + i advance by carries rather than a 64-bit division per element.
template <class F>
__device__ void for_chunk_elements(const Geometry& g, int64_t c, int64_t per_chunk, const F& f) {
  const int64_t k_begin = int64_t(blockIdx.y) * per_chunk;
  const int64_t k_end = min(g.outer * g.inner, k_begin + per_chunk);
  int64_t k = k_begin + threadIdx.x;
  if (k >= k_end) return;
  int64_t o = k / g.inner, i = k - o * g.inner;
  const int64_t dq = kThreads / g.inner, dr = kThreads - dq * g.inner;
  for (; k < k_end; k += kThreads) {
    f((o * g.channels + c) * g.inner + i, i);
    o += dq;
    i += dr;
    if (i >= g.inner) {
      i -= g.inner;
      ++o;
    }
  }
}

// partial[(c * chunks + chunk) * 3 + {0, 1, 2}] = Welford (count, mean, m2) of the chunk.
template <class T, class A>
__global__ void __launch_bounds__(kThreads)
    stats_partial_kernel(const T* x, Geometry g, int64_t per_chunk, A* partial) {
  const int64_t c = blockIdx.x;
  Welford<A> w;
  for_chunk_elements(g, c, per_chunk, [&](int64_t off, int64_t) { w.add(cast<A>(x[off])); });
  w = block_merge(w);
  if (threadIdx.x != 0) return;
  A* p = partial + (c * gridDim.y + blockIdx.y) * 3;
  p[0] = w.count;
  p[1] = w.mean;
  p[2] = w.m2;
}

template <class A>
__global__ void stats_finish_kernel(const A* partial, int64_t channels, int64_t chunks, A eps, A* mean,
                                    A* invstd, A* var) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  Welford<A> w;
  for (int64_t k = 0; k < chunks; ++k) {
    const A* p = partial + (c * chunks + k) * 3;
    w.merge(p[0], p[1], p[2]);
  }
  const A v = w.variance();
  mean[c] = w.mean;
  invstd[c] = A(1) / math::sqrt(v + eps);
  if (var) var[c] = v;
}

template <class T, class A>
__global__ void __launch_bounds__(kThreads)
    apply_kernel(const T* x, Geometry g, const A* mean, const A* invstd, const T* w, const T* b,
                 AffineMap map, int64_t n, T* y) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    const int64_t r = e / g.inner, c = r % g.channels, i = e - r * g.inner;
    const int64_t p = affine_index(map, c, i, g.inner);
    A v = (cast<A>(x[e]) - mean[c]) * invstd[c];
    if (w) v *= cast<A>(w[p]);
    if (b) v += cast<A>(b[p]);
    y[e] = cast<T>(v);
  }
}

// partial[(c * chunks + chunk) * 2 + {0, 1}] = the chunk's sums of gw and gw * (x - mean), with
// gw = g * weight[p], or g alone when the weight is per channel (applied when finishing).
template <class T, class A>
__global__ void __launch_bounds__(kThreads)
    channel_sums_partial_kernel(const T* grad, const T* x, Geometry g, int64_t per_chunk, const A* mean,
                                const T* w, AffineMap map, bool per_channel, A* partial) {
  const int64_t c = blockIdx.x;
  const A m = mean[c];
  const bool weigh = w && !per_channel;
  A sg = A(0), sgx = A(0);
  for_chunk_elements(g, c, per_chunk, [&](int64_t off, int64_t i) {
    A gv = cast<A>(grad[off]);
    if (weigh) gv *= cast<A>(w[affine_index(map, c, i, g.inner)]);
    sg += gv;
    sgx += gv * (cast<A>(x[off]) - m);
  });
  block_sum2(sg, sgx);
  if (threadIdx.x != 0) return;
  A* p = partial + (c * gridDim.y + blockIdx.y) * 2;
  p[0] = sg;
  p[1] = sgx;
}

// sums[2c] = sum(g * w), sums[2c + 1] = sum(g * w * xhat); batch norm's parameter gradients are
// the unweighted sums.
template <class T, class A>
__global__ void channel_sums_finish_kernel(const A* partial, int64_t channels, int64_t chunks,
                                           const A* invstd, const T* w, bool per_channel, A* sums, T* gw,
                                           T* gb) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  A sg = A(0), sgx = A(0);
  for (int64_t k = 0; k < chunks; ++k) {
    sg += partial[(c * chunks + k) * 2];
    sgx += partial[(c * chunks + k) * 2 + 1];
  }
  sgx *= invstd[c];
  if (per_channel) {
    if (gb) gb[c] = cast<T>(sg);
    if (gw) gw[c] = cast<T>(sgx);
    if (w) {
      sg *= cast<A>(w[c]);
      sgx *= cast<A>(w[c]);
    }
  }
  sums[2 * c] = sg;
  sums[2 * c + 1] = sgx;
}

template <class T, class A>
__global__ void __launch_bounds__(kThreads)
    grad_input_kernel(const T* grad, const T* x, Geometry g, const A* mean, const A* invstd, const T* w,
                      AffineMap map, bool batch_stats, const A* sums, int64_t n, T* gx) {
  const A count = A(g.outer * g.inner);
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    const int64_t r = e / g.inner, c = r % g.channels, i = e - r * g.inner;
    A gv = cast<A>(grad[e]);
    if (w) gv *= cast<A>(w[affine_index(map, c, i, g.inner)]);
    const A xhat = (cast<A>(x[e]) - mean[c]) * invstd[c];
    A mean_g = A(0), mean_gx = A(0);
    if (batch_stats) {
      mean_g = sums[2 * c] / count;
      mean_gx = sums[2 * c + 1] / count;
    }
    gx[e] = cast<T>(norm_grad_input(gv, xhat, invstd[c], mean_g, mean_gx, batch_stats));
  }
}

// One block per parameter p shared across channels: every element (channel c of p's group,
// any o, i in p's span) adds g * xhat and g.
template <class T, class A>
__global__ void __launch_bounds__(kThreads)
    param_grads_kernel(const T* grad, const T* x, Geometry g, const A* mean, const A* invstd, AffineMap map,
                       T* gw, T* gb) {
  const int64_t p = blockIdx.x, per_group = g.inner / map.span;
  const int64_t group = p / per_group, i0 = (p % per_group) * map.span;
  const int64_t count = (g.channels / map.groups) * g.outer * map.span;
  A sw = A(0), sb = A(0);
  for (int64_t t = threadIdx.x; t < count; t += kThreads) {
    const int64_t rest = t / map.span, o = rest % g.outer;
    const int64_t c = group + (rest / g.outer) * map.groups;
    const int64_t off = (o * g.channels + c) * g.inner + i0 + t % map.span;
    const A gv = cast<A>(grad[off]);
    sw += gv * (cast<A>(x[off]) - mean[c]) * invstd[c];
    sb += gv;
  }
  block_sum2(sw, sb);
  if (threadIdx.x != 0) return;
  if (gw) gw[p] = cast<T>(sw);
  if (gb) gb[p] = cast<T>(sb);
}

// Layer norm's parameter gradients: parameter p is column p of the (rows, inner) block. A warp
// reads 32 neighbouring columns of a row (coalesced), the block's warps take different rows, and
// gridDim.y chunks of rows write partial sums partial[(chunk * 2 + {0, 1}) * inner + p].
template <class T, class A>
__global__ void __launch_bounds__(kThreads)
    column_grads_partial_kernel(const T* grad, const T* x, Geometry g, int64_t rows_per_chunk, const A* mean,
                                const A* invstd, A* partial) {
  __shared__ A part[2][kWarps][32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t p = int64_t(blockIdx.x) * 32 + lane, rows = g.outer * g.channels;
  const int64_t r_begin = int64_t(blockIdx.y) * rows_per_chunk, r_end = min(rows, r_begin + rows_per_chunk);
  A sw = A(0), sb = A(0);
  if (p < g.inner)
    for (int64_t r = r_begin + warp; r < r_end; r += kWarps) {
      const int64_t c = r % g.channels, off = r * g.inner + p;
      const A gv = cast<A>(grad[off]);
      sw += gv * (cast<A>(x[off]) - mean[c]) * invstd[c];
      sb += gv;
    }
  part[0][warp][lane] = sw;
  part[1][warp][lane] = sb;
  __syncthreads();
  if (warp != 0 || p >= g.inner) return;
  for (int k = 1; k < kWarps; ++k) {
    sw += part[0][k][lane];
    sb += part[1][k][lane];
  }
  partial[(int64_t(blockIdx.y) * 2) * g.inner + p] = sw;
  partial[(int64_t(blockIdx.y) * 2 + 1) * g.inner + p] = sb;
}

template <class T, class A>
__global__ void column_grads_finish_kernel(const A* partial, int64_t inner, int64_t chunks, T* gw, T* gb) {
  const int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p >= inner) return;
  A sw = A(0), sb = A(0);
  for (int64_t k = 0; k < chunks; ++k) {
    sw += partial[(k * 2) * inner + p];
    sb += partial[(k * 2 + 1) * inner + p];
  }
  if (gw) gw[p] = cast<T>(sw);
  if (gb) gb[p] = cast<T>(sb);
}

template <class T>
const T* in(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.raw_data()) : nullptr;
}
template <class T>
T* out(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.raw_data()) : nullptr;
}

}  // namespace

void norm_stats(const Tensor& x, double eps, const Tensor& mean, const Tensor& invstd, const Tensor& var) {
  const Geometry g = geometry_of(x);
  if (g.channels == 0) return;
  const Launch l = launch_on(x.device().index);
  const int64_t chunks = chunks_for(g, l), per_chunk = (g.outer * g.inner + chunks - 1) / chunks;
  const DType sd = norm_stats_dtype(x.dtype());
  Tensor partial = Tensor::empty({g.channels, chunks, 3}, sd, x.device());
  dispatch_floating(x.dtype(), "norm_stats", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    stats_partial_kernel<T, A><<<dim3(unsigned(g.channels), unsigned(chunks)), kThreads, 0, l.stream>>>(
        in<T>(x), g, per_chunk, out<A>(partial));
    stats_finish_kernel<A><<<unsigned((g.channels + kThreads - 1) / kThreads), kThreads, 0, l.stream>>>(
        in<A>(partial), g.channels, chunks, A(eps), out<A>(mean), out<A>(invstd), out<A>(var));
  });
  check_launch("norm_stats");
}

void norm_apply(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight,
                const Tensor& bias, AffineMap map, const Tensor& y) {
  const Geometry g = geometry_of(x);
  const Launch l = launch_on(x.device().index);
  dispatch_floating(x.dtype(), "norm_apply", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    apply_kernel<T, A><<<l.grid(x.numel()), kBlockSize, 0, l.stream>>>(
        in<T>(x), g, in<A>(mean), in<A>(invstd), in<T>(weight), in<T>(bias), map, x.numel(), out<T>(y));
  });
  check_launch("norm_apply");
}

void norm_backward(const Tensor& grad, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                   const Tensor& weight, AffineMap map, bool batch_stats, const Tensor& grad_x,
                   const Tensor& grad_weight, const Tensor& grad_bias) {
  const Geometry g = geometry_of(x);
  if (g.channels == 0) return;
  const bool per_channel = map.per_channel(g.channels, g.inner);
  const bool params = grad_weight.defined() || grad_bias.defined();
  const Launch l = launch_on(x.device().index);
  const int64_t chunks = chunks_for(g, l), per_chunk = (g.outer * g.inner + chunks - 1) / chunks;
  Tensor sums = Tensor::empty({2 * g.channels}, norm_stats_dtype(x.dtype()), x.device());
  Tensor partial = Tensor::empty({g.channels, chunks, 2}, norm_stats_dtype(x.dtype()), x.device());
  dispatch_floating(x.dtype(), "norm_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    const T *pg = in<T>(grad), *px = in<T>(x), *pw = in<T>(weight);
    const A *pm = in<A>(mean), *pi = in<A>(invstd);
    if ((grad_x.defined() && batch_stats) || (per_channel && params)) {
      channel_sums_partial_kernel<T, A>
          <<<dim3(unsigned(g.channels), unsigned(chunks)), kThreads, 0, l.stream>>>(
              pg, px, g, per_chunk, pm, pw, map, per_channel, out<A>(partial));
      channel_sums_finish_kernel<T, A>
          <<<unsigned((g.channels + kThreads - 1) / kThreads), kThreads, 0, l.stream>>>(
              in<A>(partial), g.channels, chunks, pi, pw, per_channel, out<A>(sums), out<T>(grad_weight),
              out<T>(grad_bias));
    }
    if (grad_x.defined())
      grad_input_kernel<T, A><<<l.grid(x.numel()), kBlockSize, 0, l.stream>>>(
          pg, px, g, pm, pi, pw, map, batch_stats, in<A>(sums), x.numel(), out<T>(grad_x));
    if (!per_channel && params && map.groups == 1 && map.span == 1) {
      const int64_t rows = g.outer * g.channels, column_blocks = (g.inner + 31) / 32;
      const int64_t chunks =
          std::max<int64_t>(1, std::min<int64_t>({(2 * l.max_blocks + column_blocks - 1) / column_blocks,
                                                  (rows + 63) / 64, 65535}));
      const int64_t rows_per_chunk = (rows + chunks - 1) / chunks;
      Tensor columns = Tensor::empty({chunks, 2, g.inner}, norm_stats_dtype(x.dtype()), x.device());
      column_grads_partial_kernel<T, A>
          <<<dim3(unsigned(column_blocks), unsigned(chunks)), kThreads, 0, l.stream>>>(
              pg, px, g, rows_per_chunk, pm, pi, out<A>(columns));
      column_grads_finish_kernel<T, A>
          <<<unsigned((g.inner + kThreads - 1) / kThreads), kThreads, 0, l.stream>>>(
              in<A>(columns), g.inner, chunks, out<T>(grad_weight), out<T>(grad_bias));
    } else if (!per_channel && params) {
      const int64_t count = map.groups * (g.inner / map.span);
      param_grads_kernel<T, A><<<unsigned(count), kThreads, 0, l.stream>>>(
          pg, px, g, pm, pi, map, out<T>(grad_weight), out<T>(grad_bias));
    }
  });
  check_launch("norm_backward");
}

}  // namespace hmr::kernels::cuda
