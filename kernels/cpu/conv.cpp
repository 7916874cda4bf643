// CPU convolution by im2col + Eigen GEMM, and pooling loops parallel over N * C planes.
// Threads: with at least as many samples as threads, each thread takes whole samples
// (im2col into its own cached buffer, then a single-threaded GEMM while the columns are still
// in cache); with fewer, im2col splits over channels and Eigen threads the one big product.
// The weight gradient is one GEMM over the whole batch (columns of all samples side by side),
// not one small product per sample. A 1x1 stride-1 unpadded convolution reads its input as
// the column matrix directly. Column buffers are cached per thread and never zero-filled:
// fresh large allocations cost page faults that were measured to exceed the GEMM itself.
#include "kernels/conv.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "kernels/cast.h"
#include "tensor/dispatch.h"
#include "tensor/parallel.h"

namespace hmr::kernels::cpu {

namespace {

// The weight gradient's batched column matrix holds at most this many bytes; larger batches
// are split into chunks whose products accumulate.
constexpr int64_t kColumnBudgetBytes = int64_t{64} << 20;

// A per-thread buffer of at least n elements, kept between calls (slot: two live at once).
// Contents are garbage: callers write before they read.
template <class T>
T* workspace(int slot, int64_t n) {
  struct Buffer {
    std::unique_ptr<std::byte[]> data;
    int64_t bytes = 0;
  };
  thread_local Buffer buffers[2];
  Buffer& b = buffers[slot];
  const int64_t bytes = std::max<int64_t>(n, 1) * static_cast<int64_t>(sizeof(T));
  if (bytes > b.bytes) {
    b.data.reset();
    b.data.reset(new std::byte[bytes]);
    b.bytes = bytes;
  }
  return reinterpret_cast<T*>(b.data.get());
}

template <class F>
void dispatch_conv(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::F32:
      return f(type_tag<float>{});
    case DType::F64:
      return f(type_tag<double>{});
    default:
      break;
  }
  throw DTypeError(str(op, ": the CPU backend supports float32 and float64 but found ", t));
}

template <class T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstMap = Eigen::Map<const RowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using MutMap = Eigen::Map<RowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

// C (m x n, ldc) = op(A) op(B) (+ C when accumulate), row-major. Eigen threads it when called
// outside a parallel region and runs it on the calling thread inside one.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
          int64_t ldb, T* c, int64_t ldc, bool accumulate) {
  ConstMap<T> am(a, trans_a ? k : m, trans_a ? m : k, Eigen::OuterStride<>(lda));
  ConstMap<T> bm(b, trans_b ? n : k, trans_b ? k : n, Eigen::OuterStride<>(ldb));
  MutMap<T> cm(c, m, n, Eigen::OuterStride<>(ldc));
  auto run = [&](const auto& x, const auto& y) {
    if (accumulate)
      cm.noalias() += x * y;
    else
      cm.noalias() = x * y;
  };
  if (!trans_a && !trans_b)
    run(am, bm);
  else if (!trans_a)
    run(am, bm.transpose());
  else if (!trans_b)
    run(am.transpose(), bm);
  else
    run(am.transpose(), bm.transpose());
}

// The sizes of one convolution seen as GEMMs, per group: weight (out_per_group, rows), column
// matrix (rows, cols) per sample.
struct ConvMatrices {
  int64_t out_per_group, in_per_group, rows, cols;
  int64_t sample_rows;  // in_channels * kH * kW: the column matrix of all groups
  int64_t in_sample, out_sample;
  bool direct;  // the input is its own column matrix (1x1, stride 1, no padding)

  explicit ConvMatrices(const ConvGeometry& g)
      : out_per_group(g.out_channels / g.groups),
        in_per_group(g.in_channels / g.groups),
        rows(in_per_group * g.kernel_h * g.kernel_w),
        cols(g.out_h * g.out_w),
        sample_rows(g.in_channels * g.kernel_h * g.kernel_w),
        in_sample(g.in_channels * g.in_h * g.in_w),
        out_sample(g.out_channels * g.out_h * g.out_w),
        direct(g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 &&
               g.pad_w == 0) {}
};

