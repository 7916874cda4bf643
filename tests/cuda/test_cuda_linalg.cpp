// CUDA linear algebra held to the CPU: cuBLAS GEMM (all four float dtypes, TF32 switch,
// strided/transposed/broadcast operands), the small-matrix kernels (inverse, det, solve,
// svd3x3) and their gradients, on awkward shapes. Skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "kernels/linalg.h"
#include "tensor/cuda_context.h"

using namespace hmr;

namespace {

#define SKIP_WITHOUT_GPU() \
  if (hmr::cuda::device_count() == 0) GTEST_SKIP() << hmr::cuda::unavailable_reason()

Tensor randn64(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, DType::F64, &gen);
}

// |got - want| <= tol * (1 + |want|), elementwise, with got computed on the GPU.
void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_TRUE(got.is_cuda()) << what;
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_NEAR(g[i], w[i], tol * (1 + std::fabs(w[i]))) << what << ", element " << i;
}

struct MatmulCase {
  Tensor a, b;  // CPU, f64
  const char* name;
};

// Operand layouts the GEMM must read without mistakes: transposed, row-strided, column-strided
// (copied), broadcast batches, batch dims that do not merge, sizes off the tile multiples.
std::vector<MatmulCase> matmul_cases() {
  return {
      {randn64({37}, 1), randn64({37}, 2), "dot"},
      {randn64({33, 65}, 3), randn64({65}, 4), "matrix-vector"},
      {randn64({129, 67}, 5), randn64({67, 131}, 6), "odd sizes"},
      {randn64({67, 129}, 7).t(), randn64({131, 67}, 8).t(), "both transposed"},
      {randn64({66, 31}, 9).slice(0, 0, 66, 2), randn64({31, 17}, 10), "row stride"},
      {randn64({33, 62}, 11).slice(1, 0, 62, 2), randn64({31, 17}, 12), "column stride"},
      {randn64({5, 1, 7, 9}, 13), randn64({3, 9, 11}, 14), "(B,1,n,k) @ (m,k,p)"},
      {randn64({3, 5, 7, 9}, 15).permute({1, 0, 2, 3}), randn64({5, 3, 9, 4}, 16), "permuted batch"},
      {randn64({1, 7, 9}, 17).expand({6, 7, 9}), randn64({6, 9, 5}, 18), "expanded batch"},
      {randn64({4, 13, 9}, 19), randn64({9, 21}, 20), "folded"},
      {randn64({9, 13}, 21), randn64({4, 13, 21}, 22), "broadcast left"},
  };
}

}  // namespace

TEST(CudaLinalg, MatmulMatchesCpuForEveryLayoutFloat64AndFloat32) {
  SKIP_WITHOUT_GPU();
  for (const auto& c : matmul_cases()) {
    expect_close(matmul(c.a.cuda(), c.b.cuda()), matmul(c.a, c.b), 1e-12, str("f64 ", c.name));
    Tensor a32 = c.a.to(DType::F32), b32 = c.b.to(DType::F32);
    expect_close(matmul(a32.cuda(), b32.cuda()), matmul(a32, b32), 1e-5, str("f32 ", c.name));
  }
}

TEST(CudaLinalg, MatmulHalfBFloat16AndTf32WithinTheirPrecision) {
  SKIP_WITHOUT_GPU();
  for (const auto& c : matmul_cases()) {
    Tensor want = matmul(c.a, c.b);
    // The CPU path rounds inputs the same way and accumulates in float, as cuBLAS does.
    Tensor h = matmul(c.a.to(DType::F16).cuda(), c.b.to(DType::F16).cuda());
    EXPECT_EQ(h.dtype(), DType::F16);
    expect_close(h, matmul(c.a.to(DType::F16), c.b.to(DType::F16)), 2e-3, str("f16 ", c.name));
    expect_close(matmul(c.a.to(DType::BF16).cuda(), c.b.to(DType::BF16).cuda()),
                 matmul(c.a.to(DType::BF16), c.b.to(DType::BF16)), 1.6e-2, str("bf16 ", c.name));
    kernels::set_allow_tf32(true);
    Tensor t = matmul(c.a.to(DType::F32).cuda(), c.b.to(DType::F32).cuda());
    kernels::set_allow_tf32(false);
    // TF32 rounds inputs to 10 mantissa bits: relative error ~1e-3 of the row-norm scale.
    const double scale = std::sqrt(static_cast<double>(c.a.size(-1)));
    expect_close(t, want, 2e-3 * scale, str("tf32 ", c.name));
  }
  EXPECT_FALSE(kernels::allow_tf32());
}

