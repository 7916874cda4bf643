// CPU linear algebra: GEMM through Eigen's blocked product on strided maps (no copies for
// transposed operands), threaded by Eigen (OpenMP) for a few large products and across the
// batch for many small ones; 16-bit floats are widened to float around it. The small-matrix
// routines run the shared math of kernels/small_matrix.h in a parallel loop over the batch.
#include "kernels/linalg.h"

#include <Eigen/Core>
#include <algorithm>
#include <vector>

#include "kernels/cast.h"
#include "kernels/small_matrix.h"
#include "tensor/dispatch.h"
#include "tensor/parallel.h"

namespace hmr::kernels::cpu {

namespace {

template <class T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstMap = Eigen::Map<const RowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using MutMap = Eigen::Map<RowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

template <class T, class A, class B>
void product_into(MutMap<T>& c, const A& a, const B& b, T alpha, T beta) {
  if (beta == T(0)) {
    c.noalias() = alpha * a * b;
  } else {
    if (beta != T(1)) c *= beta;
    c.noalias() += alpha * a * b;
  }
}

// One product C_p = alpha op(A_p) op(B_p) + beta C_p; Eigen threads it unless already inside
// a parallel region.
template <class T>
void gemm_one(const GemmArgs& g, int64_t p) {
  const T* a = static_cast<const T*>(g.a) + p * g.stride_a;
  const T* b = static_cast<const T*>(g.b) + p * g.stride_b;
  T* c = static_cast<T*>(g.c) + p * g.stride_c;
  // The stored shapes: op(A) is m x k, so A itself is k x m when transposed.
  ConstMap<T> am(a, g.trans_a ? g.k : g.m, g.trans_a ? g.m : g.k, Eigen::OuterStride<>(g.lda));
  ConstMap<T> bm(b, g.trans_b ? g.n : g.k, g.trans_b ? g.k : g.n, Eigen::OuterStride<>(g.ldb));
  MutMap<T> cm(c, g.m, g.n, Eigen::OuterStride<>(g.ldc));
  const T alpha = static_cast<T>(g.alpha), beta = static_cast<T>(g.beta);
  if (!g.trans_a && !g.trans_b)
    product_into<T>(cm, am, bm, alpha, beta);
  else if (!g.trans_a)
    product_into<T>(cm, am, bm.transpose(), alpha, beta);
  else if (!g.trans_b)
    product_into<T>(cm, am.transpose(), bm, alpha, beta);
  else
    product_into<T>(cm, am.transpose(), bm.transpose(), alpha, beta);
}

// Products of a few elements (rotation chains: 3x3 by 3x3) cost more in Eigen's dispatch
// than in the arithmetic; a plain loop is several times faster there.
template <class T>
void gemm_tiny(const GemmArgs& g, int64_t p) {
  const T* a = static_cast<const T*>(g.a) + p * g.stride_a;
  const T* b = static_cast<const T*>(g.b) + p * g.stride_b;
  T* c = static_cast<T*>(g.c) + p * g.stride_c;
  const int64_t a_row = g.trans_a ? 1 : g.lda, a_col = g.trans_a ? g.lda : 1;
  const int64_t b_row = g.trans_b ? 1 : g.ldb, b_col = g.trans_b ? g.ldb : 1;
  const T alpha = static_cast<T>(g.alpha), beta = static_cast<T>(g.beta);
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j) {
      T acc = T(0);
      for (int64_t l = 0; l < g.k; ++l) acc += a[i * a_row + l * a_col] * b[l * b_row + j * b_col];
      T& out = c[i * g.ldc + j];
      out = beta == T(0) ? alpha * acc : alpha * acc + beta * out;
    }
}

template <class T>
void gemm_native(const GemmArgs& g) {
  const int threads = num_threads();
  const double flops = 2.0 * static_cast<double>(g.m) * g.n * g.k;
  // Many products, or small ones: one whole product per thread beats splitting each. A few
  // large ones: Eigen splits each across the threads (its blocking keeps them busy).
  const bool across_batch = g.batch >= 4 * threads || (g.batch > 1 && flops < 2.0 * 128 * 128 * 128);
  const bool tiny = g.m * g.n * g.k <= 64;
  if (across_batch || tiny) {
    const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(1e6 / std::max(flops, 1.0)));
    parallel_for(0, g.batch, grain, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) tiny ? gemm_tiny<T>(g, p) : gemm_one<T>(g, p);
    });
    return;
  }
  Eigen::setNbThreads(threads);
  for (int64_t p = 0; p < g.batch; ++p) gemm_one<T>(g, p);
}

