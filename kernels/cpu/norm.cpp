// CPU normalization over contiguous (outer, C, inner) blocks, threaded over channels (batch
// norm's C, or the rows of group/layer norm). Statistics: each contiguous run of at most kBlock
// elements is summed twice while in cache (mean, then squared deviations) and the partial
// (count, mean, m2) triples are merged with Chan's formula, which keeps Welford's accuracy
// without a division per element.
#include "kernels/norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cast.h"
#include "tensor/dispatch.h"
#include "tensor/parallel.h"

namespace hmr::kernels::cpu {

namespace {

constexpr int64_t kBlock = 4096;
constexpr int64_t kGrainElements = 32768;

struct Block3 {
  int64_t outer, channels, inner;
  explicit Block3(const Tensor& x) : outer(x.sizes()[0]), channels(x.sizes()[1]), inner(x.sizes()[2]) {}
  int64_t run(int64_t o, int64_t c) const { return (o * channels + c) * inner; }
  // Channels per parallel chunk so each chunk holds about kGrainElements elements.
  int64_t grain() const { return std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, outer * inner)); }
};

template <class T>
const T* in(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.raw_data()) : nullptr;
}
template <class T>
T* out(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.raw_data()) : nullptr;
}

// The sum of f(i) over [0, n) in kLanes independent partial sums: one accumulator is a serial
// chain of dependent adds that the compiler may not reorder (no -ffast-math), so it neither
// pipelines nor vectorises; independent lanes do both.
constexpr int kLanes = 8;
template <class A, class F>
A lane_sum(int64_t n, const F& f) {
  A acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += f(i + j);
  for (; i < n; ++i) acc[0] += f(i);
  A s = A(0);
  for (int j = 0; j < kLanes; ++j) s += acc[j];
  return s;
}

template <class T, class A>
void stats_typed(const Tensor& x, double eps, A* mean, A* invstd, A* var) {
  Block3 b(x);
  const T* px = in<T>(x);
  parallel_for(0, b.channels, b.grain(), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      Welford<A> w;
      for (int64_t o = 0; o < b.outer; ++o) {
        const T* r = px + b.run(o, c);
        for (int64_t i0 = 0; i0 < b.inner; i0 += kBlock) {
          const int64_t n = std::min(kBlock, b.inner - i0);
          const T* xr = r + i0;
          const A m = lane_sum<A>(n, [&](int64_t i) { return cast<A>(xr[i]); }) / A(n);
          const A q = lane_sum<A>(n, [&](int64_t i) {
            const A d = cast<A>(xr[i]) - m;
            return d * d;
          });
          w.merge(A(n), m, q);
        }
      }
      const A v = w.variance();
      mean[c] = w.mean;
      invstd[c] = A(1) / std::sqrt(v + A(eps));
      if (var) var[c] = v;
    }
  });
}

// Calls f(i_begin, i_end, p) for the runs of channel c's inner range that share parameter p:
// one run for batch norm, a spatial plane per channel for group norm, one element for layer
// norm. Loops then need no division to find an element's parameter.
template <class F>
void for_param_runs(AffineMap map, int64_t c, int64_t inner, const F& f) {
  int64_t p = affine_index(map, c, 0, inner);
  for (int64_t i = 0; i < inner; i += map.span, ++p) f(i, i + map.span, p);
}

template <class T, class A>
void apply_typed(const Tensor& x, const A* mean, const A* invstd, const T* w, const T* bias, AffineMap map,
                 T* y) {
  Block3 b(x);
  const T* px = in<T>(x);
  parallel_for(0, b.outer * b.channels, b.grain(), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t c = r % b.channels;
      const T* xr = px + r * b.inner;
      T* yr = y + r * b.inner;
      if (map.span == 1 && b.inner > 1) {  // layer norm: a parameter per element
        const int64_t p0 = affine_index(map, c, 0, b.inner);
        for (int64_t i = 0; i < b.inner; ++i) {
          A v = (cast<A>(xr[i]) - mean[c]) * invstd[c];
          if (w) v *= cast<A>(w[p0 + i]);
          if (bias) v += cast<A>(bias[p0 + i]);
          yr[i] = cast<T>(v);
        }
        continue;
      }
      for_param_runs(map, c, b.inner, [&](int64_t i0, int64_t i1, int64_t p) {
        // y = x * scale + shift with the run's constants folded once.
        const A scale = invstd[c] * (w ? cast<A>(w[p]) : A(1));
        const A shift = (bias ? cast<A>(bias[p]) : A(0)) - mean[c] * scale;
        for (int64_t i = i0; i < i1; ++i) yr[i] = cast<T>(cast<A>(xr[i]) * scale + shift);
      });
    }
  });
}

