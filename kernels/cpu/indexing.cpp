// CPU backend of the indexed kernels. Gathers split outer positions or steps along dim among
// threads; scatters split the positions outside `dim` among threads and walk `dim` inside one
// thread, so no two threads ever write the same element of self (duplicates collide only along dim).
#include "kernels/indexing.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/cast.h"
#include "kernels/cpu/loops.h"
#include "kernels/elementwise.h"
#include "tensor/parallel.h"

namespace hmr::kernels::cpu {

namespace {

// Walks outer positions [begin, end) of the loop in runs along the innermost outer dim:
// f(dense, indexed_base, index, len, strides) for each run, with the three offsets of its first
// position and the three strides along the run. The multi-index is found by division once per
// call and then carried, instead of dividing for every element as indexed_offsets() does.
template <class F>
void for_outer_runs(const Plan<3>& p, int64_t begin, int64_t end, const F& f) {
  if (begin >= end) return;
  const int nd = p.ndim;
  if (nd == 0) {
    const int64_t zero[3] = {0, 0, 0};
    f(0, 0, 0, int64_t{1}, zero);
    return;
  }
  int64_t idx[kMaxDims];
  int64_t off[3] = {0, 0, 0};
  int64_t rem = begin;
  for (int d = nd - 1; d >= 0; --d) {
    idx[d] = rem % p.sizes[d];
    rem /= p.sizes[d];
    for (int k = 0; k < 3; ++k) off[k] += idx[d] * p.strides[k][d];
  }
  const int64_t inner = p.sizes[nd - 1];
  const int64_t step[3] = {p.strides[0][nd - 1], p.strides[1][nd - 1], p.strides[2][nd - 1]};
  for (int64_t i = begin; i < end;) {
    const int64_t run = std::min(inner - idx[nd - 1], end - i);
    f(off[0], off[1], off[2], run, step);
    i += run;
    for (int k = 0; k < 3; ++k) off[k] += run * step[k];
    idx[nd - 1] += run;
    for (int d = nd - 1; d > 0 && idx[d] == p.sizes[d]; --d) {
      for (int k = 0; k < 3; ++k) off[k] += p.strides[k][d - 1] - p.sizes[d] * p.strides[k][d];
      idx[d] = 0;
      ++idx[d - 1];
    }
  }
}

// Calls visit(dense, target) for every element of outer positions [begin, end) and steps
// [jb, je) along dim, in the loop's memory-friendly order: all j for one outer position when dim
// is the dense side's fastest dim, else one j over the whole range of outer positions (each
// target written in increasing j, which scatter's "last duplicate wins" relies on).
template <class I, class Visit>
void walk_indexed(const IndexedLoop& loop, const I* idx, int64_t begin, int64_t end, int64_t jb, int64_t je,
                  const Visit& visit) {
  const int64_t ds = loop.dense_stride, is = loop.index_stride, ist = loop.indexed_stride;
  if (loop.dim_inner) {
    for_outer_runs(loop.outer, begin, end, [&](int64_t o0, int64_t o1, int64_t o2, int64_t len, const int64_t* st) {
      for (int64_t k = 0; k < len; ++k) {
        const int64_t d0 = o0 + k * st[0], b1 = o1 + k * st[1];
        const I* ix = idx + o2 + k * st[2];
        for (int64_t j = jb; j < je; ++j)
          visit(d0 + j * ds, b1 + static_cast<int64_t>(ix[j * is]) * ist);
      }
    });
    return;
  }
  for (int64_t j = jb; j < je; ++j) {
    for_outer_runs(loop.outer, begin, end, [&](int64_t o0, int64_t o1, int64_t o2, int64_t len, const int64_t* st) {
      const int64_t d0 = o0 + j * ds;
      const I* ix = idx + o2 + j * is;
      if (st[2] == 0) {  // one index for the whole run (index_select, index_add): a strided copy
        const int64_t b1 = o1 + static_cast<int64_t>(ix[0]) * ist;
        if (st[0] == 1 && st[1] == 1) {  // contiguous rows: constant strides let the copy vectorise
          for (int64_t k = 0; k < len; ++k) visit(d0 + k, b1 + k);
        } else {
          for (int64_t k = 0; k < len; ++k) visit(d0 + k * st[0], b1 + k * st[1]);
        }
      } else {
        for (int64_t k = 0; k < len; ++k)
          visit(d0 + k * st[0], o1 + k * st[1] + static_cast<int64_t>(ix[k * st[2]]) * ist);
      }
    });
  }
}

}  // namespace

void gather(const IndexedLoop& loop, const Tensor& x, const Tensor& index, const Tensor& out) {
  dispatch_all(x.dtype(), "gather", [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_index(index.dtype(), "gather", [&](auto itag) {
      using I = typename decltype(itag)::type;
      const T* src = static_cast<const T*>(x.raw_data());
      const I* idx = static_cast<const I*>(index.raw_data());
      T* dst = static_cast<T*>(out.raw_data());
      auto copy = [&](int64_t dense, int64_t target) { dst[dense] = src[target]; };
      // Threads split whichever of (outer positions, steps along dim) is walked outermost, or
      // the steps when there are too few outer positions to go round.
      const int64_t outer = loop.outer.numel, steps = loop.dim_size;
      if (loop.dim_inner && outer >= 4 * num_threads()) {
        parallel_for(0, outer, std::max<int64_t>(1, kGrain / 4 / std::max<int64_t>(steps, 1)),
                     [&](int64_t b, int64_t e) { walk_indexed(loop, idx, b, e, 0, steps, copy); });
      } else {
        parallel_for(0, steps, std::max<int64_t>(1, kGrain / 4 / std::max<int64_t>(outer, 1)),
                     [&](int64_t b, int64_t e) { walk_indexed(loop, idx, 0, outer, b, e, copy); });
      }
    });
  });
}

namespace {

// Each thread owns a block of outer positions; within it, steps along dim stay in increasing
// order for every target (the last duplicate wins for Assign, as in PyTorch's CPU loop).
template <class T, class I, class Combine>
void scatter_rows(const IndexedLoop& loop, T* self, const I* idx, const T* src, const Combine& combine) {
  const int64_t grain = std::max<int64_t>(1, kGrain / 4 / std::max<int64_t>(loop.dim_size, 1));
  parallel_for(0, loop.outer.numel, grain, [&](int64_t b, int64_t e) {
    walk_indexed(loop, idx, b, e, 0, loop.dim_size, [&](int64_t dense, int64_t target) { self[target] = combine(self[target], src[dense]); });
  });
}

}  // namespace

void scatter(const IndexedLoop& loop, const Tensor& self, const Tensor& index, const Tensor& src,
             ScatterMode mode, double alpha) {
  auto run = [&](auto tag, auto combine) {
    using T = typename decltype(tag)::type;
    dispatch_index(index.dtype(), "scatter", [&](auto itag) {
      using I = typename decltype(itag)::type;
      scatter_rows(loop, static_cast<T*>(self.raw_data()), static_cast<const I*>(index.raw_data()),
                   static_cast<const T*>(src.raw_data()), combine);
    });
  };
  if (mode == ScatterMode::Assign) {
    dispatch_all(self.dtype(), "scatter", [&](auto tag) {
      using T = typename decltype(tag)::type;
      run(tag, [](T, T v) { return v; });
    });
    return;
  }
  dispatch_numeric(self.dtype(), "scatter_add", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    const A a = cast<A>(alpha);
    run(tag, [a](T s, T v) { return cast<T>(cast<A>(s) + a * cast<A>(v)); });
  });
}

