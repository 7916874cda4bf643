// Indexing and joining ops, forward and backward side by side. Reads through an index are
// gathers and their gradients scatter-adds (and the reverse); cat copies each input into a
// narrowed view of its output; split/chunk/unbind are views built from slice/select.
#include "kernels/indexing.h"

#include <algorithm>
#include <numeric>

#include "autograd/function.h"
#include "autograd/ops.h"
#include "kernels/backend.h"
#include "kernels/elementwise.h"

namespace hmr {

namespace {

// Index ops address a 0-dim tensor as if it had one dim of size 1 (as PyTorch does).
int64_t wrap_index_dim(int64_t dim, const Tensor& x, const char* op) {
  return wrap_dim(dim, std::max<int64_t>(x.dim(), 1), op);
}

void check_index_dtype(const char* op, const Tensor& index) {
  HMR_CHECK(index.dtype() == DType::I64 || index.dtype() == DType::I32, DTypeError, op,
            ": expected an int64 (or int32) index but found ", index.dtype());
}

void check_vector_index(const char* op, const Tensor& index) {
  check_index_dtype(op, index);
  HMR_CHECK(index.dim() <= 1, ShapeError, op, ": expected a 0-D or 1-D index but found shape ",
            index.sizes());
}

void check_bool_mask(const char* op, const Tensor& mask) {
  HMR_CHECK(mask.dtype() == DType::Bool, DTypeError, op, ": expected a bool mask but found ", mask.dtype());
}

// A contiguous copy without history: the destination of an out-of-place scatter.
Tensor raw_clone(const Tensor& x) {
  Tensor y = Tensor::empty(x.sizes(), x.dtype(), x.device());
  kernels::copy(y, x);
  return y;
}

// A one-element tensor seen as shape [1], without history (the kernels want a dim to index).
Tensor as_vector1(const Tensor& t) { return Tensor::make_view(t.storage(), {1}, {0}, t.offset(), t.dtype()); }

// t (index-shaped) placed at the start of zeros of `shape`: the gradient of a src larger
// than its index, whose elements past the index were never read.
Tensor pad_to(Tensor t, const Shape& shape) {
  if (t.sizes() == shape) return t;
  if (t.dim() == 0) t = reshape(t, {1});
  Tensor out = zeros(shape, {t.dtype(), t.device()});
  Tensor region = Tensor::make_view(out.storage(), t.sizes(), out.strides(), out.offset(), out.dtype());
  kernels::copy(region, t);
  return out;
}

}  // namespace

// ---- reads through an index ------------------------------------------------------------------

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_vector_index("index_select", index);
  if (x.dim() == 0) {
    HMR_CHECK(index.numel() == 1, IndexError, "index_select: a 0-dim input takes one index, found ",
              index.numel());
    return reshape(index_select(reshape(x, {1}), dim, index), {});
  }
  int64_t d = wrap_dim(dim, x.dim(), "index_select");
  Shape out_shape = x.sizes();
  out_shape[d] = index.numel();
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  kernels::gather("index_select", x, d, kernels::broadcast_index(index, out_shape, d), y);
  Shape in_sizes = x.sizes();
  SavedTensor si(index, "index_select index");
  return record("index_select", {x}, y, [in_sizes, d, si](const Tensor& g) {
    return std::vector<Tensor>{index_add(zeros(in_sizes, {g.dtype(), g.device()}), d, si.unpack(), g)};
  });
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_index_dtype("gather", index);
  int64_t d = wrap_index_dim(dim, x, "gather");
  Tensor y = Tensor::empty(index.sizes(), x.dtype(), x.device());
  kernels::gather("gather", x, d, index, y);
  Shape in_sizes = x.sizes();
  SavedTensor si(index, "gather index");
  return record("gather", {x}, y, [in_sizes, d, si](const Tensor& g) {
    return std::vector<Tensor>{scatter_add(zeros(in_sizes, {g.dtype(), g.device()}), d, si.unpack(), g)};
  });
}

