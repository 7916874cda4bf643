// Checks and device dispatch for the linear-algebra kernels, and the layout logic that lets
// matmul hand strided, transposed and broadcast operands to one batched GEMM without copies.
#include "kernels/linalg.h"

#include <algorithm>
#include <atomic>

#include "kernels/backend.h"
#include "kernels/elementwise.h"
#include "kernels/plan.h"

namespace hmr::kernels {

namespace {

std::atomic<bool> g_allow_tf32{false};

Shape batch_shape_of(const Tensor& t) { return Shape(t.sizes().begin(), t.sizes().end() - 2); }
Shape batch_strides_of(const Tensor& t) { return Shape(t.strides().begin(), t.strides().end() - 2); }

// A GEMM operand: the tensor whose memory is read, whether its matrices are stored
// transposed, and their leading dimension.
struct Operand {
  Tensor t;
  bool trans = false;
  int64_t ld = 0;
};

// A copy of t's matrices in row-major order. Broadcast (stride-0) batch dims stay broadcast,
// so an expanded operand is copied once, not once per use.
Tensor compact_copy(const Tensor& t) {
  Shape sizes = t.sizes(), strides = t.strides();
  for (int64_t d = 0; d < t.dim() - 2; ++d)
    if (strides[d] == 0) sizes[d] = 1;
  Tensor src = Tensor::make_view(t.storage(), sizes, strides, t.offset(), t.dtype());
  Tensor dst = Tensor::empty(sizes, t.dtype(), t.device());
  copy(dst, src);
  Shape out_strides = dst.strides();
  for (int64_t d = 0; d < t.dim() - 2; ++d)
    if (t.strides()[d] == 0) out_strides[d] = 0;
  return Tensor::make_view(dst.storage(), t.sizes(), out_strides, dst.offset(), dst.dtype());
}

// How the GEMM reads t's (rows x cols) matrices: as they are when rows have a unit stride,
// transposed when columns do, otherwise from a compact copy. A dim of size 1 may have any
// stride, so it never forces a copy.
Operand gemm_operand(const Tensor& t) {
  const int64_t rows = t.size(-2), cols = t.size(-1);
  const int64_t row_stride = t.stride(-2), col_stride = t.stride(-1);
  if ((cols == 1 || col_stride == 1) && (rows == 1 || row_stride >= std::max<int64_t>(cols, 1)))
    return {t, false, rows == 1 ? std::max<int64_t>(cols, 1) : row_stride};
  if ((rows == 1 || row_stride == 1) && (cols == 1 || col_stride >= std::max<int64_t>(rows, 1)))
    return {t, true, cols == 1 ? std::max<int64_t>(rows, 1) : col_stride};
  return {compact_copy(t), false, std::max<int64_t>(cols, 1)};
}

// out can be written by the GEMM directly: unit column stride, no overlapping batch entries.
bool writable_in_place(const Tensor& out) {
  const int64_t rows = out.size(-2), cols = out.size(-1);
  if (!(cols == 1 || out.stride(-1) == 1)) return false;
  if (!(rows == 1 || out.stride(-2) >= cols)) return false;
  for (int64_t d = 0; d < out.dim() - 2; ++d)
    if (out.sizes()[d] > 1 && out.strides()[d] == 0) return false;
  return true;
}

const char* element_ptr(const Tensor& t, int64_t offset) {
  return static_cast<const char*>(t.raw_data()) + offset * t.itemsize();
}

// "matrix [1, 2] of the batch": the multi-index of flat batch index i in batch shape.
std::string batch_position(int64_t i, const Shape& batch) {
  if (batch.empty()) return "the matrix";
  Shape idx(batch.size());
  for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
    idx[d] = i % batch[d];
    i /= batch[d];
  }
  return str("matrix ", idx, " of the batch");
}

void check_square(const char* op, const Tensor& a) {
  HMR_CHECK(a.dim() >= 2 && a.size(-1) == a.size(-2), ShapeError, op,
            ": expected a square matrix or a batch of them (..., n, n) but found shape ", a.sizes());
  HMR_CHECK(a.dtype() == DType::F32 || a.dtype() == DType::F64, DTypeError, op,
            ": expected float32 or float64 but found ", a.dtype());
}

void check_out(const char* op, const Tensor& out, const Shape& want, const Tensor& like) {
  HMR_CHECK(out.sizes() == want, ShapeError, op, ": expected an output of shape ", want, " but found ",
            out.sizes());
  HMR_CHECK(out.dtype() == like.dtype(), DTypeError, op, ": expected an output of dtype ", like.dtype(),
            " but found ", out.dtype());
  check_same_device(op, out, {&like});
}

// A fresh contiguous copy of t viewed as (batch, rows, cols): the scratch the small-matrix
// routines work in.
Tensor batched_copy(const Tensor& t, int64_t batch) {
  Tensor c = Tensor::empty(t.sizes(), t.dtype(), t.device());
  copy(c, t);
  return Tensor::make_view(c.storage(), {batch, t.size(-2), t.size(-1)},
                           {t.size(-2) * t.size(-1), t.size(-1), 1}, c.offset(), c.dtype());
}

// out <- result, where result is contiguous with out's number of elements.
void copy_out(const Tensor& out, const Tensor& result) {
  copy(out, Tensor::make_view(result.storage(), out.sizes(), contiguous_strides(out.sizes()), result.offset(),
                              result.dtype()));
}

[[noreturn]] void throw_singular(const char* op, int64_t index, const Tensor& a) {
  throw ValueError(str(op, ": ", batch_position(index, batch_shape_of(a)),
                       " is singular (a zero pivot in its LU", " factorization; input shape ", a.sizes(),
                       ")"));
}

}  // namespace