// The output columns [lo, hi) whose input column ow * stride - pad + offset lies in [0, in).
struct ValidRange {
  int64_t lo, hi;
};
ValidRange valid_range(int64_t out, int64_t in, int64_t stride, int64_t offset) {
  // ow * stride + offset >= 0  and  ow * stride + offset <= in - 1
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = in - 1 - offset < 0 ? 0 : (in - 1 - offset) / stride + 1;
  lo = std::min(lo, out);
  hi = std::clamp(hi, lo, out);
  return {lo, hi};
}

// Rows [c0 * taps, c1 * taps) of one sample's column matrix (row stride ld) <- the receptive
// fields of channels [c0, c1) of x (one sample, C x H x W); zero padding. Runs of valid
// columns are copied (stride 1) or gathered (stride 2: 1x1 downsampling), never tested per
// element.
template <class T>
void im2col_channels(const T* x, const ConvGeometry& g, int64_t c0, int64_t c1, T* col, int64_t ld) {
  const int64_t plane = g.in_h * g.in_w, taps = g.kernel_h * g.kernel_w;
  for (int64_t c = c0; c < c1; ++c) {
    const T* src = x + c * plane;
    for (int64_t tap = 0; tap < taps; ++tap) {
      const int64_t ki = tap / g.kernel_w, kj = tap % g.kernel_w;
      const ValidRange r = valid_range(g.out_w, g.in_w, g.stride_w, kj * g.dilation_w - g.pad_w);
      const int64_t offset = r.lo * g.stride_w - g.pad_w + kj * g.dilation_w;
      T* dst = col + (c * taps + tap) * ld;
      for (int64_t oh = 0; oh < g.out_h; ++oh, dst += g.out_w) {
        const int64_t ih = oh * g.stride_h - g.pad_h + ki * g.dilation_h;
        if (ih < 0 || ih >= g.in_h) {
          std::fill(dst, dst + g.out_w, T(0));
          continue;
        }
        std::fill(dst, dst + r.lo, T(0));
        const T* row = src + ih * g.in_w + offset;
        if (g.stride_w == 1)
          std::memcpy(dst + r.lo, row, static_cast<size_t>(r.hi - r.lo) * sizeof(T));
        else
          for (int64_t ow = r.lo; ow < r.hi; ++ow) dst[ow] = row[(ow - r.lo) * g.stride_w];
        std::fill(dst + r.hi, dst + g.out_w, T(0));
      }
    }
  }
}

// Channels [c0, c1) of x (one sample) <- the sum of col's entries over the receptive fields
// that read each pixel: the adjoint of im2col. Each plane is zeroed once, then accumulated.
template <class T>
void col2im_channels(const T* col, const ConvGeometry& g, int64_t c0, int64_t c1, T* x) {
  const int64_t plane = g.in_h * g.in_w, cols = g.out_h * g.out_w, taps = g.kernel_h * g.kernel_w;
  for (int64_t c = c0; c < c1; ++c) {
    T* dst = x + c * plane;
    std::fill(dst, dst + plane, T(0));
    for (int64_t tap = 0; tap < taps; ++tap) {
      const int64_t ki = tap / g.kernel_w, kj = tap % g.kernel_w;
      const ValidRange r = valid_range(g.out_w, g.in_w, g.stride_w, kj * g.dilation_w - g.pad_w);
      const int64_t offset = r.lo * g.stride_w - g.pad_w + kj * g.dilation_w;
      const T* src = col + (c * taps + tap) * cols;
      for (int64_t oh = 0; oh < g.out_h; ++oh, src += g.out_w) {
        const int64_t ih = oh * g.stride_h - g.pad_h + ki * g.dilation_h;
        if (ih < 0 || ih >= g.in_h) continue;
        T* row = dst + ih * g.in_w + offset;
        if (g.stride_w == 1)
          for (int64_t ow = r.lo; ow < r.hi; ++ow) row[ow - r.lo] += src[ow];
        else
          for (int64_t ow = r.lo; ow < r.hi; ++ow) row[(ow - r.lo) * g.stride_w] += src[ow];
      }
    }
  }
}