// ---- writes through an index -----------------------------------------------------------------

Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  check_index_dtype("scatter", index);
  int64_t d = wrap_index_dim(dim, x, "scatter");
  Tensor y = raw_clone(x);
  kernels::scatter("scatter", y, d, index, src, kernels::ScatterMode::Assign);
  Shape src_sizes = src.sizes();
  SavedTensor si(index, "scatter index");
  return record("scatter", {x, src}, y, [d, si, src_sizes](const Tensor& g) {
    Tensor idx = si.unpack();
    // Positions overwritten by src take no gradient back to x.
    Tensor gx = scatter(g, d, idx, zeros(idx.sizes(), {g.dtype(), g.device()}));
    return std::vector<Tensor>{gx, pad_to(gather(g, d, idx), src_sizes)};
  });
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  check_index_dtype("scatter_add", index);
  int64_t d = wrap_index_dim(dim, x, "scatter_add");
  Tensor y = raw_clone(x);
  kernels::scatter("scatter_add", y, d, index, src, kernels::ScatterMode::Add);
  Shape src_sizes = src.sizes();
  SavedTensor si(index, "scatter_add index");
  return record("scatter_add", {x, src}, y, [d, si, src_sizes](const Tensor& g) {
    return std::vector<Tensor>{g, pad_to(gather(g, d, si.unpack()), src_sizes)};
  });
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src, const Scalar& alpha) {
  check_vector_index("index_add", index);
  int64_t d = wrap_index_dim(dim, x, "index_add");
  // src is x's shape with dim resized to the number of indices.
  Shape want = x.dim() == 0 ? Shape{} : x.sizes();
  if (x.dim() > 0) want[d] = index.numel();
  bool scalar_ok = x.dim() == 0 && src.numel() == 1 && src.dim() <= 1;
  HMR_CHECK(src.sizes() == want || scalar_ok, ShapeError, "index_add: expected src of shape ", want,
            " (input ", x.sizes(), " with dim ", d, " of size index.numel() = ", index.numel(),
            ") but found ", src.sizes());
  Tensor y = raw_clone(x);
  Tensor src_v = x.dim() == 0 ? as_vector1(src) : src;
  Tensor y_v = x.dim() == 0 ? as_vector1(y) : y;
  kernels::scatter("index_add", y_v, d, kernels::broadcast_index(index, src_v.sizes(), d), src_v,
                   kernels::ScatterMode::Add, alpha.to_double());
  SavedTensor si(index, "index_add index");
  Shape src_sizes = src.sizes();
  return record("index_add", {x, src}, y, [d, si, alpha, src_sizes](const Tensor& g) {
    Tensor gs = index_select(g, d, si.unpack());
    if (alpha.to_double() != 1.0) gs = mul(gs, alpha);
    return std::vector<Tensor>{g, reshape(gs, src_sizes)};
  });
}

// ---- masks -------------------------------------------------------------------------------------

Tensor masked_fill(const Tensor& x, const Tensor& mask, const Scalar& value) {
  check_bool_mask("masked_fill", mask);
  kernels::check_same_device("masked_fill", x, {&mask});
  Shape shape = kernels::broadcast_shapes(x.sizes(), mask.sizes(), "masked_fill");
  Tensor fill_value = Tensor::empty({}, x.dtype(), x.device());
  kernels::fill(fill_value, value.to_double());
  Tensor y = Tensor::empty(shape, x.dtype(), x.device());
  kernels::where(mask, fill_value, x, y);
  SavedTensor sm(mask, "masked_fill mask");
  return record("masked_fill", {x}, y,
                [sm](const Tensor& g) { return std::vector<Tensor>{masked_fill(g, sm.unpack(), 0)}; });
}

// Composed: the true positions of the broadcast mask become a 1-D index into the flattened
// input, so the backward is index_select's (an index_add into zeros) and expand's (a sum).
Tensor masked_select(const Tensor& x, const Tensor& mask) {
  check_bool_mask("masked_select", mask);
  kernels::check_same_device("masked_select", x, {&mask});
  Shape shape = kernels::broadcast_shapes(x.sizes(), mask.sizes(), "masked_select");
  Tensor positions = kernels::nonzero(
      Tensor::make_view(mask.storage(), shape, kernels::broadcast_strides(mask, shape, "masked_select"),
                        mask.offset(), mask.dtype())
          .contiguous()
          .view({-1}));
  return index_select(reshape(expand(x, shape), {-1}), 0, positions.view({-1}));
}

Tensor nonzero(const Tensor& x) { return kernels::nonzero(x); }