void set_allow_tf32(bool allow) { g_allow_tf32 = allow; }
bool allow_tf32() { return g_allow_tf32; }

void gemm(const GemmArgs& g) {
  HMR_CHECK(g.m >= 0 && g.n >= 0 && g.k >= 0 && g.batch >= 0, ValueError, "gemm: negative size (m ", g.m,
            ", n ", g.n, ", k ", g.k, ", batch ", g.batch, ")");
  const int64_t a_cols = g.trans_a ? g.m : g.k, b_cols = g.trans_b ? g.k : g.n;
  HMR_CHECK(g.lda >= std::max<int64_t>(1, a_cols) && g.ldb >= std::max<int64_t>(1, b_cols) &&
                g.ldc >= std::max<int64_t>(1, g.n),
            ValueError, "gemm: leading dimensions (", g.lda, ", ", g.ldb, ", ", g.ldc,
            ") shorter than the stored rows (", a_cols, ", ", b_cols, ", ", g.n, ")");
  HMR_CHECK(g.batch <= 1 || g.stride_c != 0, ValueError, "gemm: a batch of ", g.batch,
            " products cannot share one output matrix");
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  HMR_DISPATCH_DEVICE(g.device, gemm(g));
}

void matmul(const Tensor& a, const Tensor& b, const Tensor& out) {
  HMR_CHECK(a.dim() >= 2 && a.dim() == b.dim() && a.dim() == out.dim(), ShapeError,
            "matmul kernel: expected operands of equal rank >= 2 but found ", a.sizes(), ", ", b.sizes(),
            " and output ", out.sizes());
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  Shape batch = batch_shape_of(out);
  HMR_CHECK(batch_shape_of(a) == batch && batch_shape_of(b) == batch && b.size(-2) == k &&
                out.size(-2) == m && out.size(-1) == n,
            ShapeError, "matmul kernel: shapes ", a.sizes(), " @ ", b.sizes(), " do not give output ",
            out.sizes());
  check_same_device("matmul", out, {&a, &b});
  check_same_dtype("matmul", a, b);
  check_same_dtype("matmul", a, out);
  if (out.numel() == 0) return;
  if (k == 0) {
    fill(out, 0);
    return;
  }
  if (!writable_in_place(out)) {
    Tensor tmp = Tensor::empty(out.sizes(), out.dtype(), out.device());
    matmul(a, b, tmp);
    copy(out, tmp);
    return;
  }
  Operand oa = gemm_operand(a), ob = gemm_operand(b);
  const int64_t ldc = m == 1 ? n : out.stride(-2);

  // Merge batch dims that are uniformly strided in all three operands; the innermost merged
  // dim becomes the GEMM's batch, any others are looped over here.
  Shape sa = batch_strides_of(oa.t), sb = batch_strides_of(ob.t), sc = batch_strides_of(out);
  const Shape* strides[3] = {&sc, &sa, &sb};
  Plan<3> plan = make_plan<3>(batch, strides, "matmul");
  GemmArgs g;
  g.dtype = a.dtype();
  g.device = out.device();
  g.trans_a = oa.trans;
  g.trans_b = ob.trans;
  g.m = m;
  g.n = n;
  g.k = k;
  g.lda = oa.ld;
  g.ldb = ob.ld;
  g.ldc = ldc;
  int64_t outer = 1;
  if (plan.ndim > 0) {
    const int inner = plan.ndim - 1;
    g.batch = plan.sizes[inner];
    g.stride_c = plan.strides[0][inner];
    g.stride_a = plan.strides[1][inner];
    g.stride_b = plan.strides[2][inner];
    for (int d = 0; d < inner; ++d) outer *= plan.sizes[d];
  }
  for (int64_t o = 0; o < outer; ++o) {
    int64_t off[3] = {0, 0, 0};
    for (int64_t d = plan.ndim - 2, rem = o; d >= 0; --d) {
      const int64_t i = rem % plan.sizes[d];
      rem /= plan.sizes[d];
      for (int q = 0; q < 3; ++q) off[q] += i * plan.strides[q][d];
    }
    g.c = const_cast<char*>(element_ptr(out, off[0]));
    g.a = element_ptr(oa.t, off[1]);
    g.b = element_ptr(ob.t, off[2]);
    gemm(g);
  }
}

