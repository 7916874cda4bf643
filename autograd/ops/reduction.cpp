// Reductions: sum, mean (more to come in this file: prod, max/min, var/std, norm, logsumexp,
// softmax). Integer and bool sums give int64, as in PyTorch.
#include <algorithm>

#include "autograd/function.h"
#include "autograd/ops.h"
#include "kernels/reduce.h"

namespace hmr {

namespace {

// The dims to reduce (all when dims is empty), wrapped and deduplicated.
std::vector<bool> reduced_mask(const Tensor& x, const Shape& dims, const char* op) {
  std::vector<bool> mask(x.dim(), dims.empty());
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, x.dim(), op);
    HMR_CHECK(!mask[w] || dims.empty(), ShapeError, op, ": dim ", d, " appears more than once in ", dims);
    mask[w] = true;
  }
  return mask;
}

Shape reduced_shape(const Tensor& x, const std::vector<bool>& mask, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (!mask[d]) out.push_back(x.sizes()[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

Shape mask_dims(const std::vector<bool>& mask) {
  Shape dims;
  for (size_t d = 0; d < mask.size(); ++d)
    if (mask[d]) dims.push_back(static_cast<int64_t>(d));
  return dims;
}

// g (reduced shape) back to x's shape: reinsert the reduced dims as 1 and broadcast.
Tensor expand_back(const Tensor& g, const Shape& in_sizes, const std::vector<bool>& mask, bool keepdim) {
  Tensor gk = g;
  if (!keepdim) {
    Shape kept;
    for (size_t d = 0; d < in_sizes.size(); ++d) kept.push_back(mask[d] ? 1 : in_sizes[d]);
    gk = reshape(g, kept);
  }
  return expand(gk, in_sizes);
}

}  // namespace

Tensor sum(const Tensor& x, const Shape& dims, bool keepdim) {
  auto mask = reduced_mask(x, dims, "sum");
  DType t = is_floating(x.dtype()) ? x.dtype() : DType::I64;
  Tensor y = Tensor::empty(reduced_shape(x, mask, keepdim), t, x.device());
  kernels::reduce(kernels::ReduceOp::Sum, x, mask_dims(mask), y);
  Shape in_sizes = x.sizes();
  return record("sum", {x}, y, [in_sizes, mask, keepdim](const Tensor& g) {
    return std::vector<Tensor>{expand_back(g, in_sizes, mask, keepdim)};
  });
}

Tensor mean(const Tensor& x, const Shape& dims, bool keepdim) {
  HMR_CHECK(x.is_floating_point(), DTypeError, "mean: expected a floating input but found ", x.dtype(),
            " (convert with .to(DType::F32))");
  auto mask = reduced_mask(x, dims, "mean");
  int64_t count = 1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (mask[d]) count *= x.sizes()[d];
  return div(sum(x, dims, keepdim), static_cast<double>(count));
}

}  // namespace hmr
