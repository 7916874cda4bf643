// Indexed reads and writes (gather, scatter, index_select, index_add), device-dispatched, and
// the element math both backends share. index_select is a gather whose 1-D index is viewed
// with stride 0 outside `dim`; index_add is a scatter_add the same way, so two loops serve four ops.
#pragma once

#include "kernels/plan.h"
#include "tensor/dispatch.h"
#include "tensor/tensor.h"

namespace hmr::kernels {

// The geometry of one indexed loop. The iteration space is the index's shape, split into
// `dim` (length dim_size) and every other dim (the outer plan), so a CPU scatter can hand
// disjoint outer positions to threads: two outer positions never write one element. Outer plan
// operands: 0 = dense side (gather's out, scatter's src), 1 = indexed side at index value 0
// (gather's x, scatter's self), 2 = the index.
struct IndexedLoop {
  Plan<3> outer;
  int64_t dim_size = 0;      // iteration length along dim
  int64_t dense_stride = 0;  // strides along dim of the dense side and of the index
  int64_t index_stride = 0;
  int64_t indexed_stride = 0;  // the indexed side's stride along dim, times the index value
  int64_t numel = 0;           // outer.numel * dim_size
  // Linear order: dim innermost when it is the dense side's fastest dim, else outermost, so
  // neighbouring elements (CPU loop steps, CUDA warp lanes) touch neighbouring memory.
  bool dim_inner = true;
};

struct IndexedOffsets {
  int64_t dense, indexed_base, index;
};

// Linear position of (outer position r, step j along dim) in the loop's order.
HMR_HOST_DEVICE int64_t indexed_linear(const IndexedLoop& l, int64_t r, int64_t j) {
  return l.dim_inner ? r * l.dim_size + j : j * l.outer.numel + r;
}

// Offsets (in elements) of element `linear` of the loop. The index value still has to be read
// at `index` and added as value * indexed_stride.
HMR_HOST_DEVICE IndexedOffsets indexed_offsets(const IndexedLoop& l, int64_t linear) {
  int64_t j = l.dim_inner ? linear % l.dim_size : linear / l.outer.numel;
  int64_t rest = l.dim_inner ? linear / l.dim_size : linear % l.outer.numel;
  IndexedOffsets o{j * l.dense_stride, 0, j * l.index_stride};
  for (int d = l.outer.ndim - 1; d >= 0; --d) {
    int64_t i = rest % l.outer.sizes[d];
    rest /= l.outer.sizes[d];
    o.dense += i * l.outer.strides[0][d];
    o.indexed_base += i * l.outer.strides[1][d];
    o.index += i * l.outer.strides[2][d];
  }
  return o;
}

// Runs f(type_tag<I>) for the index element type I (int64 or int32).
template <class F>
decltype(auto) dispatch_index(DType t, const char* op, F&& f) {
  if (t == DType::I32) return f(type_tag<int32_t>{});
  HMR_CHECK(t == DType::I64, DTypeError, op, ": expected an int64 (or int32) index but found ", t);
  return f(type_tag<int64_t>{});
}

// How a scatter combines src into self.
enum class ScatterMode : uint8_t { Assign, Add };

// out[p] = x[p with p[dim] replaced by index[p]], over index's shape (= out's shape).
// For d != dim, index.size(d) <= x.size(d). Indices are checked here (IndexError naming op).
void gather(const char* op, const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out);
// self[p with p[dim] replaced by index[p]] (=|+=) alpha * src[p], over index's shape, in place.
// For every d, index.size(d) <= src.size(d), and for d != dim, index.size(d) <= self.size(d).
void scatter(const char* op, const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src,
             ScatterMode mode, double alpha = 1.0);
// The index tensor of index_select / index_add seen as index_shape: stride 0 outside dim.
Tensor broadcast_index(const Tensor& index, const Shape& index_shape, int64_t dim);
// IndexError (naming op, the value and the size) unless every index lies in [0, size).
void check_index_range(const char* op, const Tensor& index, int64_t dim, int64_t size);
// Coordinates of the nonzero elements of x, row-major order: (n, x.dim()) int64.
Tensor nonzero(const Tensor& x);

#define HMR_INDEXING_BACKEND                                                                        \
  void gather(const IndexedLoop& loop, const Tensor& x, const Tensor& index, const Tensor& out);    \
  void scatter(const IndexedLoop& loop, const Tensor& self, const Tensor& index, const Tensor& src, \
               ScatterMode mode, double alpha);                                                     \
  /* min and max over a non-empty int32/int64 index tensor of any strides. */                       \
  void index_min_max(const Tensor& index, int64_t* min, int64_t* max);                              \
  /* flags: contiguous bool of shape sizes; *out = (n, ndim) int64 coordinates. */                  \
  void nonzero_flags(const Tensor& flags, const Shape& sizes, Tensor* out);
namespace cpu {
HMR_INDEXING_BACKEND
}
namespace cuda {
HMR_INDEXING_BACKEND
}

}  // namespace hmr::kernels
