// CPU reductions over a contiguous (outer, reduced, inner) block. Short rows (inner == 1) fold
// several at a time into vector lanes, long rows block by block with many accumulators, a few
// long rows split across threads. Columns (inner > 1) accumulate whole rows into a vector of
// partials, pairwise over row blocks, so a sum over dim 0 reads memory in order.
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

// Rows shorter than kShortRow: kRows rows at a time, each folded into kLanes lanes (lane k takes
// elements k, k + kLanes, ...) and the lanes then summed as a tree. Folding several rows per
// pass keeps 8 vector accumulators busy and pays the horizontal tree once per group, not once
// per short row. A row's result depends only on its own elements (every row takes the same
// lane and tree order, whatever its group), so it is the same for any thread count.
constexpr int kLanes = 16;
constexpr int kRows = 4;
// Measured on 2^24 floats, one thread: (2^20, 16) rows 8.5x faster than one row at a time, but
// (2^14, 1024) rows 1.4x slower than the single-row fold (four interleaved streams), so longer
// rows keep that.
constexpr int64_t kShortRow = 256;

template <class R, int Rows, class T>
void fold_short_rows(const T* x, int64_t len, typename R::Acc* out) {
  using Acc = typename R::Acc;
  Acc acc[Rows][kLanes];
  for (auto& row : acc)
    for (auto& a : row) a = R::identity();
  int64_t j = 0;
  for (; j + kLanes <= len; j += kLanes)
    for (int r = 0; r < Rows; ++r)
      for (int k = 0; k < kLanes; ++k) acc[r][k] = R::combine(acc[r][k], R::load(x[r * len + j + k], 0));
  for (int r = 0; r < Rows; ++r)
    for (int64_t k = 0; j + k < len; ++k) acc[r][k] = R::combine(acc[r][k], R::load(x[r * len + j + k], 0));
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int r = 0; r < Rows; ++r)
      for (int k = 0; k < w; ++k) acc[r][k] = R::combine(acc[r][k], acc[r][k + w]);
  for (int r = 0; r < Rows; ++r) out[r] = acc[r][0];
}

template <class R, class T, class O>
void reduce_rows_typed(const T* x, int64_t outer, int64_t len, O* out) {
  using Acc = typename R::Acc;
  if (len < kShortRow) {
    const int64_t groups = (outer + kRows - 1) / kRows;
    const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(kRows * len, 1));
    parallel_for(0, groups, grain, [&](int64_t b, int64_t e) {
      for (int64_t g = b; g < e; ++g) {
        const int64_t r0 = g * kRows;
        Acc res[kRows];
        if (r0 + kRows <= outer) {
          fold_short_rows<R, kRows>(x + r0 * len, len, res);
          for (int r = 0; r < kRows; ++r) out[r0 + r] = cast<O>(res[r]);
        } else {
          for (int64_t r = r0; r < outer; ++r) {
            fold_short_rows<R, 1>(x + r * len, len, res);
            out[r] = cast<O>(res[0]);
          }
        }
      }
    });
    return;
  }
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

// Column reductions (inner > 1) stream whole rows into a vector of partials, as PyTorch does
// for outer reductions. The reduced dim is cut into chunks of kColumnChunk rows (a fixed cut, so
// the result does not depend on the thread count), which gives threads work when outer and
// inner are small (a sum over dim 0 of a tall, narrow matrix); within a chunk rows fold pairwise
// in blocks of kColumnLeaf, and the chunks' partials combine as a tree, so the rounding error
// grows with log(len) rather than len.
constexpr int64_t kColumnLeaf = 64;
constexpr int64_t kColumnChunk = 8192;
constexpr int64_t kColumnTileWidth = 64;

