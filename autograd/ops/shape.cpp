// Views and copies. A view shares its input's storage; its backward maps the gradient back
// to the input's shape (the adjoint of the view), and mark_view() lets in-place writes
// through it update the base's history.
#include <algorithm>
#include <numeric>

#include "autograd/function.h"
#include "autograd/ops.h"
#include "kernels/elementwise.h"
#include "kernels/plan.h"

namespace hmr {

namespace {

Tensor make_view(const Tensor& x, const Shape& sizes, const Shape& strides, int64_t offset) {
  return Tensor::make_view(x.storage(), sizes, strides, offset, x.dtype());
}

Tensor record_view(const char* name, const Tensor& x, Tensor y,
                   std::function<std::vector<Tensor>(const Tensor&)> backward) {
  y = record(name, {x}, y, std::move(backward));
  mark_view(y, x);
  return y;
}

// Strides for viewing x as shape without copying, or empty if impossible (PyTorch's computeStride).
std::optional<Shape> view_strides(const Tensor& x, const Shape& shape) {
  if (x.numel() == 0 || x.is_contiguous()) return contiguous_strides(shape);
  const Shape& old_sizes = x.sizes();
  const Shape& old_strides = x.strides();
  Shape out(shape.size());
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.empty() ? 1 : old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = x.dim() - 1; d >= 0; --d) {
    tensor_numel *= old_sizes[d];
    if (d == 0 || (old_sizes[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

Shape infer_shape(const Shape& shape, int64_t numel, const char* op) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      HMR_CHECK(infer < 0, ShapeError, op, ": only one dimension can be inferred in ", shape);
      infer = static_cast<int64_t>(i);
    } else {
      HMR_CHECK(out[i] >= 0, ShapeError, op, ": invalid size in ", shape);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    HMR_CHECK(known != 0 && numel % known == 0, ShapeError, op, ": shape ", shape,
              " is invalid for input of size ", numel);
    out[infer] = numel / known;
  }
  HMR_CHECK(shape_numel(out) == numel, ShapeError, op, ": shape ", shape, " is invalid for input of size ", numel);
  return out;
}

}  // namespace

Tensor view(const Tensor& x, const Shape& shape) {
  Shape sizes = infer_shape(shape, x.numel(), "view");
  auto strides = view_strides(x, sizes);
  HMR_CHECK(strides, ShapeError, "view: size ", sizes, " is not compatible with input of size ", x.sizes(),
            " and strides ", x.strides(), " (at least one dimension spans two contiguous subspaces; use reshape)");
  Shape in_sizes = x.sizes();
  return record_view("view", x, make_view(x, sizes, *strides, x.offset()),
                     [in_sizes](const Tensor& g) { return std::vector<Tensor>{reshape(g, in_sizes)}; });
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape sizes = infer_shape(shape, x.numel(), "reshape");
  if (view_strides(x, sizes)) return view(x, sizes);
  return view(contiguous(x), sizes);
}

// One past the last storage element a geometry reaches (non-negative strides).
static int64_t storage_end(const Shape& sizes, const Shape& strides, int64_t offset) {
  int64_t end = offset + 1;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == 0) return offset;
    end += (sizes[i] - 1) * strides[i];
  }
  return end;
}

Tensor as_strided(const Tensor& x, const Shape& sizes, const Shape& strides, int64_t offset) {
  Tensor y = make_view(x, sizes, strides, offset);
  Shape in_sizes = x.sizes(), in_strides = x.strides();
  int64_t in_offset = x.offset();
  return record_view("as_strided", x, y, [=](const Tensor& g) {
    // Both geometries index x's storage, whatever x's own layout: scatter g into a zeroed copy
    // of that storage range through y's geometry, then read x's elements back through x's
    // (exact when neither x nor y overlaps itself).
    int64_t lo = std::min(in_offset, offset);
    int64_t hi = std::max(storage_end(in_sizes, in_strides, in_offset), storage_end(sizes, strides, offset));
    Tensor buffer = zeros({std::max<int64_t>(hi - lo, 0)}, {g.dtype(), g.device()});
    Tensor region = Tensor::make_view(buffer.storage(), sizes, strides, offset - lo, g.dtype());
    kernels::binary(kernels::BinaryOp::Add, region, g, region);
    Tensor gx = Tensor::empty(in_sizes, g.dtype(), g.device());
    kernels::copy(gx, Tensor::make_view(buffer.storage(), in_sizes, in_strides, in_offset - lo, g.dtype()));
    return std::vector<Tensor>{gx};
  });
}

Tensor permute(const Tensor& x, const Shape& dims) {
  int64_t n = x.dim();
  HMR_CHECK(static_cast<int64_t>(dims.size()) == n, ShapeError, "permute: expected ", n,
            " dims for a tensor of shape ", x.sizes(), " but found ", dims);
  Shape sizes(n), strides(n), inverse(n);
  std::vector<bool> seen(n, false);
  for (int64_t i = 0; i < n; ++i) {
    int64_t d = wrap_dim(dims[i], n, "permute");
    HMR_CHECK(!seen[d], ShapeError, "permute: repeated dim in ", dims);
    seen[d] = true;
    sizes[i] = x.sizes()[d];
    strides[i] = x.strides()[d];
    inverse[d] = i;
  }
  return record_view("permute", x, make_view(x, sizes, strides, x.offset()),
                     [inverse](const Tensor& g) { return std::vector<Tensor>{permute(g, inverse)}; });
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  int64_t n = x.dim();
  if (n == 0) return x;
  Shape dims(n);
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[wrap_dim(d0, n, "transpose")], dims[wrap_dim(d1, n, "transpose")]);
  return permute(x, dims);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  int64_t d = wrap_dim(dim, x.dim(), "slice");
  HMR_CHECK(step > 0, ValueError, "slice: step must be positive, found ", step);
  int64_t n = x.sizes()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape sizes = x.sizes(), strides = x.strides();
  sizes[d] = (end - start + step - 1) / step;
  strides[d] *= step;
  Shape in_sizes = x.sizes();
  return record_view("slice", x, make_view(x, sizes, strides, x.offset() + start * x.strides()[d]),
                     [=](const Tensor& g) {
                       Tensor gx = zeros(in_sizes, {g.dtype(), g.device()});
                       Tensor region = slice(gx, d, start, end, step);
                       kernels::copy(region, g);
                       return std::vector<Tensor>{gx};
                     });
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  int64_t d = wrap_dim(dim, x.dim(), "narrow");
  int64_t n = x.sizes()[d];
  if (start < 0) start += n;
  HMR_CHECK(start >= 0 && length >= 0 && start + length <= n, IndexError, "narrow: start ", start,
            " + length ", length, " exceeds dimension size ", n, " of shape ", x.sizes());
  return slice(x, d, start, start + length, 1);
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  int64_t d = wrap_dim(dim, x.dim(), "select");
  int64_t n = x.sizes()[d];
  HMR_CHECK(index >= -n && index < n, IndexError, "select: index ", index, " is out of bounds for dimension ",
            d, " with size ", n);
  if (index < 0) index += n;
  Shape sizes = x.sizes(), strides = x.strides();
  sizes.erase(sizes.begin() + d);
  strides.erase(strides.begin() + d);
  Shape in_sizes = x.sizes();
  return record_view("select", x, make_view(x, sizes, strides, x.offset() + index * x.strides()[d]),
                     [=](const Tensor& g) {
                       Tensor gx = zeros(in_sizes, {g.dtype(), g.device()});
                       kernels::copy(select(gx, d, index), g);
                       return std::vector<Tensor>{gx};
                     });
}

