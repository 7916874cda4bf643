// Checks and device dispatch for the indexed kernels: operand shapes, dtypes and devices, index
// range (checked before any kernel reads through an index), and the loop geometry.
#include "kernels/indexing.h"

#include <cstdlib>

#include "kernels/backend.h"
#include "kernels/elementwise.h"

namespace hmr::kernels {

namespace {

bool is_index_dtype(DType t) { return t == DType::I64 || t == DType::I32; }

void check_index_dtype(const char* op, const Tensor& index) {
  HMR_CHECK(is_index_dtype(index.dtype()), DTypeError, op, ": expected an int64 (or int32) index but found ",
            index.dtype());
}

// Size and stride along dim, treating a 0-dim tensor as one element.
int64_t size_at(const Tensor& t, int64_t dim) { return t.dim() == 0 ? 1 : t.sizes()[dim]; }
int64_t stride_at(const Tensor& t, int64_t dim) { return t.dim() == 0 ? 0 : t.strides()[dim]; }

// index and the tensors it addresses have one rank (0-dim and 1-D count as one), and index
// fits inside each of them: everywhere for `within_all`, outside dim for `within_outside_dim`.
void check_index_shape(const char* op, int64_t dim, const Tensor& index,
                       std::initializer_list<std::pair<const char*, const Tensor*>> within_all,
                       std::initializer_list<std::pair<const char*, const Tensor*>> within_outside_dim) {
  auto rank = [](const Tensor& t) { return std::max<int64_t>(t.dim(), 1); };
  auto check = [&](const char* name, const Tensor& t, bool skip_dim) {
    HMR_CHECK(rank(t) == rank(index), ShapeError, op, ": index ", index.sizes(), " and ", name, " ",
              t.sizes(), " must have the same number of dimensions");
    for (int64_t d = 0; d < index.dim(); ++d) {
      if (skip_dim && d == dim) continue;
      HMR_CHECK(index.sizes()[d] <= size_at(t, d), ShapeError, op, ": index ", index.sizes(),
                " is larger than ", name, " ", t.sizes(), " in dimension ", d);
    }
  };
  for (auto [name, t] : within_all) check(name, *t, false);
  for (auto [name, t] : within_outside_dim) check(name, *t, true);
}

// The loop over index's shape: `dense` is read or written at the iteration position,
// `indexed` at the position with dim replaced by the index value.
IndexedLoop make_loop(const char* op, const Tensor& dense, const Tensor& indexed, const Tensor& index,
                      int64_t dim) {
  IndexedLoop l;
  l.dim_size = size_at(index, dim);
  l.dense_stride = stride_at(dense, dim);
  l.index_stride = stride_at(index, dim);
  l.indexed_stride = stride_at(indexed, dim);
  Shape outer_sizes, strides[3];
  for (int64_t d = 0; d < index.dim(); ++d) {
    if (d == dim) continue;
    outer_sizes.push_back(index.sizes()[d]);
    strides[0].push_back(dense.strides()[d]);
    strides[1].push_back(indexed.strides()[d]);
    strides[2].push_back(index.strides()[d]);
  }
  const Shape* ptrs[3] = {&strides[0], &strides[1], &strides[2]};
  l.outer = make_plan<3>(outer_sizes, ptrs, op);
  l.numel = l.outer.numel * l.dim_size;
  const Plan<3>& p = l.outer;
  l.dim_inner = p.ndim == 0 || std::abs(l.dense_stride) <= std::abs(p.strides[0][p.ndim - 1]);
  return l;
}

}  // namespace

Tensor broadcast_index(const Tensor& index, const Shape& index_shape, int64_t dim) {
  Shape strides(index_shape.size(), 0);
  if (!index_shape.empty()) strides[dim] = index.dim() == 0 ? 0 : index.strides()[0];
  return Tensor::make_view(index.storage(), index_shape, strides, index.offset(), index.dtype());
}

void check_index_range(const char* op, const Tensor& index, int64_t dim, int64_t size) {
  check_index_dtype(op, index);
  if (index.numel() == 0) return;
  // Dims of stride 0 repeat the same values (index_select's broadcast index): scan them once.
  Shape sizes = index.sizes();
  for (size_t d = 0; d < sizes.size(); ++d)
    if (index.strides()[d] == 0) sizes[d] = 1;
  Tensor distinct = Tensor::make_view(index.storage(), sizes, index.strides(), index.offset(), index.dtype());
  int64_t lo = 0, hi = 0;
  HMR_DISPATCH_DEVICE(index, index_min_max(distinct, &lo, &hi));
  int64_t bad = lo < 0 ? lo : hi;
  HMR_CHECK(lo >= 0 && hi < size, IndexError, op, ": index ", bad, " is out of bounds for dimension ", dim,
            " with size ", size);
}

void gather(const char* op, const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  check_same_device(op, out, {&x, &index});
  check_same_dtype(op, out, x);
  check_index_dtype(op, index);
  HMR_CHECK(out.sizes() == index.sizes(), ShapeError, op, ": expected an output of shape ", index.sizes(),
            " but found ", out.sizes());
  check_index_shape(op, dim, index, {}, {{"input", &x}});
  check_index_range(op, index, dim, size_at(x, dim));
  if (index.numel() == 0) return;
  IndexedLoop loop = make_loop(op, out, x, index, dim);
  HMR_DISPATCH_DEVICE(out, gather(loop, x, index, out));
}

void scatter(const char* op, const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src,
             ScatterMode mode, double alpha) {
  check_same_device(op, self, {&index, &src});
  check_same_dtype(op, self, src);
  check_index_dtype(op, index);
  HMR_CHECK(mode == ScatterMode::Assign || self.dtype() != DType::Bool, DTypeError, op,
            ": accumulation is not defined for ", self.dtype());
  check_index_shape(op, dim, index, {{"src", &src}}, {{"self", &self}});
  check_index_range(op, index, dim, size_at(self, dim));
  if (index.numel() == 0) return;
  IndexedLoop loop = make_loop(op, src, self, index, dim);
  HMR_DISPATCH_DEVICE(self, scatter(loop, self, index, src, mode, alpha));
}

Tensor nonzero(const Tensor& x) {
  HMR_CHECK(x.dim() <= kMaxDims, ShapeError, "nonzero: at most ", kMaxDims,
            " dimensions are supported, found ", x.dim());
  Tensor flags = x;
  if (x.dtype() != DType::Bool || !x.is_contiguous()) {
    flags = Tensor::empty(x.sizes(), DType::Bool, x.device());
    copy(flags, x);  // converts with != 0
  }
  Tensor out;
  HMR_DISPATCH_DEVICE(x, nonzero_flags(flags, x.sizes(), &out));
  return out;
}

}  // namespace hmr::kernels
