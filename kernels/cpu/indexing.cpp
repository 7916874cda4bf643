// CPU backend of the indexed kernels. Gathers run every element in parallel; scatters split
// the positions outside `dim` among threads and walk `dim` inside one thread, so no two threads
// ever write the same element of self (duplicate indices only collide along dim).
#include "kernels/indexing.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/cast.h"
#include "kernels/cpu/loops.h"
#include "kernels/elementwise.h"
#include "tensor/parallel.h"

namespace hmr::kernels::cpu {

void gather(const IndexedLoop& loop, const Tensor& x, const Tensor& index, const Tensor& out) {
  dispatch_all(x.dtype(), "gather", [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_index(index.dtype(), "gather", [&](auto itag) {
      using I = typename decltype(itag)::type;
      const T* src = static_cast<const T*>(x.raw_data());
      const I* idx = static_cast<const I*>(index.raw_data());
      T* dst = static_cast<T*>(out.raw_data());
      parallel_for(0, loop.numel, kGrain / 4, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          IndexedOffsets o = indexed_offsets(loop, i);
          dst[o.dense] = src[o.indexed_base + static_cast<int64_t>(idx[o.index]) * loop.indexed_stride];
        }
      });
    });
  });
}

namespace {

// Each thread owns a block of outer positions; within it, steps along dim stay in increasing
// order for every target (the last duplicate wins for Assign, as in PyTorch's CPU loop).
template <class T, class I, class Combine>
void scatter_rows(const IndexedLoop& loop, T* self, const I* idx, const T* src, const Combine& combine) {
  auto step = [&](int64_t r, int64_t j) {
    IndexedOffsets o = indexed_offsets(loop, indexed_linear(loop, r, j));
    int64_t target = o.indexed_base + static_cast<int64_t>(idx[o.index]) * loop.indexed_stride;
    self[target] = combine(self[target], src[o.dense]);
  };
  const int64_t grain = std::max<int64_t>(1, kGrain / 4 / loop.dim_size);
  parallel_for(0, loop.outer.numel, grain, [&](int64_t b, int64_t e) {
    if (loop.dim_inner) {
      for (int64_t r = b; r < e; ++r)
        for (int64_t j = 0; j < loop.dim_size; ++j) step(r, j);
    } else {
      for (int64_t j = 0; j < loop.dim_size; ++j)
        for (int64_t r = b; r < e; ++r) step(r, j);
    }
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