// ---- joining -------------------------------------------------------------------------------------

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  HMR_CHECK(!tensors.empty(), ValueError, "cat: expected a non-empty list of tensors");
  // PyTorch's legacy rule: 1-D empty tensors are skipped whatever the others' shapes,
  // but they still take part in type promotion.
  auto skipped = [](const Tensor& t) { return t.dim() == 1 && t.numel() == 0; };
  DType dtype = tensors[0].dtype();
  const Tensor* ref = nullptr;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    dtype = promote_types(dtype, t.dtype());
    HMR_CHECK(t.dim() > 0, ShapeError, "cat: zero-dimensional tensor (at position ", i,
              ") cannot be concatenated");
    HMR_CHECK(t.device() == tensors[0].device(), DeviceError, "cat: expected all tensors on ",
              tensors[0].device(), " but tensor ", i, " is on ", t.device());
    if (!ref && !skipped(t)) ref = &t;
  }
  if (!ref) return Tensor::empty({0}, dtype, tensors[0].device());
  int64_t d = wrap_dim(dim, ref->dim(), "cat");
  Shape out_shape = ref->sizes();
  out_shape[d] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (skipped(t)) continue;
    HMR_CHECK(t.dim() == ref->dim(), ShapeError, "cat: tensors must have the same number of dimensions: got ",
              ref->sizes(), " and ", t.sizes(), " (tensor ", i, ")");
    for (int64_t k = 0; k < t.dim(); ++k)
      HMR_CHECK(k == d || t.sizes()[k] == ref->sizes()[k], ShapeError,
                "cat: sizes of tensors must match except in dimension ", d, ": expected size ",
                ref->sizes()[k], " but got size ", t.sizes()[k], " in dimension ", k, " for tensor ", i,
                " (shapes ", ref->sizes(), " and ", t.sizes(), ")");
    out_shape[d] += t.sizes()[d];
  }
  Tensor y = Tensor::empty(out_shape, dtype, ref->device());
  std::vector<int64_t> starts(tensors.size(), 0);
  int64_t start = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (skipped(tensors[i])) continue;
    starts[i] = start;
    int64_t len = tensors[i].sizes()[d];
    kernels::copy(narrow(y, d, start, len), tensors[i]);  // y has no history: a plain view
    start += len;
  }
  std::vector<Shape> sizes;
  for (const Tensor& t : tensors) sizes.push_back(t.sizes());
  return record("cat", tensors, y, [d, starts, sizes](const Tensor& g) {
    std::vector<Tensor> grads;
    for (size_t i = 0; i < sizes.size(); ++i) {
      bool was_skipped = sizes[i].size() == 1 && sizes[i][0] == 0;
      grads.push_back(was_skipped ? zeros(sizes[i], {g.dtype(), g.device()})
                                  : narrow(g, d, starts[i], sizes[i][d]));
    }
    return grads;
  });
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  HMR_CHECK(!tensors.empty(), ValueError, "stack: expected a non-empty list of tensors");
  for (size_t i = 1; i < tensors.size(); ++i)
    HMR_CHECK(tensors[i].sizes() == tensors[0].sizes(), ShapeError,
              "stack: expected each tensor to be equal size, but got ", tensors[0].sizes(),
              " at entry 0 and ", tensors[i].sizes(), " at entry ", i);
  int64_t d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  for (const Tensor& t : tensors) parts.push_back(unsqueeze(t, d));
  return cat(parts, d);
}

// ---- splitting (views) ------------------------------------------------------------------------------

std::vector<Tensor> split_with_sizes(const Tensor& x, const Shape& sizes, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim(), "split_with_sizes");
  int64_t total = 0;
  for (int64_t s : sizes) {
    HMR_CHECK(s >= 0, ValueError, "split_with_sizes: split sizes must be non-negative, found ", sizes);
    total += s;
  }
  HMR_CHECK(total == x.sizes()[d], ShapeError, "split_with_sizes: expected split sizes that sum exactly to ",
            x.sizes()[d], " (dimension ", d, " of input shape ", x.sizes(), ") but found ", sizes);
  std::vector<Tensor> parts;
  int64_t start = 0;
  for (int64_t s : sizes) {
    parts.push_back(narrow(x, d, start, s));
    start += s;
  }
  return parts;
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim(), "split");
  int64_t n = x.sizes()[d];
  HMR_CHECK(split_size > 0 || (split_size == 0 && n == 0), ValueError, "split: split_size must be positive ",
            "(0 only for an empty dimension), found ", split_size, " for dimension ", d, " of shape ",
            x.sizes());
  int64_t parts = split_size == 0 ? 1 : std::max<int64_t>(1, (n + split_size - 1) / split_size);
  Shape sizes(parts, split_size);
  sizes.back() = n - split_size * (parts - 1);
  return split_with_sizes(x, sizes, d);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  HMR_CHECK(chunks > 0, ValueError, "chunk: expected chunks > 0, found ", chunks);
  int64_t d = wrap_dim(dim, x.dim(), "chunk");
  int64_t n = x.sizes()[d];
  // An empty dim still gives `chunks` (empty) pieces, as PyTorch does.
  if (n == 0) return split_with_sizes(x, Shape(chunks, 0), d);
  return split(x, (n + chunks - 1) / chunks, d);
}

std::vector<Tensor> unbind(const Tensor& x, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim(), "unbind");
  std::vector<Tensor> parts;
  for (int64_t i = 0; i < x.sizes()[d]; ++i) parts.push_back(select(x, d, i));
  return parts;
}

// ---- copies with a new layout -----------------------------------------------------------------------