// Whole samples per thread when there are enough of them (see the file comment).
bool per_sample_threads(const ConvGeometry& g) { return g.batch > 1 && g.batch >= num_threads(); }

// Channel-parallel im2col/col2im of one sample, for the few-samples path.
template <class T>
void im2col_sample(const T* x, const ConvGeometry& g, T* col) {
  const int64_t work = g.kernel_h * g.kernel_w * g.out_h * g.out_w;
  parallel_for(0, g.in_channels, std::max<int64_t>(1, 32768 / std::max<int64_t>(work, 1)),
               [&](int64_t b, int64_t e) { im2col_channels(x, g, b, e, col, g.out_h * g.out_w); });
}
template <class T>
void col2im_sample(const T* col, const ConvGeometry& g, T* x) {
  const int64_t work = g.kernel_h * g.kernel_w * g.out_h * g.out_w;
  parallel_for(0, g.in_channels, std::max<int64_t>(1, 32768 / std::max<int64_t>(work, 1)),
               [&](int64_t b, int64_t e) { col2im_channels(col, g, b, e, x); });
}

// Runs f(n, col) for every sample: in parallel over samples (col: the thread's own buffer,
// GEMMs single-threaded) or one sample at a time (channel-parallel copies, threaded GEMMs).
template <class T, class F>
void for_each_sample(const ConvGeometry& g, const ConvMatrices& mat, const F& f) {
  const int64_t col_size = mat.direct ? 0 : mat.sample_rows * mat.cols;
  if (per_sample_threads(g)) {
    parallel_for(0, g.batch, 1, [&](int64_t b, int64_t e) {
      T* col = workspace<T>(0, col_size);
      for (int64_t n = b; n < e; ++n) f(n, col, false);
    });
  } else {
    T* col = workspace<T>(0, col_size);
    for (int64_t n = 0; n < g.batch; ++n) f(n, col, true);
  }
}

}  // namespace

// y[n, group] (out_per_group, cols) = w[group] (out_per_group, rows) @ col[n, group] (rows, cols).
void conv2d_forward(const Tensor& x, const Tensor& w, const ConvGeometry& g, const Tensor& y) {
  dispatch_conv(x.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const ConvMatrices mat(g);
    const T *px = x.data<T>(), *pw = w.data<T>();
    T* py = y.data<T>();
    if (!per_sample_threads(g)) Eigen::setNbThreads(num_threads());
    for_each_sample<T>(g, mat, [&](int64_t n, T* col, bool threaded) {
      const T* xs = px + n * mat.in_sample;
      if (!mat.direct) {
        if (threaded)
          im2col_sample(xs, g, col);
        else
          im2col_channels(xs, g, 0, g.in_channels, col, mat.cols);
      }
      const T* cols = mat.direct ? xs : col;
      for (int64_t gi = 0; gi < g.groups; ++gi)
        gemm<T>(false, false, mat.out_per_group, mat.cols, mat.rows, pw + gi * mat.out_per_group * mat.rows,
                mat.rows, cols + gi * mat.rows * mat.cols, mat.cols,
                py + n * mat.out_sample + gi * mat.out_per_group * mat.cols, mat.cols, false);
    });
  });
}

// col[n, group] (rows, cols) = w[group]^T (rows, out_per_group) @ grad_y[n, group], then col2im
// (or the product straight into grad_x for a direct convolution).
void conv2d_backward_input(const Tensor& grad_y, const Tensor& w, const ConvGeometry& g,
                           const Tensor& grad_x) {
  dispatch_conv(grad_y.dtype(), "conv2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const ConvMatrices mat(g);
    const T *pg = grad_y.data<T>(), *pw = w.data<T>();
    T* px = grad_x.data<T>();
    if (!per_sample_threads(g)) Eigen::setNbThreads(num_threads());
    for_each_sample<T>(g, mat, [&](int64_t n, T* col, bool threaded) {
      T* xs = px + n * mat.in_sample;
      T* cols = mat.direct ? xs : col;
      for (int64_t gi = 0; gi < g.groups; ++gi)
        gemm<T>(true, false, mat.rows, mat.cols, mat.out_per_group, pw + gi * mat.out_per_group * mat.rows,
                mat.rows, pg + n * mat.out_sample + gi * mat.out_per_group * mat.cols, mat.cols,
                cols + gi * mat.rows * mat.cols, mat.cols, false);
      if (!mat.direct) {
        if (threaded)
          col2im_sample(col, g, xs);
        else
          col2im_channels(col, g, 0, g.in_channels, xs);
      }
    });
  });
}

