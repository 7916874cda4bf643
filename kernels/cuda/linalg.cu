// CUDA linear algebra: GEMM through cuBLAS (cublasGemmStridedBatchedEx, one handle per device
// bound to that device's stream) and the small-matrix routines of kernels/small_matrix.h, one
// thread per matrix. cuBLAS is column-major: a row-major C = op(A) op(B) is, read column-major,
// C^T = op(B)^T op(A)^T, so the operands are passed swapped with the same transposition flags.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <mutex>
#include <vector>

#include "kernels/linalg.h"
#include "kernels/small_matrix.h"
#include "tensor/cuda_context.h"

namespace hmr::kernels::cuda {

namespace {

#define HMR_CUBLAS_CHECK(expr)                                                                \
  do {                                                                                        \
    cublasStatus_t status_ = (expr);                                                          \
    if (status_ != CUBLAS_STATUS_SUCCESS)                                                     \
      throw ::hmr::CudaError(::hmr::str(#expr, " failed: ", cublasGetStatusString(status_))); \
  } while (0)

void check_launch(const char* op) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw CudaError(str(op, ": kernel launch failed: ", cudaGetErrorString(err)));
}

cudaStream_t stream_of(int device) { return static_cast<cudaStream_t>(hmr::cuda::current_stream(device)); }

// One cuBLAS handle per device, created on first use and bound to the device's stream. The
// handles live as long as the process: destroying them during static destruction would race
// the CUDA runtime's own teardown (PyTorch keeps its handles for the same reason).
cublasHandle_t handle_for(int device) {
  static std::mutex mu;
  static std::vector<cublasHandle_t> handles;
  std::lock_guard<std::mutex> lock(mu);
  if (handles.empty()) handles.assign(hmr::cuda::device_count(), nullptr);
  HMR_CHECK(device >= 0 && device < static_cast<int>(handles.size()), CudaError, "gemm: no CUDA device ",
            device);
  if (!handles[device]) {
    hmr::cuda::set_device(device);
    cublasHandle_t h = nullptr;
    HMR_CUBLAS_CHECK(cublasCreate(&h));
    HMR_CUBLAS_CHECK(cublasSetStream(h, stream_of(device)));
    handles[device] = h;
  }
  return handles[device];
}

struct GemmTypes {
  cudaDataType data;
  cublasComputeType_t compute;
  bool double_scalars;  // alpha and beta are passed as double (64F compute) or float
};

GemmTypes gemm_types(DType t) {
  switch (t) {
    case DType::F32:
      return {CUDA_R_32F, allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, false};
    case DType::F64:
      return {CUDA_R_64F, CUBLAS_COMPUTE_64F, true};
    case DType::F16:
      return {CUDA_R_16F, CUBLAS_COMPUTE_32F, false};
    case DType::BF16:
      return {CUDA_R_16BF, CUBLAS_COMPUTE_32F, false};
    default:
      break;
  }
  throw DTypeError(
      str("matmul: ", t, " is not supported on CUDA (expected float16, bfloat16, float32 or float64)"));
}

int as_int(int64_t v, const char* what) {
  HMR_CHECK(v <= INT_MAX, ValueError, "gemm: ", what, " ", v, " exceeds cuBLAS's 32-bit limit");
  return static_cast<int>(v);
}

template <class T>
__global__ void lu_solve_kernel(T* lu, T* rhs, int64_t batch, int n, int k, unsigned long long* failed) {
  const int64_t p = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (p >= batch) return;
  if (small::lu_solve(lu + p * n * n, n, rhs + p * n * k, k) >= 0)
    atomicMin(failed, static_cast<unsigned long long>(p));
}

template <class T>
__global__ void lu_det_kernel(T* lu, T* out, int64_t batch, int n) {
  const int64_t p = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (p < batch) out[p] = small::lu_det(lu + p * n * n, n);
}

template <class T>
__global__ void svd3x3_kernel(const T* a, T* u, T* s, T* v, int64_t batch) {
  const int64_t p = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (p < batch) small::svd3x3(a + 9 * p, u + 9 * p, s + 3 * p, v + 9 * p);
}

constexpr int kThreads = 128;
unsigned blocks_for(int64_t count) { return static_cast<unsigned>((count + kThreads - 1) / kThreads); }

}  // namespace

void gemm(const GemmArgs& g) {
  const int device = g.device.index;
  GemmTypes types = gemm_types(g.dtype);
  cublasHandle_t h = handle_for(device);
  hmr::cuda::set_device(device);
  const double alpha_d = g.alpha, beta_d = g.beta;
  const float alpha_f = static_cast<float>(g.alpha), beta_f = static_cast<float>(g.beta);
  const void* alpha = types.double_scalars ? static_cast<const void*>(&alpha_d) : &alpha_f;
  const void* beta = types.double_scalars ? static_cast<const void*>(&beta_d) : &beta_f;
  // Column-major: C^T (n x m) = op(B)^T (n x k) * op(A)^T (k x m).
  const cublasOperation_t op_b = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int64_t item = itemsize(g.dtype);
  // cuBLAS counts the batch in an int; larger batches go in slices.
  for (int64_t done = 0; done < g.batch; done += INT_MAX) {
    const int64_t count = std::min<int64_t>(g.batch - done, INT_MAX);
    const char* a = static_cast<const char*>(g.a) + done * g.stride_a * item;
    const char* b = static_cast<const char*>(g.b) + done * g.stride_b * item;
    char* c = static_cast<char*>(g.c) + done * g.stride_c * item;
    HMR_CUBLAS_CHECK(cublasGemmStridedBatchedEx(h, op_b, op_a, as_int(g.n, "n"), as_int(g.m, "m"),
                                                as_int(g.k, "k"), alpha, b, types.data, as_int(g.ldb, "ldb"),
                                                g.stride_b, a, types.data, as_int(g.lda, "lda"), g.stride_a,
                                                beta, c, types.data, as_int(g.ldc, "ldc"), g.stride_c,
                                                static_cast<int>(count), types.compute, CUBLAS_GEMM_DEFAULT));
  }
}

void lu_solve(const Tensor& lu, const Tensor& rhs, int64_t* failed) {
  const int device = lu.device().index;
  const int64_t batch = lu.size(0);
  const int n = static_cast<int>(lu.size(1)), k = static_cast<int>(rhs.size(2));
  hmr::cuda::set_device(device);
  cudaStream_t stream = stream_of(device);
  Tensor flag = Tensor::empty({1}, DType::I64, lu.device());
  auto* flag_ptr = static_cast<unsigned long long*>(flag.raw_data());
  cudaError_t err = cudaMemsetAsync(flag_ptr, 0xFF, sizeof(unsigned long long), stream);  // "none failed"
  if (err != cudaSuccess) throw CudaError(str("lu_solve: cudaMemsetAsync failed: ", cudaGetErrorString(err)));
  dispatch_small(lu.dtype(), "lu_solve", [&](auto tag) {
    using T = typename decltype(tag)::type;
    lu_solve_kernel<T>
        <<<blocks_for(batch), kThreads, 0, stream>>>(lu.data<T>(), rhs.data<T>(), batch, n, k, flag_ptr);
  });
  check_launch("lu_solve");
  // The one synchronisation: a singular matrix must surface as an error here, not as NaNs later.
  unsigned long long first = 0;
  hmr::cuda::memcpy(&first, Device::cpu(), flag_ptr, lu.device(), sizeof(first));
  *failed = first == ~0ULL ? -1 : static_cast<int64_t>(first);
}

void lu_det(const Tensor& lu, const Tensor& out) {
  const int device = lu.device().index;
  const int64_t batch = lu.size(0);
  hmr::cuda::set_device(device);
  dispatch_small(lu.dtype(), "det", [&](auto tag) {
    using T = typename decltype(tag)::type;
    lu_det_kernel<T><<<blocks_for(batch), kThreads, 0, stream_of(device)>>>(
        lu.data<T>(), out.data<T>(), batch, static_cast<int>(lu.size(1)));
  });
  check_launch("det");
}

void svd3x3(const Tensor& a, const Tensor& u, const Tensor& s, const Tensor& v) {
  const int device = a.device().index;
  const int64_t batch = a.size(0);
  hmr::cuda::set_device(device);
  dispatch_small(a.dtype(), "svd3x3", [&](auto tag) {
    using T = typename decltype(tag)::type;
    svd3x3_kernel<T><<<blocks_for(batch), kThreads, 0, stream_of(device)>>>(a.data<T>(), u.data<T>(),
                                                                            s.data<T>(), v.data<T>(), batch);
  });
  check_launch("svd3x3");
}

}  // namespace hmr::kernels::cuda
