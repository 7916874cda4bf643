// CPU reductions over a contiguous (outer, reduced, inner) block. Rows (inner == 1) fold with
// many independent accumulators so sums vectorise and stay memory-bound; a few long rows are
// split across threads. Columns (inner > 1) accumulate whole rows into a vector of partials,
// as PyTorch does for outer reductions, so a sum over dim 0 reads memory in order.
#include <algorithm>
#include <memory>
#include <vector>

#include "kernels/reduce.h"
#include "tensor/parallel.h"

namespace hmr::kernels::cpu {

namespace {

constexpr int64_t kGrain = 32768;
// Blocks of this many elements are folded on their own and then added up, which keeps the
// float rounding error of long sums near that of a pairwise sum.
constexpr int64_t kBlock = 4096;

template <class R, class T>
typename R::Acc fold_block(const T* p, int64_t n) {
  using Acc = typename R::Acc;
  constexpr int kLanes = 32;
  Acc acc[kLanes];
  for (auto& a : acc) a = R::identity();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int k = 0; k < kLanes; ++k) acc[k] = R::combine(acc[k], R::load(p[i + k], 0));
  for (; i < n; ++i) acc[0] = R::combine(acc[0], R::load(p[i], 0));
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int k = 0; k < w; ++k) acc[k] = R::combine(acc[k], acc[k + w]);
  return acc[0];
}

template <class R, class T>
typename R::Acc fold(const T* p, int64_t n) {
  typename R::Acc acc = R::identity();
  for (int64_t b = 0; b < n; b += kBlock) acc = R::combine(acc, fold_block<R>(p + b, std::min(kBlock, n - b)));
  return acc;
}

template <class R, class T, class O>
void reduce_rows_typed(const T* x, int64_t outer, int64_t len, O* out) {
  using Acc = typename R::Acc;
  if (outer >= num_threads() || len < 4 * kGrain) {
    parallel_for(0, outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(len, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) out[r] = cast<O>(fold<R>(x + r * len, len));
    });
    return;
  }
  // Few long rows: each thread folds a contiguous piece; pieces combine in thread order.
  for (int64_t r = 0; r < outer; ++r) {
    std::vector<Acc> partial(num_threads(), R::identity());
    const T* row = x + r * len;
    parallel_for(0, len, kGrain, [&](int64_t b, int64_t e) { partial[omp_get_thread_num()] = fold<R>(row + b, e - b); });
    Acc acc = R::identity();
    for (Acc p : partial) acc = R::combine(acc, p);
    out[r] = cast<O>(acc);
  }
}

// Calls f(o, i_begin, i_end) over pieces of the (outer, inner) output in parallel, each piece
// within one o, sized so that a piece of every row of the column block is worth a thread.
template <class F>
void for_column_pieces(int64_t outer, int64_t len, int64_t inner, const F& f) {
  int64_t piece = std::max<int64_t>(16, std::min<int64_t>(inner, 2048));
  int64_t per_o = (inner + piece - 1) / piece;
  int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, len * piece));
  parallel_for(0, outer * per_o, grain, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      int64_t o = t / per_o, ib = (t % per_o) * piece;
      f(o, ib, std::min(inner, ib + piece));
    }
  });
}

template <class R, class T, class O>
void reduce_columns_typed(const T* x, int64_t outer, int64_t len, int64_t inner, O* out) {
  using Acc = typename R::Acc;
  for_column_pieces(outer, len, inner, [&](int64_t o, int64_t ib, int64_t ie) {
    // Not std::vector: vector<bool> (any/all) has no data().
    auto acc = std::make_unique<Acc[]>(ie - ib);
    Acc* a = acc.get();
    std::fill(a, a + (ie - ib), R::identity());
    const T* base = x + o * len * inner;
    for (int64_t r = 0; r < len; ++r) {
      const T* row = base + r * inner;
      for (int64_t i = ib; i < ie; ++i) a[i - ib] = R::combine(a[i - ib], R::load(row[i], r));
    }
    for (int64_t i = ib; i < ie; ++i) out[o * inner + i] = cast<O>(a[i - ib]);
  });
}

}  // namespace

void reduce_rows(ReduceOp op, const Tensor& x, const Tensor& out) {
  const int64_t outer = x.sizes()[0], len = x.sizes()[1], inner = x.sizes()[2];
  dispatch_reduce(op, x.dtype(), [&](auto rtag, auto ttag, auto otag) {
    using R = typename decltype(rtag)::type;
    using T = typename decltype(ttag)::type;
    using O = typename decltype(otag)::type;
    const T* px = static_cast<const T*>(x.raw_data());
    O* po = static_cast<O*>(out.raw_data());
    if (inner == 1) reduce_rows_typed<R>(px, outer, len, po);
    else reduce_columns_typed<R>(px, outer, len, inner, po);
  });
}

void arg_reduce_rows(ArgReduceOp op, const Tensor& x, const Tensor& values, const Tensor& indices) {
  const int64_t outer = x.sizes()[0], len = x.sizes()[1], inner = x.sizes()[2];
  dispatch_arg_reduce(op, x.dtype(), [&](auto rtag, auto ttag) {
    using R = typename decltype(rtag)::type;
    using T = typename decltype(ttag)::type;
    using Acc = typename R::Acc;
    const T* px = static_cast<const T*>(x.raw_data());
    T* pv = static_cast<T*>(values.raw_data());
    int64_t* pi = static_cast<int64_t*>(indices.raw_data());
    for_column_pieces(outer, len, inner, [&](int64_t o, int64_t ib, int64_t ie) {
      std::vector<Acc> acc(ie - ib, R::identity());
      const T* base = px + o * len * inner;
      for (int64_t r = 0; r < len; ++r)
        for (int64_t i = ib; i < ie; ++i) acc[i - ib] = R::combine(acc[i - ib], R::load(base[r * inner + i], r));
      for (int64_t i = ib; i < ie; ++i) {
        pv[o * inner + i] = cast<T>(acc[i - ib].value);
        pi[o * inner + i] = acc[i - ib].index;
      }
    });
  });
}

}  // namespace hmr::kernels::cpu
