#include "kernels/reduce.h"

#include <algorithm>

#include "kernels/backend.h"
#include "kernels/elementwise.h"

namespace hmr::kernels {

void reduce(ReduceOp op, const Tensor& x, const Shape& dims, const Tensor& out) {
  check_same_device("reduce", out, {&x});
  std::vector<bool> reduced(x.dim(), false);
  for (int64_t d : dims) reduced[wrap_dim(d, x.dim(), "reduce")] = true;
  Shape order, kept_sizes;
  int64_t inner = 1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (!reduced[d]) {
      order.push_back(d);
      kept_sizes.push_back(x.sizes()[d]);
    }
  for (int64_t d = 0; d < x.dim(); ++d)
    if (reduced[d]) {
      order.push_back(d);
      inner *= x.sizes()[d];
    }
  int64_t outer = shape_numel(kept_sizes);
  HMR_CHECK(out.numel() == outer, ShapeError, "reduce: output has ", out.numel(), " elements, expected ", outer);
  // Rows: a contiguous (outer, inner) copy unless x already is one.
  Shape psizes, pstrides;
  for (int64_t d : order) {
    psizes.push_back(x.sizes()[d]);
    pstrides.push_back(x.strides()[d]);
  }
  Tensor permuted = Tensor::make_view(x.storage(), psizes, pstrides, x.offset(), x.dtype());
  Tensor rows = permuted;
  if (!permuted.is_contiguous()) {
    rows = Tensor::empty(psizes, x.dtype(), x.device());
    copy(rows, permuted);
  }
  rows = Tensor::make_view(rows.storage(), {outer, inner}, {inner, 1}, rows.offset(), rows.dtype());
  Tensor dst = out.is_contiguous() ? out : Tensor::empty(out.sizes(), out.dtype(), out.device());
  Tensor flat = Tensor::make_view(dst.storage(), {outer}, {1}, dst.offset(), dst.dtype());
  HMR_DISPATCH_DEVICE(x, reduce_rows(op, rows, flat));
  if (!dst.is_same(out)) copy(out, dst);
}

}  // namespace hmr::kernels
