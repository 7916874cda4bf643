// The shape of an elementwise loop, shared by the CPU driver and the CUDA launcher (the idea
// of PyTorch's TensorIterator, smaller): operands are broadcast to the output shape (stride 0
// along broadcast dims), size-1 dims are dropped, and dims that are contiguous in every
// operand are merged, so most loops end up 1-D. Operand 0 is the output.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "tensor/tensor.h"

namespace hmr::kernels {

constexpr int kMaxDims = 16;

template <int N>
struct Plan {
  int ndim = 0;
  int64_t numel = 0;
  int64_t sizes[kMaxDims] = {};        // outermost first
  int64_t strides[N][kMaxDims] = {};   // in elements; 0 along broadcast dims
  bool contiguous = false;             // a flat 1-D loop with unit strides in every operand
};

// Shape that a and b broadcast to (NumPy rules); op names the caller in the error.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Strides of t seen as a tensor of shape `to` (t must broadcast to it).
Shape broadcast_strides(const Tensor& t, const Shape& to, const char* op);

template <int N>
Plan<N> make_plan(const Shape& out_sizes, const Shape* const* strides, const char* op) {
  Plan<N> p;
  int nd = static_cast<int>(out_sizes.size());
  HMR_CHECK(nd <= kMaxDims, ShapeError, op, ": at most ", kMaxDims, " dimensions are supported, found ", nd);
  p.numel = shape_numel(out_sizes);
  // Keep dims of size != 1, then merge neighbours that are contiguous in every operand.
  int k = 0;
  for (int d = 0; d < nd; ++d) {
    if (out_sizes[d] == 1) continue;
    bool merge = k > 0;
    for (int i = 0; i < N && merge; ++i)
      merge = p.strides[i][k - 1] == (*strides[i])[d] * out_sizes[d];
    if (merge) {
      p.sizes[k - 1] *= out_sizes[d];
      for (int i = 0; i < N; ++i) p.strides[i][k - 1] = (*strides[i])[d];
      continue;
    }
    p.sizes[k] = out_sizes[d];
    for (int i = 0; i < N; ++i) p.strides[i][k] = (*strides[i])[d];
    ++k;
  }
  p.ndim = k;
  p.contiguous = k == 0;
  if (k == 1) {
    p.contiguous = true;
    for (int i = 0; i < N; ++i) p.contiguous = p.contiguous && p.strides[i][0] == 1;
  }
  return p;
}

// The plan of an elementwise op writing out from inputs ins (each broadcast to out's shape).
template <int N>
Plan<N> plan_of(const char* op, const Tensor& out, std::initializer_list<const Tensor*> ins) {
  std::vector<Shape> strides;
  strides.reserve(N);
  strides.push_back(out.strides());
  for (const Tensor* t : ins) strides.push_back(broadcast_strides(*t, out.sizes(), op));
  HMR_INTERNAL_CHECK(static_cast<int>(strides.size()) == N, op);
  const Shape* ptrs[N];
  for (int i = 0; i < N; ++i) ptrs[i] = &strides[i];
  return make_plan<N>(out.sizes(), ptrs, op);
}

}  // namespace hmr::kernels