// grad_weight / grad_bias when a parameter is shared across channels (group and layer norm):
// parallel over parameters, each chunk walking its channels' runs in memory order.
template <class T, class A>
void param_grads_typed(const Tensor& g, const Tensor& x, const A* mean, const A* invstd, AffineMap map, T* gw,
                       T* gb) {
  Block3 b(x);
  const T* pg = in<T>(g);
  const T* px = in<T>(x);
  const int64_t per_group = b.inner / map.span;
  const int64_t params = map.groups * per_group;
  const int64_t grain = std::max<int64_t>(
      1, kGrainElements / std::max<int64_t>(1, b.outer * b.channels / map.groups * map.span));
  parallel_for(0, params, grain, [&](int64_t pb, int64_t pe) {
    for (int64_t p0 = pb; p0 < pe;) {
      const int64_t group = p0 / per_group;
      const int64_t p1 = std::min(pe, (group + 1) * per_group);
      const int64_t i0 = (p0 - group * per_group) * map.span;
      std::vector<A> sw(p1 - p0, A(0)), sb(p1 - p0, A(0));
      for (int64_t c = group; c < b.channels; c += map.groups)
        for (int64_t o = 0; o < b.outer; ++o) {
          const T* gr = pg + b.run(o, c) + i0;
          const T* xr = px + b.run(o, c) + i0;
          const A m = mean[c], is = invstd[c];
          if (map.span == 1) {  // layer norm: neighbouring parameters, independent sums
            for (int64_t k = 0; k < p1 - p0; ++k) {
              const A gv = cast<A>(gr[k]);
              sw[k] += gv * (cast<A>(xr[k]) - m) * is;
              sb[k] += gv;
            }
            continue;
          }
          for (int64_t k = 0; k < p1 - p0; ++k) {
            const T* g0 = gr + k * map.span;
            const T* x0 = xr + k * map.span;
            sw[k] +=
                lane_sum<A>(map.span, [&](int64_t i) { return cast<A>(g0[i]) * (cast<A>(x0[i]) - m); }) * is;
            sb[k] += lane_sum<A>(map.span, [&](int64_t i) { return cast<A>(g0[i]); });
          }
        }
      for (int64_t k = 0; k < p1 - p0; ++k) {
        if (gw) gw[p0 + k] = cast<T>(sw[k]);
        if (gb) gb[p0 + k] = cast<T>(sb[k]);
      }
      p0 = p1;
    }
  });
}