void index_min_max(const Tensor& index, int64_t* min, int64_t* max) {
  Tensor flat = index;
  if (!index.is_contiguous()) {
    flat = Tensor::empty(index.sizes(), index.dtype(), index.device());
    copy_same_device(flat, index);
  }
  dispatch_index(index.dtype(), "index", [&](auto itag) {
    using I = typename decltype(itag)::type;
    const I* p = static_cast<const I*>(flat.raw_data());
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
    for (int64_t i = 0, n = flat.numel(); i < n; ++i) {
      lo = std::min<int64_t>(lo, p[i]);
      hi = std::max<int64_t>(hi, p[i]);
    }
    *min = lo;
    *max = hi;
  });
}

void nonzero_flags(const Tensor& flags, const Shape& sizes, Tensor* out) {
  const bool* f = static_cast<const bool*>(flags.raw_data());
  const int64_t n = flags.numel();
  const int64_t ndim = static_cast<int64_t>(sizes.size());
  // Pass 1 counts per chunk, pass 2 writes each chunk's coordinates from its prefix offset.
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(num_threads(), n / kGrain));
  const int64_t per = (n + chunks - 1) / chunks;
  std::vector<int64_t> start(chunks + 1, 0);
  parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c)
      start[c + 1] = std::count(f + std::min(n, c * per), f + std::min(n, (c + 1) * per), true);
  });
  for (int64_t c = 0; c < chunks; ++c) start[c + 1] += start[c];
  *out = Tensor::empty({start[chunks], ndim}, DType::I64, Device::cpu());
  int64_t* o = static_cast<int64_t*>(out->raw_data());
  parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      int64_t row = start[c];
      for (int64_t i = c * per, end = std::min(n, (c + 1) * per); i < end; ++i) {
        if (!f[i]) continue;
        int64_t rest = i;
        for (int64_t d = ndim - 1; d >= 0; --d) {
          o[row * ndim + d] = rest % sizes[d];
          rest /= sizes[d];
        }
        ++row;
      }
    }
  });
}

}  // namespace hmr::kernels::cpu