// Copies `rows x cols` matrices (row stride ld, batch stride bs) of T into compact float
// matrices, or back. Batch stride 0 (a shared matrix) is converted once.
template <class From, class To>
void convert_matrices(const From* src, int64_t ld_src, int64_t bs_src, To* dst, int64_t ld_dst,
                      int64_t bs_dst, int64_t rows, int64_t cols, int64_t batch) {
  const int64_t count = bs_src == 0 ? 1 : batch;
  parallel_for(0, count * rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(cols, 1)),
               [&](int64_t b, int64_t e) {
                 for (int64_t i = b; i < e; ++i) {
                   const int64_t p = i / rows, r = i % rows;
                   const From* s = src + p * bs_src + r * ld_src;
                   To* d = dst + p * bs_dst + r * ld_dst;
                   for (int64_t j = 0; j < cols; ++j) d[j] = cast<To>(s[j]);
                 }
               });
}

// f16/bf16: widen A and B (and C when it is read) to float, multiply, narrow C back.
template <class T>
void gemm_widened(const GemmArgs& g) {
  const int64_t a_rows = g.trans_a ? g.k : g.m, a_cols = g.trans_a ? g.m : g.k;
  const int64_t b_rows = g.trans_b ? g.n : g.k, b_cols = g.trans_b ? g.k : g.n;
  const int64_t a_count = g.stride_a == 0 ? 1 : g.batch, b_count = g.stride_b == 0 ? 1 : g.batch;
  std::vector<float> a(a_count * a_rows * a_cols), b(b_count * b_rows * b_cols), c(g.batch * g.m * g.n);
  convert_matrices(static_cast<const T*>(g.a), g.lda, g.stride_a, a.data(), a_cols, a_rows * a_cols, a_rows,
                   a_cols, g.batch);
  convert_matrices(static_cast<const T*>(g.b), g.ldb, g.stride_b, b.data(), b_cols, b_rows * b_cols, b_rows,
                   b_cols, g.batch);
  if (g.beta != 0)
    convert_matrices(static_cast<const T*>(g.c), g.ldc, g.stride_c, c.data(), g.n, g.m * g.n, g.m, g.n,
                     g.batch);
  GemmArgs w = g;
  w.dtype = DType::F32;
  w.a = a.data();
  w.lda = a_cols;
  w.stride_a = g.stride_a == 0 ? 0 : a_rows * a_cols;
  w.b = b.data();
  w.ldb = b_cols;
  w.stride_b = g.stride_b == 0 ? 0 : b_rows * b_cols;
  w.c = c.data();
  w.ldc = g.n;
  w.stride_c = g.m * g.n;
  gemm_native<float>(w);
  convert_matrices(c.data(), g.n, g.m * g.n, static_cast<T*>(g.c), g.ldc, g.stride_c, g.m, g.n, g.batch);
}

// The batch index of the first failure in a per-matrix status array (-1 for none).
int64_t first_failure(const std::vector<int>& status) {
  auto it = std::find_if(status.begin(), status.end(), [](int s) { return s >= 0; });
  return it == status.end() ? -1 : static_cast<int64_t>(it - status.begin());
}

}  // namespace

void gemm(const GemmArgs& g) {
  switch (g.dtype) {
    case DType::F32:
      return gemm_native<float>(g);
    case DType::F64:
      return gemm_native<double>(g);
    case DType::I32:
      return gemm_native<int32_t>(g);
    case DType::I64:
      return gemm_native<int64_t>(g);
    case DType::F16:
      return gemm_widened<Half>(g);
    case DType::BF16:
      return gemm_widened<BFloat16>(g);
    default:
      break;
  }
  throw DTypeError(str("gemm: unsupported dtype ", g.dtype));
}

void lu_solve(const Tensor& lu, const Tensor& rhs, int64_t* failed) {
  const int64_t batch = lu.size(0), n = lu.size(1), k = rhs.size(2);
  std::vector<int> status(batch, -1);
  dispatch_small(lu.dtype(), "lu_solve", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* a = lu.data<T>();
    T* r = rhs.data<T>();
    parallel_for(0, batch, std::max<int64_t>(1, 4096 / (n * n * (n + k))), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p)
        status[p] = small::lu_solve(a + p * n * n, static_cast<int>(n), r + p * n * k, static_cast<int>(k));
    });
  });
  *failed = first_failure(status);
}

void lu_det(const Tensor& lu, const Tensor& out) {
  const int64_t batch = lu.size(0), n = lu.size(1);
  dispatch_small(lu.dtype(), "det", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* a = lu.data<T>();
    T* o = out.data<T>();
    parallel_for(0, batch, std::max<int64_t>(1, 4096 / (n * n * n)), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) o[p] = small::lu_det(a + p * n * n, static_cast<int>(n));
    });
  });
}

void svd3x3(const Tensor& a, const Tensor& u, const Tensor& s, const Tensor& v) {
  const int64_t batch = a.size(0);
  dispatch_small(a.dtype(), "svd3x3", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = a.data<T>();
    T *pu = u.data<T>(), *ps = s.data<T>(), *pv = v.data<T>();
    parallel_for(0, batch, 256, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) small::svd3x3(pa + 9 * p, pu + 9 * p, ps + 3 * p, pv + 9 * p);
    });
  });
}

}  // namespace hmr::kernels::cpu
