// CPU softmax over contiguous (outer, n, inner) lanes. inner == 1: one row at a time, three
// sweeps over it while it sits in cache. inner > 1: a block of neighbouring lanes is swept
// together, row by row, so memory is read in order (the column layout of softmax over dim 0).
#include <algorithm>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/cast.h"
#include "kernels/softmax.h"
#include "tensor/dispatch.h"
#include "tensor/parallel.h"

namespace hmr::kernels::cpu {

namespace {

constexpr int64_t kGrain = 16384;

// Calls f(o, i_begin, i_end) in parallel over blocks of lanes that share o.
template <class F>
void for_lane_blocks(int64_t outer, int64_t n, int64_t inner, const F& f) {
  int64_t piece = std::min<int64_t>(inner, 1024);
  int64_t per_o = (inner + piece - 1) / piece;
  int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, n * piece));
  parallel_for(0, outer * per_o, grain, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      int64_t o = t / per_o, ib = (t % per_o) * piece;
      f(o, ib, std::min(inner, ib + piece));
    }
  });
}

template <class T>
void softmax_typed(const T* x, int64_t outer, int64_t n, int64_t inner, bool log, T* y) {
  using A = acc_t<T>;
  for_lane_blocks(outer, n, inner, [&](int64_t o, int64_t ib, int64_t ie) {
    const int64_t w = ie - ib;
    std::vector<A> m(w, -std::numeric_limits<A>::infinity()), s(w, A(0));
    const T* xo = x + o * n * inner;
    T* yo = y + o * n * inner;
    for (int64_t r = 0; r < n; ++r)
      for (int64_t i = 0; i < w; ++i) m[i] = softmax_max(m[i], cast<A>(xo[r * inner + ib + i]));
    // In full precision the sweep for the sum keeps exp(x - m) in y, so softmax's last sweep
    // only scales it (one exp per element instead of two).
    constexpr bool keep_exp = std::is_same_v<T, A>;
    for (int64_t r = 0; r < n; ++r)
      for (int64_t i = 0; i < w; ++i) {
        A e = math::exp(cast<A>(xo[r * inner + ib + i]) - m[i]);
        s[i] += e;
        if (keep_exp && !log) yo[r * inner + ib + i] = cast<T>(e);
      }
    for (int64_t i = 0; i < w; ++i) s[i] = softmax_scale(s[i], log);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t i = 0; i < w; ++i) {
        T& out = yo[r * inner + ib + i];
        out = keep_exp && !log ? cast<T>(cast<A>(out) * s[i])
                               : cast<T>(softmax_output(cast<A>(xo[r * inner + ib + i]), m[i], s[i], log));
      }
  });
}

template <class T>
void softmax_backward_typed(const T* g, const T* y, int64_t outer, int64_t n, int64_t inner, bool log, T* gi) {
  using A = acc_t<T>;
  for_lane_blocks(outer, n, inner, [&](int64_t o, int64_t ib, int64_t ie) {
    const int64_t w = ie - ib, base = o * n * inner + ib;
    std::vector<A> dot(w, A(0));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t i = 0; i < w; ++i)
        dot[i] += softmax_dot_term(cast<A>(g[base + r * inner + i]), cast<A>(y[base + r * inner + i]), log);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t i = 0; i < w; ++i) {
        int64_t k = base + r * inner + i;
        gi[k] = cast<T>(softmax_grad(cast<A>(g[k]), cast<A>(y[k]), dot[i], log));
      }
  });
}

}  // namespace

void softmax_lanes(const Tensor& x, bool log, const Tensor& out) {
  dispatch_floating(x.dtype(), "softmax", [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_typed(static_cast<const T*>(x.raw_data()), x.sizes()[0], x.sizes()[1], x.sizes()[2], log,
                  static_cast<T*>(out.raw_data()));
  });
}

void softmax_backward_lanes(const Tensor& grad, const Tensor& y, bool log, const Tensor& grad_in) {
  dispatch_floating(y.dtype(), "softmax_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_backward_typed(static_cast<const T*>(grad.raw_data()), static_cast<const T*>(y.raw_data()),
                           y.sizes()[0], y.sizes()[1], y.sizes()[2], log, static_cast<T*>(grad_in.raw_data()));
  });
}

}  // namespace hmr::kernels::cpu
