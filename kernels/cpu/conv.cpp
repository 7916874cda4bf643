// CPU convolution by im2col + the batched GEMM of kernels/linalg (Eigen), and pooling loops
// parallel over N * C planes. A 1x1 stride-1 unpadded convolution reads its input as the
// column matrix directly. Threads: im2col/col2im split over (sample, channel) with OpenMP; each
// GEMM call covers a chunk of samples as one batch, which the GEMM splits across threads (one
// product per thread, Eigen single-threaded inside) or, for a batch smaller than the thread
// count, lets Eigen thread each product. No GEMM is issued from inside a parallel region, so
// OpenMP and Eigen never nest.
#include "kernels/conv.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "kernels/cast.h"
#include "kernels/linalg.h"
#include "tensor/dispatch.h"
#include "tensor/parallel.h"

namespace hmr::kernels::cpu {

namespace {

// im2col chunks hold at most this many bytes. Staying under glibc's largest mmap threshold
// (32 MiB) lets malloc reuse the same heap memory call after call; above it every call maps
// fresh pages and page faults cost more than the GEMM (measured: 3x slower on ResNet shapes).
constexpr int64_t kColumnBudgetBytes = int64_t{16} << 20;

// Scratch whose elements are written before they are read: no zero fill.
template <class T>
std::unique_ptr<T[]> scratch(int64_t n) {
  return std::unique_ptr<T[]>(n > 0 ? new T[n] : nullptr);
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

// The sizes of one convolution seen as GEMMs, per group: weight (out_per_group, rows), column
// matrix (rows, cols) per sample.
struct ConvMatrices {
  int64_t out_per_group, in_per_group, rows, cols;
  int64_t sample_rows;  // in_channels * kH * kW: the column matrix of all groups
  bool direct;          // the input is its own column matrix (1x1, stride 1, no padding)

  explicit ConvMatrices(const ConvGeometry& g)
      : out_per_group(g.out_channels / g.groups),
        in_per_group(g.in_channels / g.groups),
        rows(in_per_group * g.kernel_h * g.kernel_w),
        cols(g.out_h * g.out_w),
        sample_rows(g.in_channels * g.kernel_h * g.kernel_w),
        direct(g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 &&
               g.pad_w == 0) {}

  int64_t chunk(int64_t batch, int64_t itemsize) const {
    if (direct) return batch;
    return std::clamp<int64_t>(kColumnBudgetBytes / std::max<int64_t>(sample_rows * cols * itemsize, 1), 1,
                               batch);
  }
};

// col (count, C * kH * kW, oH * oW) <- the receptive fields of x (count, C, H, W); zero padding.
template <class T>
void im2col(const T* x, int64_t count, const ConvGeometry& g, T* col) {
  const int64_t plane = g.in_h * g.in_w, cols = g.out_h * g.out_w, taps = g.kernel_h * g.kernel_w;
  parallel_for(0, count * g.in_channels, 1, [&](int64_t b, int64_t e) {
    for (int64_t sc = b; sc < e; ++sc) {
      const T* src = x + sc * plane;
      for (int64_t tap = 0; tap < taps; ++tap) {
        const int64_t ki = tap / g.kernel_w, kj = tap % g.kernel_w;
        T* dst = col + (sc * taps + tap) * cols;
        for (int64_t oh = 0; oh < g.out_h; ++oh, dst += g.out_w) {
          const int64_t ih = oh * g.stride_h - g.pad_h + ki * g.dilation_h;
          if (ih < 0 || ih >= g.in_h) {
            std::fill(dst, dst + g.out_w, T(0));
            continue;
          }
          const T* row = src + ih * g.in_w;
          for (int64_t ow = 0; ow < g.out_w; ++ow) {
            const int64_t iw = ow * g.stride_w - g.pad_w + kj * g.dilation_w;
            dst[ow] = iw >= 0 && iw < g.in_w ? row[iw] : T(0);
          }
        }
      }
    }
  });
}

// x (count, C, H, W) <- the sum of col's entries over the receptive fields that read each
// pixel: the adjoint of im2col. One thread per (sample, channel) plane, so no write races.
template <class T>
void col2im(const T* col, int64_t count, const ConvGeometry& g, T* x) {
  const int64_t plane = g.in_h * g.in_w, cols = g.out_h * g.out_w, taps = g.kernel_h * g.kernel_w;
  parallel_for(0, count * g.in_channels, 1, [&](int64_t b, int64_t e) {
    for (int64_t sc = b; sc < e; ++sc) {
      T* dst = x + sc * plane;
      std::fill(dst, dst + plane, T(0));
      for (int64_t tap = 0; tap < taps; ++tap) {
        const int64_t ki = tap / g.kernel_w, kj = tap % g.kernel_w;
        const T* src = col + (sc * taps + tap) * cols;
        for (int64_t oh = 0; oh < g.out_h; ++oh, src += g.out_w) {
          const int64_t ih = oh * g.stride_h - g.pad_h + ki * g.dilation_h;
          if (ih < 0 || ih >= g.in_h) continue;
          T* row = dst + ih * g.in_w;
          for (int64_t ow = 0; ow < g.out_w; ++ow) {
            const int64_t iw = ow * g.stride_w - g.pad_w + kj * g.dilation_w;
            if (iw >= 0 && iw < g.in_w) row[iw] += src[ow];
          }
        }
      }
    }
  });
}

GemmArgs gemm_args(DType dtype) {
  GemmArgs a;
  a.dtype = dtype;
  return a;
}

}  // namespace

// y[n, group] (out_per_group, cols) = w[group] (out_per_group, rows) @ col[n, group] (rows, cols).
void conv2d_forward(const Tensor& x, const Tensor& w, const ConvGeometry& g, const Tensor& y) {
  dispatch_conv(x.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const ConvMatrices mat(g);
    const int64_t chunk = mat.chunk(g.batch, sizeof(T)), in_sample = g.in_channels * g.in_h * g.in_w;
    const int64_t out_sample = g.out_channels * mat.cols;
    std::unique_ptr<T[]> col = scratch<T>(mat.direct ? 0 : chunk * mat.sample_rows * mat.cols);
    for (int64_t n0 = 0; n0 < g.batch; n0 += chunk) {
      const int64_t count = std::min(chunk, g.batch - n0);
      const T* xs = x.data<T>() + n0 * in_sample;
      if (!mat.direct) im2col(xs, count, g, col.get());
      const T* cols = mat.direct ? xs : col.get();
      for (int64_t gi = 0; gi < g.groups; ++gi) {
        GemmArgs a = gemm_args(x.dtype());
        a.m = mat.out_per_group, a.n = mat.cols, a.k = mat.rows;
        a.a = w.data<T>() + gi * mat.out_per_group * mat.rows, a.lda = mat.rows, a.stride_a = 0;
        a.b = cols + gi * mat.rows * mat.cols, a.ldb = mat.cols, a.stride_b = mat.sample_rows * mat.cols;
        a.c = y.data<T>() + n0 * out_sample + gi * mat.out_per_group * mat.cols, a.ldc = mat.cols;
        a.stride_c = out_sample;
        a.batch = count;
        cpu::gemm(a);
      }
    }
  });
}

// col[n, group] (rows, cols) = w[group]^T (rows, out_per_group) @ grad_y[n, group], then col2im.
void conv2d_backward_input(const Tensor& grad_y, const Tensor& w, const ConvGeometry& g,
                           const Tensor& grad_x) {
  dispatch_conv(grad_y.dtype(), "conv2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const ConvMatrices mat(g);
    const int64_t chunk = mat.chunk(g.batch, sizeof(T)), in_sample = g.in_channels * g.in_h * g.in_w;
    const int64_t out_sample = g.out_channels * mat.cols;
    std::unique_ptr<T[]> col = scratch<T>(mat.direct ? 0 : chunk * mat.sample_rows * mat.cols);
    for (int64_t n0 = 0; n0 < g.batch; n0 += chunk) {
      const int64_t count = std::min(chunk, g.batch - n0);
      T* xs = grad_x.data<T>() + n0 * in_sample;
      T* cols = mat.direct ? xs : col.get();
      for (int64_t gi = 0; gi < g.groups; ++gi) {
        GemmArgs a = gemm_args(grad_y.dtype());
        a.trans_a = true;
        a.m = mat.rows, a.n = mat.cols, a.k = mat.out_per_group;
        a.a = w.data<T>() + gi * mat.out_per_group * mat.rows, a.lda = mat.rows, a.stride_a = 0;
        a.b = grad_y.data<T>() + n0 * out_sample + gi * mat.out_per_group * mat.cols, a.ldb = mat.cols;
        a.stride_b = out_sample;
        a.c = cols + gi * mat.rows * mat.cols, a.ldc = mat.cols, a.stride_c = mat.sample_rows * mat.cols;
        a.batch = count;
        cpu::gemm(a);
      }
      if (!mat.direct) col2im(col.get(), count, g, xs);
    }
  });
}