Tensor expand(const Tensor& x, const Shape& sizes_in) {
  int64_t n = static_cast<int64_t>(sizes_in.size());
  HMR_CHECK(n >= x.dim(), ShapeError, "expand: the number of sizes provided (", n,
            ") must be greater or equal to the number of dimensions in the tensor (", x.dim(), ")");
  Shape sizes(n), strides(n);
  for (int64_t i = n - 1; i >= 0; --i) {
    int64_t j = i - (n - x.dim());
    int64_t want = sizes_in[i];
    if (j >= 0) {
      int64_t have = x.sizes()[j];
      if (want == -1) want = have;
      HMR_CHECK(have == want || have == 1, ShapeError, "expand: the expanded size ", want,
                " must match the existing size ", have, " at non-singleton dimension ", i,
                " (target ", sizes_in, ", tensor ", x.sizes(), ")");
      sizes[i] = want;
      strides[i] = have == want ? x.strides()[j] : 0;
    } else {
      HMR_CHECK(want >= 0, ShapeError, "expand: -1 is not allowed in a leading, non-existing dimension");
      sizes[i] = want;
      strides[i] = 0;
    }
  }
  Shape in_sizes = x.sizes();
  return record_view("expand", x, make_view(x, sizes, strides, x.offset()),
                     [in_sizes](const Tensor& g) { return std::vector<Tensor>{sum_to(g, in_sizes)}; });
}