// grad_w[group] (out_per_group, rows) = grad_y[group] (out_per_group, N * cols) @
// col[group] (rows, N * cols)^T: the samples' columns side by side make the sum over samples
// the inner dimension of one GEMM. grad_y is regrouped channel-major for it (a copy the size
// of grad_y); a batch of one needs no copies. Batches whose columns exceed the budget run in
// chunks that accumulate.
void conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, const ConvGeometry& g,
                            const Tensor& grad_w) {
  dispatch_conv(grad_y.dtype(), "conv2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const ConvMatrices mat(g);
    const T *pg = grad_y.data<T>(), *px = x.data<T>();
    T* pw = grad_w.data<T>();
    const int64_t per_sample = (mat.sample_rows + g.out_channels) * mat.cols * static_cast<int64_t>(sizeof(T));
    const int64_t chunk = std::clamp<int64_t>(kColumnBudgetBytes / std::max<int64_t>(per_sample, 1), 1, g.batch);
    for (int64_t n0 = 0; n0 < g.batch; n0 += chunk) {
      const int64_t count = std::min(chunk, g.batch - n0), ld = count * mat.cols;
      const T* cols;
      const T* gy;
      if (count == 1) {
        gy = pg + n0 * mat.out_sample;
        if (mat.direct) {
          cols = px + n0 * mat.in_sample;
        } else {
          T* col = workspace<T>(0, mat.sample_rows * mat.cols);
          im2col_sample(px + n0 * mat.in_sample, g, col);
          cols = col;
        }
      } else {
        T* col = workspace<T>(0, mat.sample_rows * ld);
        T* gyt = workspace<T>(1, g.out_channels * ld);
        const int64_t work = mat.cols * (g.kernel_h * g.kernel_w + 1);
        // Tasks: (sample, channel) pairs; each copies its column rows and grad_y row.
        parallel_for(0, count * g.in_channels, std::max<int64_t>(1, 32768 / std::max<int64_t>(work, 1)),
                     [&](int64_t b, int64_t e) {
                       for (int64_t t = b; t < e; ++t) {
                         const int64_t s = t / g.in_channels, c = t % g.in_channels;
                         im2col_channels(px + (n0 + s) * mat.in_sample, g, c, c + 1, col + s * mat.cols, ld);
                       }
                     });
        parallel_for(0, count * g.out_channels, std::max<int64_t>(1, 32768 / std::max<int64_t>(mat.cols, 1)),
                     [&](int64_t b, int64_t e) {
                       for (int64_t t = b; t < e; ++t) {
                         const int64_t s = t / g.out_channels, k = t % g.out_channels;
                         std::memcpy(gyt + k * ld + s * mat.cols, pg + (n0 + s) * mat.out_sample + k * mat.cols,
                                     static_cast<size_t>(mat.cols) * sizeof(T));
                       }
                     });
        cols = col, gy = gyt;
      }
      Eigen::setNbThreads(num_threads());
      for (int64_t gi = 0; gi < g.groups; ++gi)
        gemm<T>(false, true, mat.out_per_group, mat.rows, ld, gy + gi * mat.out_per_group * ld, ld,
                cols + gi * mat.rows * ld, ld, pw + gi * mat.out_per_group * mat.rows, mat.rows, n0 > 0);
    }
  });
}

void add_channel_bias(const Tensor& y, const Tensor& bias) {
  dispatch_conv(y.dtype(), "conv bias", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t channels = y.size(1), plane = y.size(2) * y.size(3);
    T* py = y.data<T>();
    const T* pb = bias.data<T>();
    parallel_for(0, y.size(0) * channels, std::max<int64_t>(1, 32768 / std::max<int64_t>(plane, 1)),
                 [&](int64_t b, int64_t e) {
                   for (int64_t p = b; p < e; ++p) {
                     const T v = pb[p % channels];
                     for (T *q = py + p * plane, *end = q + plane; q < end; ++q) *q += v;
                   }
                 });
  });
}