void inverse(const Tensor& a, const Tensor& out) {
  check_square("inverse", a);
  check_out("inverse", out, a.sizes(), a);
  const int64_t n = a.size(-1), batch = shape_numel(batch_shape_of(a));
  if (out.numel() == 0) return;
  Tensor lu = batched_copy(a, batch);
  Tensor rhs = Tensor::empty({batch, n, n}, a.dtype(), a.device());
  fill(rhs, 0);
  fill(Tensor::make_view(rhs.storage(), {batch, n}, {n * n, n + 1}, rhs.offset(), rhs.dtype()), 1);
  int64_t failed = -1;
  HMR_DISPATCH_DEVICE(a, lu_solve(lu, rhs, &failed));
  if (failed >= 0) throw_singular("inverse", failed, a);
  copy_out(out, rhs);
}

void det(const Tensor& a, const Tensor& out) {
  check_square("det", a);
  check_out("det", out, batch_shape_of(a), a);
  const int64_t n = a.size(-1), batch = shape_numel(batch_shape_of(a));
  if (batch == 0) return;
  if (n == 0) {
    fill(out, 1);  // the empty product, as numpy and torch
    return;
  }
  Tensor lu = batched_copy(a, batch);
  Tensor result = Tensor::empty({batch}, a.dtype(), a.device());
  HMR_DISPATCH_DEVICE(a, lu_det(lu, result));
  copy_out(out, result);
}

void solve(const Tensor& a, const Tensor& b, const Tensor& out) {
  check_square("solve", a);
  HMR_CHECK(b.dim() == a.dim() && b.size(-2) == a.size(-1) && batch_shape_of(b) == batch_shape_of(a),
            ShapeError, "solve: expected b of shape (..., ", a.size(-1), ", k) with the batch of a ",
            a.sizes(), " but found ", b.sizes());
  check_same_dtype("solve", a, b);
  check_same_device("solve", a, {&b});
  check_out("solve", out, b.sizes(), a);
  const int64_t batch = shape_numel(batch_shape_of(a));
  if (out.numel() == 0) return;
  Tensor lu = batched_copy(a, batch);
  Tensor rhs = batched_copy(b, batch);
  int64_t failed = -1;
  HMR_DISPATCH_DEVICE(a, lu_solve(lu, rhs, &failed));
  if (failed >= 0) throw_singular("solve", failed, a);
  copy_out(out, rhs);
}

void svd3x3(const Tensor& a, const Tensor& u, const Tensor& s, const Tensor& v) {
  HMR_CHECK(a.dim() >= 2 && a.size(-1) == 3 && a.size(-2) == 3, ShapeError,
            "svd3x3: expected a (..., 3, 3) tensor but found shape ", a.sizes());
  HMR_CHECK(a.dtype() == DType::F32 || a.dtype() == DType::F64, DTypeError,
            "svd3x3: expected float32 or float64 but found ", a.dtype());
  Shape batch = batch_shape_of(a), s_shape = batch;
  s_shape.push_back(3);
  check_out("svd3x3", u, a.sizes(), a);
  check_out("svd3x3", v, a.sizes(), a);
  check_out("svd3x3", s, s_shape, a);
  const int64_t count = shape_numel(batch);
  if (count == 0) return;
  Tensor ac = batched_copy(a, count);
  Tensor uc = Tensor::empty({count, 3, 3}, a.dtype(), a.device());
  Tensor vc = Tensor::empty({count, 3, 3}, a.dtype(), a.device());
  Tensor sc = Tensor::empty({count, 3}, a.dtype(), a.device());
  HMR_DISPATCH_DEVICE(a, svd3x3(ac, uc, sc, vc));
  copy_out(u, uc);
  copy_out(s, sc);
  copy_out(v, vc);
}

}  // namespace hmr::kernels