// Output dim i (size r_i * s_i) is viewed as the pair (r_i, s_i); x is broadcast along r_i.
Tensor repeat(const Tensor& x, const Shape& repeats) {
  int64_t n = static_cast<int64_t>(repeats.size());
  HMR_CHECK(n >= x.dim(), ShapeError, "repeat: number of repeat dims (", n,
            ") can not be smaller than the number of dimensions of the tensor (shape ", x.sizes(), ")");
  for (int64_t r : repeats)
    HMR_CHECK(r >= 0, ValueError, "repeat: repeats must be non-negative, found ", repeats);
  int64_t lead = n - x.dim();
  Shape out_shape(n), pair_sizes, src_sizes, src_strides, dst_strides;
  for (int64_t i = 0; i < n; ++i) {
    int64_t s = i < lead ? 1 : x.sizes()[i - lead];
    out_shape[i] = repeats[i] * s;
    pair_sizes.insert(pair_sizes.end(), {repeats[i], s});
    src_sizes.insert(src_sizes.end(), {1, s});
    src_strides.insert(src_strides.end(), {0, i < lead ? 0 : x.strides()[i - lead]});
  }
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  if (y.numel() > 0) {
    for (int64_t i = 0; i < n; ++i)
      dst_strides.insert(dst_strides.end(), {pair_sizes[2 * i + 1] * y.strides()[i], y.strides()[i]});
    Tensor dst = Tensor::make_view(y.storage(), pair_sizes, dst_strides, y.offset(), y.dtype());
    kernels::copy(dst, Tensor::make_view(x.storage(), src_sizes, src_strides, x.offset(), x.dtype()));
  }
  Shape in_sizes = x.sizes();
  return record("repeat", {x}, y, [pair_sizes, in_sizes, n](const Tensor& g) {
    Shape repeat_dims;
    for (int64_t i = 0; i < n; ++i) repeat_dims.push_back(2 * i);
    Tensor gp = reshape(g, pair_sizes);
    if (!repeat_dims.empty()) gp = sum(gp, repeat_dims);
    return std::vector<Tensor>{reshape(gp, in_sizes)};
  });
}

Tensor flip(const Tensor& x, const Shape& dims) {
  Shape strides = x.strides();
  std::vector<bool> seen(x.dim(), false);
  int64_t offset = x.offset();
  for (int64_t dim : dims) {
    int64_t d = wrap_dim(dim, x.dim(), "flip");
    HMR_CHECK(!seen[d], ShapeError, "flip: dim ", d, " appears more than once in ", dims);
    seen[d] = true;
    // Reading backwards: start at the last element of the dim and step by -stride.
    if (x.sizes()[d] > 0) offset += (x.sizes()[d] - 1) * strides[d];
    strides[d] = -strides[d];
  }
  Tensor y = Tensor::empty(x.sizes(), x.dtype(), x.device());
  kernels::copy(y, Tensor::make_view(x.storage(), x.sizes(), strides, offset, x.dtype()));
  return record("flip", {x}, y, [dims](const Tensor& g) { return std::vector<Tensor>{flip(g, dims)}; });
}

namespace {

// Keeps the elements of the last two dims with col - row <= diagonal (lower) or >= diagonal
// (upper); the mask is built on x's device from two aranges and broadcast over batch dims.
Tensor triangle(const char* op, const Tensor& x, int64_t diagonal, bool lower) {
  HMR_CHECK(x.dim() >= 2, ShapeError, op, ": expected a tensor of at least 2 dimensions but found shape ",
            x.sizes());
  int64_t rows = x.sizes()[x.dim() - 2], cols = x.sizes()[x.dim() - 1];
  Tensor row = arange(rows, TensorOptions(DType::I64, x.device())).view({rows, 1});
  Tensor col = arange(cols, TensorOptions(DType::I64, x.device())).view({1, cols});
  Tensor offset = Tensor::empty({rows, cols}, DType::I64, x.device());
  kernels::binary(kernels::BinaryOp::Sub, col, row, offset);
  Tensor keep = Tensor::empty({rows, cols}, DType::Bool, x.device());
  kernels::binary_scalar(lower ? kernels::BinaryOp::Le : kernels::BinaryOp::Ge, offset,
                         static_cast<double>(diagonal), false, keep);
  Tensor zero = Tensor::empty({}, x.dtype(), x.device());
  kernels::fill(zero, 0.0);
  Tensor y = Tensor::empty(x.sizes(), x.dtype(), x.device());
  kernels::where(keep, x, zero, y);
  return y;
}

}  // namespace

Tensor tril(const Tensor& x, int64_t diagonal) {
  Tensor y = triangle("tril", x, diagonal, true);
  return record("tril", {x}, y,
                [diagonal](const Tensor& g) { return std::vector<Tensor>{tril(g, diagonal)}; });
}

Tensor triu(const Tensor& x, int64_t diagonal) {
  Tensor y = triangle("triu", x, diagonal, false);
  return record("triu", {x}, y,
                [diagonal](const Tensor& g) { return std::vector<Tensor>{triu(g, diagonal)}; });
}

}  // namespace hmr
