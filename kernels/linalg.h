// Linear-algebra kernels, device-dispatched: the batched strided GEMM behind matmul (Eigen on
// the CPU, cuBLAS on CUDA) and the batched small-matrix routines (LU inverse/det/solve, 3x3
// SVD) whose math lives once in kernels/small_matrix.h. Matrices are row-major, as tensors.
#pragma once

#include <cstdint>

#include "tensor/dispatch.h"
#include "tensor/tensor.h"

namespace hmr::kernels {

// One batched GEMM over raw strided memory, row-major:
//   for p in [0, batch): C_p = alpha * op(A_p) * op(B_p) + beta * C_p
// op(A) is m x k; A_p starts at a + p * stride_a and holds op(A) (trans_a false: an m x k
// matrix with row stride lda) or its transpose (trans_a true: a k x m matrix with row stride
// lda). Likewise B (k x n, or n x k when trans_b), and C is m x n with row stride ldc. Leading
// dimensions must be at least the stored row length; stride_a/stride_b may be 0 (a matrix
// shared by the whole batch), stride_c may not. When beta is 0, C is not read.
struct GemmArgs {
  DType dtype = DType::F32;
  Device device = Device::cpu();
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  const void* a = nullptr;
  int64_t lda = 0, stride_a = 0;
  const void* b = nullptr;
  int64_t ldb = 0, stride_b = 0;
  void* c = nullptr;
  int64_t ldc = 0, stride_c = 0;
  int64_t batch = 1;
  double alpha = 1, beta = 0;
};
void gemm(const GemmArgs& args);

// out = a @ b over a batch: a is (..., m, k), b is (..., k, n), out is (..., m, n), all with
// the same batch shape (expanded views with stride 0 are fine and are not copied). Operands
// whose last two dims have a unit stride are passed to the GEMM as they are (transposed or
// not); others are copied once. dtypes must match; out is written, never read.
void matmul(const Tensor& a, const Tensor& b, const Tensor& out);

// TF32 tensor cores for f32 GEMMs on CUDA (about 10 mantissa bits in the products). Off by
// default, as torch.backends.cuda.matmul.allow_tf32 is; process-wide.
void set_allow_tf32(bool allow);
bool allow_tf32();

// Batched small-matrix routines over (..., n, n), f32 or f64, by LU with partial pivoting.
// A matrix with an exactly zero pivot is singular: inverse and solve throw ValueError naming
// its batch index (CUDA reads one flag back after the kernel); det returns 0 for it.
void inverse(const Tensor& a, const Tensor& out);                 // out (..., n, n)
void det(const Tensor& a, const Tensor& out);                     // out (...)
void solve(const Tensor& a, const Tensor& b, const Tensor& out);  // b, out (..., n, k)
// a (..., 3, 3) = u diag(s) v^T with s (..., 3) descending and u, v orthogonal (not forced
// to be rotations).
void svd3x3(const Tensor& a, const Tensor& u, const Tensor& s, const Tensor& v);

// The backends. The small-matrix entries receive contiguous tensors with the batch flattened:
// lu (batch, n, n) is a scratch copy of A that is factored in place; rhs (batch, n, k) is
// overwritten with the solution (for inverse it holds the identity); *failed receives the
// first batch index whose matrix is singular, or -1.
#define HMR_LINALG_BACKEND                                             \
  void gemm(const GemmArgs& args);                                     \
  void lu_solve(const Tensor& lu, const Tensor& rhs, int64_t* failed); \
  void lu_det(const Tensor& lu, const Tensor& out);                    \
  void svd3x3(const Tensor& a, const Tensor& u, const Tensor& s, const Tensor& v);
namespace cpu {
HMR_LINALG_BACKEND
}
namespace cuda {
HMR_LINALG_BACKEND
}

// The dtypes of the small-matrix routines (checked before a backend is reached).
template <class F>
void dispatch_small(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::F32:
      return f(type_tag<float>{});
    case DType::F64:
      return f(type_tag<double>{});
    default:
      break;
  }
  throw DTypeError(str(op, ": expected float32 or float64 but found ", t));
}

}  // namespace hmr::kernels
