// CUDA reductions and softmax held equal to the CPU path on random inputs of awkward shapes:
// rows shorter and longer than a warp/block, few long rows (the two-pass path), columns,
// strided inputs, 16-bit floats, integers, NaN and ties for the arg-reductions.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "tensor/cuda_context.h"

using namespace hmr;

namespace {

#define SKIP_WITHOUT_GPU() \
  if (hmr::cuda::device_count() == 0) GTEST_SKIP() << hmr::cuda::unavailable_reason()

void expect_close(const Tensor& gpu, const Tensor& cpu, double rtol, double atol = 1e-6) {
  ASSERT_TRUE(gpu.is_cuda());
  ASSERT_EQ(gpu.sizes(), cpu.sizes());
  ASSERT_EQ(gpu.dtype(), cpu.dtype());
  auto g = gpu.to_vector<double>(), c = cpu.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(c[i])) {
      EXPECT_TRUE(std::isnan(g[i])) << "at " << i;
      continue;
    }
    EXPECT_NEAR(g[i], c[i], atol + rtol * std::abs(c[i])) << "at " << i;
  }
}

Tensor random(const Shape& s, DType t, uint64_t seed) {
  Generator gen(seed);
  return randn(s, DType::F32, &gen).to(t);
}

// Shapes that exercise every launch path: short/long rows, few rows, columns, middle dims.
struct Case {
  Shape shape;
  Shape dims;
};
const std::vector<Case> kCases = {
    {{37, 5}, {1}},                // warp per short row
    {{7, 3000}, {1}},              // block per row
    {{1 << 24}, {0}},              // one very long row: two passes
    {{3, 1 << 20}, {-1}},          // few long rows: two passes
    {{4096, 33}, {0}},             // columns
    {{100000, 3}, {0}},            // few long columns: two passes
    {{5, 129, 7}, {1}},            // middle dim
    {{6, 5, 4}, {0, 2}},           // non-adjacent dims (copied to rows)
    {{3, 0, 4}, {1}},              // empty reduced range
};

}  // namespace

TEST(CudaReduce, SumProdMaxMinMatchCpu) {
  SKIP_WITHOUT_GPU();
  uint64_t seed = 1;
  for (const Case& c : kCases) {
    Tensor x = random(c.shape, DType::F32, seed++);
    Tensor xg = x.cuda();
    SCOPED_TRACE(::testing::Message() << "shape " << x.shape_str());
    expect_close(sum(xg, c.dims), sum(x, c.dims), 1e-4, 1e-3);
    expect_close(sum(xg, c.dims, true), sum(x, c.dims, true), 1e-4, 1e-3);
    if (x.numel() > 0) {  // max/min of an empty range is an error
      expect_close(amax(xg, c.dims), amax(x, c.dims), 0);
      expect_close(amin(xg, c.dims), amin(x, c.dims), 0);
    }
    Tensor small = add(mul(x, 0.01), 1.0);  // products stay finite
    expect_close(prod(small.cuda(), c.dims), prod(small, c.dims), 1e-3, 1e-5);
    expect_close(any(gt(xg, 2.5), c.dims), any(gt(x, 2.5), c.dims), 0);
    expect_close(all(gt(xg, -2.5), c.dims), all(gt(x, -2.5), c.dims), 0);
  }
}

TEST(CudaReduce, StridedAndHalfInputs) {
  SKIP_WITHOUT_GPU();
  Tensor x = random({300, 200}, DType::F32, 20);
  Tensor xg = x.cuda();
  expect_close(sum(xg.t(), {1}), sum(x.t(), {1}), 1e-4, 1e-3);
  expect_close(sum(xg.slice(1, 3, 200, 7), {0}), sum(x.slice(1, 3, 200, 7), {0}), 1e-4, 1e-3);
  expect_close(sum(xg.select(0, 1).expand({50, 200}), {0}), sum(x.select(0, 1).expand({50, 200}), {0}), 1e-4,
               1e-3);
  for (DType t : {DType::F16, DType::BF16}) {
    Tensor h = x.to(t);
    expect_close(sum(h.cuda(), {1}), sum(h, {1}), 1e-2, 1e-2);
    expect_close(amax(h.cuda(), {0}), amax(h, {0}), 0);
    expect_close(sum(h.cuda()), sum(h), 1e-2, 1e-1);
  }
  Tensor i = randint(-50, 50, {1000, 77}, DType::I32);
  expect_close(sum(i.cuda(), {0}), sum(i, {0}), 0);
  expect_close(amax(i.cuda(), {1}), amax(i, {1}), 0);
  Tensor b = gt(x, 0.0);
  expect_close(sum(b.cuda()), sum(b), 0);
}

TEST(CudaReduce, ArgReductionsMatchCpuWithTiesAndNaN) {
  SKIP_WITHOUT_GPU();
  // Rounded values tie often; the first index must win on both backends.
  Tensor x = round(mul(random({64, 3000}, DType::F32, 30), 2.0));
  Tensor xg = x.cuda();
  for (int64_t d : {0, 1}) {
    auto [vc, ic] = max(x, d);
    auto [vg, ig] = max(xg, d);
    expect_close(vg, vc, 0);
    expect_close(ig, ic, 0);
    expect_close(argmin(xg, d), argmin(x, d), 0);
  }
  expect_close(argmax(xg), argmax(x), 0);
  Tensor big = round(random({1 << 22}, DType::F32, 31));
  expect_close(argmax(big.cuda()), argmax(big), 0);  // two-pass arg-reduction
  Tensor n = x.clone();
  n.select(0, 5).select(0, 17).fill_(std::nan(""));
  n.select(0, 5).select(0, 9).fill_(std::nan(""));
  expect_close(argmax(n.cuda(), 1), argmax(n, 1), 0);
  expect_close(amax(n.cuda(), {1}), amax(n, {1}), 0);
  expect_close(min(n.cuda(), 0).second, min(n, 0).second, 0);
}

TEST(CudaReduce, SoftmaxForwardBackwardMatchCpu) {
  SKIP_WITHOUT_GPU();
  struct SoftmaxCase {
    Shape shape;
    int64_t dim;
  };
  for (const auto& c : std::vector<SoftmaxCase>{{{37, 5}, 1}, {{9, 3000}, -1}, {{5, 129, 7}, 1}, {{300, 6}, 0}}) {
    for (bool log : {false, true}) {
      Tensor x = mul(random(c.shape, DType::F32, 40), 5.0);
      Tensor xg = x.cuda().requires_grad_();
      Tensor xc = x.clone().requires_grad_();
      Tensor yg = log ? log_softmax(xg, c.dim) : softmax(xg, c.dim);
      Tensor yc = log ? log_softmax(xc, c.dim) : softmax(xc, c.dim);
      expect_close(yg, yc, 1e-5, 1e-6);
      Tensor w = random(c.shape, DType::F32, 41);
      mul(yg, w.cuda()).sum().backward();
      mul(yc, w).sum().backward();
      expect_close(xg.grad(), xc.grad(), 1e-4, 1e-5);
    }
  }
  Tensor h = random({33, 1500}, DType::BF16, 42);
  expect_close(softmax(h.cuda(), 1), softmax(h, 1), 1e-2, 1e-3);
}