// ---- pooling --------------------------------------------------------------------------------

namespace {

// Pools accumulate 16-bit inputs in float.
template <class T>
using PoolAcc = std::conditional_t<std::is_same_v<T, double>, double, float>;

// Runs f(plane) for every plane in parallel; grain keeps tiny planes from paying for threads.
template <class F>
void for_each_plane(const PoolGeometry& g, int64_t work_per_plane, const F& f) {
  parallel_for(0, g.planes, std::max<int64_t>(1, 16384 / std::max<int64_t>(work_per_plane, 1)),
               [&](int64_t b, int64_t e) {
                 for (int64_t p = b; p < e; ++p) f(p);
               });
}

}  // namespace

void max_pool2d_forward(const Tensor& x, const PoolGeometry& g, const Tensor& out, const Tensor& indices) {
  dispatch_floating(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = PoolAcc<T>;
    const int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    int64_t* pi = indices.data<int64_t>();
    // The window is clipped to the input once per output (no per-tap bounds tests); scanning
    // row-major with a strict ">" keeps torch's first maximum.
    for_each_plane(g, out_plane * g.kernel_h * g.kernel_w, [&](int64_t p) {
      const T* src = px + p * in_plane;
      T* dst = po + p * out_plane;
      int64_t* dst_index = pi + p * out_plane;
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        const int64_t h0 = oh * g.stride_h - g.pad_h;
        const int64_t ki0 = h0 >= 0 ? 0 : (-h0 + g.dilation_h - 1) / g.dilation_h;
        const int64_t ki1 = std::min(g.kernel_h, h0 >= g.in_h ? 0 : (g.in_h - 1 - h0) / g.dilation_h + 1);
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const int64_t w0 = ow * g.stride_w - g.pad_w;
          const int64_t kj0 = w0 >= 0 ? 0 : (-w0 + g.dilation_w - 1) / g.dilation_w;
          const int64_t kj1 = std::min(g.kernel_w, w0 >= g.in_w ? 0 : (g.in_w - 1 - w0) / g.dilation_w + 1);
          A best = -std::numeric_limits<A>::infinity();
          int64_t best_index = -1;
          for (int64_t ki = ki0; ki < ki1; ++ki) {
            const int64_t row = (h0 + ki * g.dilation_h) * g.in_w;
            for (int64_t kj = kj0; kj < kj1; ++kj) {
              const int64_t at = row + w0 + kj * g.dilation_w;
              const A v = cast<A>(src[at]);
              // Greater, or NaN (so the last NaN wins, as in torch), or the first tap. Written
              // as selects: a maximum's position in real data is unpredictable for a branch.
              const bool take = v > best || v != v || best_index < 0;
              best = take ? v : best;
              best_index = take ? at : best_index;
            }
          }
          dst[oh * g.out_w + ow] = cast<T>(best);
          dst_index[oh * g.out_w + ow] = best_index;
        }
      }
    });
  });
}

void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const PoolGeometry& g,
                         const Tensor& grad_x) {
  dispatch_floating(grad_x.dtype(), "max_pool2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = PoolAcc<T>;
    const int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
    const T* pg = grad_out.data<T>();
    const int64_t* pi = indices.data<int64_t>();
    T* px = grad_x.data<T>();
    for_each_plane(g, out_plane + in_plane, [&](int64_t p) {
      T* dst = px + p * in_plane;
      std::fill(dst, dst + in_plane, T(0));
      for (int64_t o = 0; o < out_plane; ++o) {
        const int64_t i = pi[p * out_plane + o];
        if (i >= 0) dst[i] = cast<T>(cast<A>(dst[i]) + cast<A>(pg[p * out_plane + o]));
      }
    });
  });
}