TEST(CudaLinalg, MatmulGradientsMatchCpu) {
  SKIP_WITHOUT_GPU();
  Tensor a = randn64({2, 1, 5, 7}, 1), b = randn64({3, 7, 4}, 2), g = randn64({2, 3, 5, 4}, 3);
  Tensor ac = a.clone().requires_grad_(), bc = b.clone().requires_grad_();
  matmul(ac, bc).backward(g);
  Tensor ag = a.cuda().requires_grad_(), bg = b.cuda().requires_grad_();
  matmul(ag, bg).backward(g.cuda());
  expect_close(ag.grad(), ac.grad(), 1e-12, "grad a");
  expect_close(bg.grad(), bc.grad(), 1e-12, "grad b");
}

TEST(CudaLinalg, InverseDetSolveMatchCpu) {
  SKIP_WITHOUT_GPU();
  for (int64_t n : {1, 3, 4, 9, 16}) {
    // 133 matrices: not a multiple of the block size.
    Tensor a = randn64({7, 19, n, n}, n) + eye(n, std::nullopt, DType::F64) * static_cast<double>(n);
    Tensor b = randn64({19, n, 3}, 100 + n);
    for (DType t : {DType::F64, DType::F32}) {
      const double tol = t == DType::F64 ? 1e-10 : 1e-4;
      Tensor at = a.to(t).transpose(-1, -2), bt = b.to(t);  // transposed: a non-contiguous input
      expect_close(inverse(at.cuda()), inverse(at), tol, str("inverse n=", n));
      expect_close(det(at.cuda()), det(at), tol, str("det n=", n));
      expect_close(solve(at.cuda(), bt.cuda()), solve(at, bt), tol, str("solve n=", n));
    }
  }
}

TEST(CudaLinalg, SingularMatrixIsAValueErrorNamingItsBatchIndex) {
  SKIP_WITHOUT_GPU();
  Tensor a = randn64({300, 3, 3}, 5) + eye(3, std::nullopt, DType::F64) * 3.0;
  std::vector<double> v = a.to_vector<double>();
  for (int i = 0; i < 9; ++i) v[9 * 257 + i] = 0;  // matrix 257 (second block) is zero
  Tensor bad = Tensor::from_vector(v, {300, 3, 3}).cuda();
  try {
    inverse(bad);
    FAIL() << "inverse of a singular matrix did not throw";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("matrix [257]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(solve(bad, randn64({300, 3, 1}, 6).cuda()), ValueError);
  EXPECT_EQ(det(bad).cpu().to_vector<double>()[257], 0.0);
}

TEST(CudaLinalg, Svd3x3MatchesCpuAndReconstructs) {
  SKIP_WITHOUT_GPU();
  Tensor a = randn64({1001, 3, 3}, 7);
  for (DType t : {DType::F64, DType::F32}) {
    const double tol = t == DType::F64 ? 1e-10 : 1e-4;
    Tensor at = a.to(t);
    SVD3 cpu = svd3x3(at), gpu = svd3x3(at.cuda());
    // Same algorithm and sign convention on both sides: the factors agree, not only the product.
    expect_close(gpu.S, cpu.S, tol, "S");
    expect_close(gpu.U, cpu.U, 10 * tol, "U");
    expect_close(gpu.V, cpu.V, 10 * tol, "V");
    Tensor rec = matmul(gpu.U * gpu.S.unsqueeze(-2), gpu.V.transpose(-1, -2));
    expect_close(rec, at, tol, "U S V^T");
  }
}

TEST(CudaLinalg, SmallMatrixGradientsMatchCpu) {
  SKIP_WITHOUT_GPU();
  Tensor a = randn64({5, 3, 3}, 8) + eye(3, std::nullopt, DType::F64) * 3.0, b = randn64({5, 3, 2}, 9);
  auto grads = [](const Tensor& x, const Tensor& y) {
    Tensor xg = x.detach().clone().requires_grad_(), yg = y.detach().clone().requires_grad_();
    SVD3 r = svd3x3(xg);
    Tensor loss = inverse(xg).sum() + det(xg).sum() + solve(xg, yg).pow(2).sum() + r.S.sum() +
                  matmul(r.U, r.V.transpose(-1, -2)).pow(2).sum() * 0.5 + r.U.sum();
    loss.backward();
    return std::make_pair(xg.grad(), yg.grad());
  };
  auto [ga_cpu, gb_cpu] = grads(a, b);
  auto [ga_gpu, gb_gpu] = grads(a.cuda(), b.cuda());
  expect_close(ga_gpu, ga_cpu, 1e-9, "grad a");
  expect_close(gb_gpu, gb_cpu, 1e-9, "grad b");
}