template <class T, class A>
void backward_typed(const Tensor& grad, const Tensor& x, const A* mean, const A* invstd, const T* w,
                    AffineMap map, bool batch_stats, T* gx, T* gw, T* gb) {
  Block3 b(x);
  const T* pg = in<T>(grad);
  const T* px = in<T>(x);
  const bool per_channel = map.per_channel(b.channels, b.inner);
  const A count = A(b.outer * b.inner);
  const bool need_sums = (gx && batch_stats) || (per_channel && (gw || gb));
  parallel_for(0, b.channels, b.grain(), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const A m = mean[c], is = invstd[c];
      // Each run's sums of g and g * (x - mean) are weighted by its parameter afterwards; the
      // unweighted totals are batch norm's parameter gradients.
      A sg = A(0), sgx = A(0), raw_g = A(0), raw_gx = A(0);
      if (need_sums)
        for (int64_t o = 0; o < b.outer; ++o) {
          const T* gr = pg + b.run(o, c);
          const T* xr = px + b.run(o, c);
          if (map.span == 1 && !per_channel) {  // layer norm: weight each element
            const T* wr = w ? w + affine_index(map, c, 0, b.inner) : nullptr;
            auto gw_at = [&](int64_t i) { return wr ? cast<A>(gr[i]) * cast<A>(wr[i]) : cast<A>(gr[i]); };
            sg += lane_sum<A>(b.inner, gw_at);
            sgx += lane_sum<A>(b.inner, [&](int64_t i) { return gw_at(i) * (cast<A>(xr[i]) - m); });
            continue;
          }
          for_param_runs(map, c, b.inner, [&](int64_t i0, int64_t i1, int64_t p) {
            const T* g0 = gr + i0;
            const T* x0 = xr + i0;
            const A rg = lane_sum<A>(i1 - i0, [&](int64_t i) { return cast<A>(g0[i]); });
            const A rgx =
                lane_sum<A>(i1 - i0, [&](int64_t i) { return cast<A>(g0[i]) * (cast<A>(x0[i]) - m); });
            const A wp = w ? cast<A>(w[p]) : A(1);
            sg += wp * rg;
            sgx += wp * rgx;
            raw_g += rg;
            raw_gx += rgx;
          });
        }
      sgx *= is;
      if (per_channel) {
        if (gb) gb[c] = cast<T>(raw_g);
        if (gw) gw[c] = cast<T>(raw_gx * is);
      }
      if (!gx) continue;
      const A mean_g = sg / count, mean_gx = sgx / count;
      for (int64_t o = 0; o < b.outer; ++o) {
        const int64_t base = b.run(o, c);
        if (map.span == 1 && b.inner > 1) {  // layer norm: a weight per element
          const int64_t p0 = affine_index(map, c, 0, b.inner);
          for (int64_t i = 0; i < b.inner; ++i) {
            const A wp = w ? cast<A>(w[p0 + i]) : A(1);
            const A xhat = (cast<A>(px[base + i]) - m) * is;
            gx[base + i] =
                cast<T>(norm_grad_input(cast<A>(pg[base + i]) * wp, xhat, is, mean_g, mean_gx, batch_stats));
          }
          continue;
        }
        for_param_runs(map, c, b.inner, [&](int64_t i0, int64_t i1, int64_t p) {
          const A wp = w ? cast<A>(w[p]) : A(1);
          for (int64_t i = base + i0; i < base + i1; ++i) {
            const A xhat = (cast<A>(px[i]) - m) * is;
            gx[i] = cast<T>(norm_grad_input(cast<A>(pg[i]) * wp, xhat, is, mean_g, mean_gx, batch_stats));
          }
        });
      }
    }
  });
  if (!per_channel && (gw || gb)) param_grads_typed<T, A>(grad, x, mean, invstd, map, gw, gb);
}

}  // namespace

void norm_stats(const Tensor& x, double eps, const Tensor& mean, const Tensor& invstd, const Tensor& var) {
  dispatch_floating(x.dtype(), "norm_stats", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    stats_typed<T, A>(x, eps, out<A>(mean), out<A>(invstd), out<A>(var));
  });
}

void norm_apply(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight,
                const Tensor& bias, AffineMap map, const Tensor& y) {
  dispatch_floating(x.dtype(), "norm_apply", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    apply_typed<T, A>(x, in<A>(mean), in<A>(invstd), in<T>(weight), in<T>(bias), map, out<T>(y));
  });
}

void norm_backward(const Tensor& grad, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                   const Tensor& weight, AffineMap map, bool batch_stats, const Tensor& grad_x,
                   const Tensor& grad_weight, const Tensor& grad_bias) {
  dispatch_floating(x.dtype(), "norm_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    backward_typed<T, A>(grad, x, in<A>(mean), in<A>(invstd), in<T>(weight), map, batch_stats, out<T>(grad_x),
                         out<T>(grad_weight), out<T>(grad_bias));
  });
}

}  // namespace hmr::kernels::cpu