void avg_pool2d_forward(const Tensor& x, const PoolGeometry& g, bool count_include_pad, const Tensor& out) {
  dispatch_floating(x.dtype(), "avg_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = PoolAcc<T>;
    const int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for_each_plane(g, out_plane * g.kernel_h * g.kernel_w, [&](int64_t p) {
      const T* src = px + p * in_plane;
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
          A sum = A(0);
          for (int64_t ih = std::max<int64_t>(h0, 0); ih < std::min(h0 + g.kernel_h, g.in_h); ++ih)
            for (int64_t iw = std::max<int64_t>(w0, 0); iw < std::min(w0 + g.kernel_w, g.in_w); ++iw)
              sum += cast<A>(src[ih * g.in_w + iw]);
          const int64_t divisor = avg_pool_divisor(g, oh, ow, count_include_pad);
          po[p * out_plane + oh * g.out_w + ow] = cast<T>(divisor > 0 ? sum / A(divisor) : A(0));
        }
    });
  });
}

void avg_pool2d_backward(const Tensor& grad_out, const PoolGeometry& g, bool count_include_pad,
                         const Tensor& grad_x) {
  dispatch_floating(grad_x.dtype(), "avg_pool2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = PoolAcc<T>;
    const int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
    const T* pg = grad_out.data<T>();
    T* px = grad_x.data<T>();
    for_each_plane(g, out_plane * g.kernel_h * g.kernel_w, [&](int64_t p) {
      std::vector<A> acc(in_plane, A(0));
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const int64_t divisor = avg_pool_divisor(g, oh, ow, count_include_pad);
          if (divisor <= 0) continue;
          const A share = cast<A>(pg[p * out_plane + oh * g.out_w + ow]) / A(divisor);
          const int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
          for (int64_t ih = std::max<int64_t>(h0, 0); ih < std::min(h0 + g.kernel_h, g.in_h); ++ih)
            for (int64_t iw = std::max<int64_t>(w0, 0); iw < std::min(w0 + g.kernel_w, g.in_w); ++iw)
              acc[ih * g.in_w + iw] += share;
        }
      for (int64_t i = 0; i < in_plane; ++i) px[p * in_plane + i] = cast<T>(acc[i]);
    });
  });
}

void adaptive_avg_pool2d_forward(const Tensor& x, const PoolGeometry& g, const Tensor& out) {
  dispatch_floating(x.dtype(), "adaptive_avg_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = PoolAcc<T>;
    const int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for_each_plane(g, in_plane + out_plane, [&](int64_t p) {
      const T* src = px + p * in_plane;
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        const int64_t h0 = adaptive_start(oh, g.in_h, g.out_h), h1 = adaptive_end(oh, g.in_h, g.out_h);
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const int64_t w0 = adaptive_start(ow, g.in_w, g.out_w), w1 = adaptive_end(ow, g.in_w, g.out_w);
          A sum = A(0);
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) sum += cast<A>(src[ih * g.in_w + iw]);
          po[p * out_plane + oh * g.out_w + ow] = cast<T>(sum / A((h1 - h0) * (w1 - w0)));
        }
      }
    });
  });
}

void adaptive_avg_pool2d_backward(const Tensor& grad_out, const PoolGeometry& g, const Tensor& grad_x) {
  dispatch_floating(grad_x.dtype(), "adaptive_avg_pool2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = PoolAcc<T>;
    const int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
    const T* pg = grad_out.data<T>();
    T* px = grad_x.data<T>();
    for_each_plane(g, in_plane + out_plane, [&](int64_t p) {
      std::vector<A> acc(in_plane, A(0));
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        const int64_t h0 = adaptive_start(oh, g.in_h, g.out_h), h1 = adaptive_end(oh, g.in_h, g.out_h);
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const int64_t w0 = adaptive_start(ow, g.in_w, g.out_w), w1 = adaptive_end(ow, g.in_w, g.out_w);
          const A share = cast<A>(pg[p * out_plane + oh * g.out_w + ow]) / A((h1 - h0) * (w1 - w0));
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) acc[ih * g.in_w + iw] += share;
        }
      }
      for (int64_t i = 0; i < in_plane; ++i) px[p * in_plane + i] = cast<T>(acc[i]);
    });
  });
}

}  // namespace hmr::kernels::cpu