Tensor broadcast_to(const Tensor& x, const Shape& sizes) { return expand(x, sizes); }

std::vector<Tensor> broadcast_tensors(const std::vector<Tensor>& tensors) {
  Shape shape;
  for (const Tensor& t : tensors) shape = kernels::broadcast_shapes(shape, t.sizes(), "broadcast_tensors");
  std::vector<Tensor> out;
  for (const Tensor& t : tensors) out.push_back(expand(t, shape));
  return out;
}

Tensor squeeze(const Tensor& x) {
  Shape sizes;
  for (int64_t s : x.sizes())
    if (s != 1) sizes.push_back(s);
  return reshape(x, sizes);
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  if (x.dim() == 0) return view(x, {});
  int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  if (x.sizes()[d] != 1) return view(x, x.sizes());
  Shape sizes = x.sizes();
  sizes.erase(sizes.begin() + d);
  return reshape(x, sizes);
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape sizes = x.sizes(), strides = x.strides();
  int64_t st = d < x.dim() ? x.strides()[d] * x.sizes()[d] : 1;
  sizes.insert(sizes.begin() + d, 1);
  strides.insert(strides.begin() + d, st);
  Shape in_sizes = x.sizes();
  return record_view("unsqueeze", x, make_view(x, sizes, strides, x.offset()),
                     [in_sizes](const Tensor& g) { return std::vector<Tensor>{reshape(g, in_sizes)}; });
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  int64_t s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  HMR_CHECK(s <= e, ShapeError, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape sizes(x.sizes().begin(), x.sizes().begin() + s);
  int64_t merged = 1;
  for (int64_t i = s; i <= e; ++i) merged *= x.sizes()[i];
  sizes.push_back(merged);
  sizes.insert(sizes.end(), x.sizes().begin() + e + 1, x.sizes().end());
  return reshape(x, sizes);
}

Tensor unflatten(const Tensor& x, int64_t dim, const Shape& sizes) {
  int64_t d = wrap_dim(dim, x.dim(), "unflatten");
  Shape out(x.sizes().begin(), x.sizes().begin() + d);
  Shape inner = infer_shape(sizes, x.sizes()[d], "unflatten");
  out.insert(out.end(), inner.begin(), inner.end());
  out.insert(out.end(), x.sizes().begin() + d + 1, x.sizes().end());
  return view(x, out);
}

Tensor clone(const Tensor& x) {
  Tensor y = Tensor::empty(x.sizes(), x.dtype(), x.device());
  kernels::copy(y, x);
  return record("clone", {x}, y, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor contiguous(const Tensor& x) { return x.is_contiguous() ? x : clone(x); }

Tensor to(const Tensor& x, Device device, DType dtype) {
  if (x.device() == device && x.dtype() == dtype) return x;
  Tensor y = Tensor::empty(x.sizes(), dtype, device);
  kernels::copy(y, x);
  Device from = x.device();
  DType from_dtype = x.dtype();
  if (!is_floating(dtype)) return y;  // integer results carry no gradient
  return record("to", {x}, y, [from, from_dtype](const Tensor& g) {
    return std::vector<Tensor>{to(g, from, from_dtype)};
  });
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.sizes() == shape) return g;
  int64_t lead = g.dim() - static_cast<int64_t>(shape.size());
  HMR_CHECK(lead >= 0, ShapeError, "sum_to: cannot sum shape ", g.sizes(), " to ", shape);
  Shape dims;
  for (int64_t i = 0; i < g.dim(); ++i) {
    if (i < lead) {
      dims.push_back(i);
      continue;
    }
    int64_t want = shape[i - lead];
    HMR_CHECK(want == g.sizes()[i] || want == 1, ShapeError, "sum_to: cannot sum shape ", g.sizes(), " to ", shape);
    if (want == 1 && g.sizes()[i] != 1) dims.push_back(i);
  }
  Tensor r = dims.empty() ? g : sum(g, dims, true);
  return reshape(r, shape);
}

}  // namespace hmr