// a[0, w) = the fold of rows [r0, r1) of columns [ib, ib + w); scratch holds w per level below.
template <class R, class T>
void fold_columns(const T* base, int64_t inner, int64_t r0, int64_t r1, int64_t ib, int64_t w,
                  typename R::Acc* a, typename R::Acc* scratch) {
  if (r1 - r0 <= kColumnLeaf) {
    // Narrow pieces: tiles of kLanes columns accumulate in registers over the leaf's rows (the
    // compiler cannot prove a[] does not alias the input, so folding into it stores every row,
    // which for a 16-wide piece costs as much as the loads). Wide pieces stream whole rows into
    // a[], so memory is read in order.
    int64_t i = 0;
    for (; w <= kColumnTileWidth && i + kLanes <= w; i += kLanes) {
      typename R::Acc t[kLanes];
      for (auto& v : t) v = R::identity();
      for (int64_t r = r0; r < r1; ++r) {
        const T* row = base + r * inner + ib + i;
        for (int k = 0; k < kLanes; ++k) t[k] = R::combine(t[k], R::load(row[k], r));
      }
      std::copy(t, t + kLanes, a + i);
    }
    std::fill(a + i, a + w, R::identity());
    for (int64_t r = r0; r < r1 && i < w; ++r) {
      const T* row = base + r * inner + ib;
      for (int64_t j = i; j < w; ++j) a[j] = R::combine(a[j], R::load(row[j], r));
    }
    return;
  }
  const int64_t leaves = (r1 - r0 + kColumnLeaf - 1) / kColumnLeaf;
  const int64_t mid = r0 + (leaves / 2) * kColumnLeaf;
  fold_columns<R>(base, inner, r0, mid, ib, w, a, scratch);
  fold_columns<R>(base, inner, mid, r1, ib, w, scratch, scratch + w);
  for (int64_t i = 0; i < w; ++i) a[i] = R::combine(a[i], scratch[i]);
}

// Levels of scratch that fold_columns needs for n rows.
inline int64_t column_depth(int64_t n) {
  int64_t depth = 1;
  for (int64_t leaves = (n + kColumnLeaf - 1) / kColumnLeaf; leaves > 1; leaves = (leaves + 1) / 2) ++depth;
  return depth;
}

template <class R, class T, class O>
void reduce_columns_typed(const T* x, int64_t outer, int64_t len, int64_t inner, O* out) {
  using Acc = typename R::Acc;
  const int64_t chunks = std::max<int64_t>(1, (len + kColumnChunk - 1) / kColumnChunk);
  const int64_t piece = std::max<int64_t>(16, std::min<int64_t>(inner, 2048));
  const int64_t per_o = (inner + piece - 1) / piece;
  const int64_t chunk_rows = std::min(len, kColumnChunk);
  const int64_t depth = column_depth(chunk_rows);
  const int64_t tasks = outer * per_o;
  // Not std::vector: vector<bool> (any/all) has no data(). partial[(t chunks + c) piece + i].
  std::unique_ptr<Acc[]> partial(chunks > 1 ? new Acc[tasks * chunks * piece] : nullptr);
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, chunk_rows * piece));
  parallel_for(0, tasks * chunks, grain, [&](int64_t b, int64_t e) {
    auto scratch = std::make_unique<Acc[]>(piece * (depth + 1));
    for (int64_t u = b; u < e; ++u) {
      const int64_t t = u / chunks, c = u % chunks;
      const int64_t o = t / per_o, ib = (t % per_o) * piece, w = std::min(inner, ib + piece) - ib;
      const int64_t r0 = c * kColumnChunk, r1 = std::min(len, r0 + kColumnChunk);
      Acc* a = chunks > 1 ? partial.get() + u * piece : scratch.get();
      fold_columns<R>(x + o * len * inner, inner, r0, r1, ib, w, a, scratch.get() + piece);
      if (chunks == 1)
        for (int64_t i = 0; i < w; ++i) out[o * inner + ib + i] = cast<O>(a[i]);
    }
  });
  if (chunks == 1) return;
  parallel_for(0, tasks, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / per_o, ib = (t % per_o) * piece, w = std::min(inner, ib + piece) - ib;
      Acc* p = partial.get() + t * chunks * piece;
      for (int64_t step = 1; step < chunks; step *= 2)
        for (int64_t c = 0; c + step < chunks; c += 2 * step)
          for (int64_t i = 0; i < w; ++i) p[c * piece + i] = R::combine(p[c * piece + i], p[(c + step) * piece + i]);
      for (int64_t i = 0; i < w; ++i) out[o * inner + ib + i] = cast<O>(p[i]);
    }
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