// grad_w[group] (out_per_group, rows) = sum over n of grad_y[n, group] @ col[n, group]^T. One
// product per sample accumulates into grad_w (beta 1), each threaded by Eigen.
void conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, const ConvGeometry& g,
                            const Tensor& grad_w) {
  dispatch_conv(grad_y.dtype(), "conv2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const ConvMatrices mat(g);
    const int64_t chunk = mat.chunk(g.batch, sizeof(T)), in_sample = g.in_channels * g.in_h * g.in_w;
    const int64_t out_sample = g.out_channels * mat.cols;
    std::unique_ptr<T[]> col = scratch<T>(mat.direct ? 0 : chunk * mat.sample_rows * mat.cols);
    for (int64_t n0 = 0; n0 < g.batch; n0 += chunk) {
      const int64_t count = std::min(chunk, g.batch - n0);
      const T* xs = x.data<T>() + n0 * in_sample;
      if (!mat.direct) im2col(xs, count, g, col.get());
      const T* cols = mat.direct ? xs : col.get();
      for (int64_t s = 0; s < count; ++s)
        for (int64_t gi = 0; gi < g.groups; ++gi) {
          GemmArgs a = gemm_args(x.dtype());
          a.trans_b = true;
          a.m = mat.out_per_group, a.n = mat.rows, a.k = mat.cols;
          a.a = grad_y.data<T>() + (n0 + s) * out_sample + gi * mat.out_per_group * mat.cols,
          a.lda = mat.cols;
          a.b = cols + s * mat.sample_rows * mat.cols + gi * mat.rows * mat.cols, a.ldb = mat.cols;
          a.c = grad_w.data<T>() + gi * mat.out_per_group * mat.rows, a.ldc = mat.rows;
          a.beta = n0 + s == 0 ? 0 : 1;
          cpu::gemm(a);
        }
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
    for_each_plane(g, out_plane * g.kernel_h * g.kernel_w, [&](int64_t p) {
      const T* src = px + p * in_plane;
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          A best = -std::numeric_limits<A>::infinity();
          int64_t best_index = -1;
          for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
            const int64_t ih = oh * g.stride_h - g.pad_h + ki * g.dilation_h;
            if (ih < 0 || ih >= g.in_h) continue;
            for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
              const int64_t iw = ow * g.stride_w - g.pad_w + kj * g.dilation_w;
              if (iw < 0 || iw >= g.in_w) continue;
              const A v = cast<A>(src[ih * g.in_w + iw]);
              if (v > best || std::isnan(v) || best_index < 0) {
                best = v;
                best_index = ih * g.in_w + iw;
                if (std::isnan(v)) ki = g.kernel_h, kj = g.kernel_w;  // NaN wins; stop scanning
              }
            }
          }
          po[p * out_plane + oh * g.out_w + ow] = cast<T>(best);
          pi[p * out_plane + oh * g.out_w + ow] = best_index;
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
