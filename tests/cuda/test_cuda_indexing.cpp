// The CUDA indexing kernels held to their CPU twins: random inputs of awkward shapes (strided,
// broadcast, sizes that are not multiples of the block size), duplicates in accumulating
// scatters (atomics), every dtype family, and the device-side index range check.
#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "tensor/cuda_context.h"

using namespace hmr;

namespace {

#define SKIP_WITHOUT_GPU() \
  if (hmr::cuda::device_count() == 0) GTEST_SKIP() << hmr::cuda::unavailable_reason()

void expect_close(const Tensor& got, const Tensor& want, double tol = 0.0) {
  ASSERT_TRUE(got.is_cuda());
  ASSERT_EQ(got.sizes(), want.sizes());
  ASSERT_EQ(got.dtype(), want.dtype());
  std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_NEAR(g[i], w[i], tol * (1.0 + std::abs(w[i]))) << "element " << i;
}

Tensor random_index(int64_t high, const Shape& shape) { return randint(0, high, shape); }

}  // namespace

TEST(CudaIndexing, IndexSelectMatchesCpuOnPermutedInputEveryDim) {
  SKIP_WITHOUT_GPU();
  Tensor x = randn({5, 37, 129}).permute({2, 0, 1});  // (129, 5, 37), strided
  for (int64_t dim : {0, 1, -1}) {
    Tensor index = random_index(x.size(dim), {301});
    expect_close(index_select(x.cuda(), dim, index.cuda()), index_select(x, dim, index));
    Tensor i32 = index.to(DType::I32);
    expect_close(index_select(x.cuda(), dim, i32.cuda()), index_select(x, dim, i32));
  }
}

TEST(CudaIndexing, GatherAndItsGradientMatchCpu) {
  SKIP_WITHOUT_GPU();
  Tensor x = randn({33, 70, 9}, DType::F64).transpose(0, 2);  // (9, 70, 33)
  Tensor index = random_index(70, {7, 257, 33});
  expect_close(gather(x.cuda(), 1, index.cuda()), gather(x, 1, index));
  // The gradient is a scatter_add with many duplicates: atomics on the GPU.
  Tensor xc = x.detach().requires_grad_(), xg = x.cuda().detach().requires_grad_();
  Tensor w = randn({7, 257, 33}, DType::F64);
  (gather(xc, 1, index) * w).sum().backward();
  (gather(xg, 1, index.cuda()) * w.cuda()).sum().backward();
  expect_close(xg.grad(), xc.grad(), 1e-12);
}

TEST(CudaIndexing, ScatterWithDistinctTargetsMatchesCpuExactly) {
  SKIP_WITHOUT_GPU();
  // index[i][j] = (i + j) % 45: the 40 rows of a column are distinct, so no two writes collide.
  Tensor index = remainder(arange(40).view({40, 1}) + arange(50).view({1, 50}), 45);
  Tensor x = randn({45, 50}), src = randn({41, 53});  // src larger than index: only a corner is read
  expect_close(scatter(x.cuda(), 0, index.cuda(), src.cuda()), scatter(x, 0, index, src));
}

TEST(CudaIndexing, ScatterAddWithDuplicatesMatchesCpuForEveryDtype) {
  SKIP_WITHOUT_GPU();
  Tensor index = random_index(17, {1000, 3});
  struct Case {
    DType dtype;
    double tol;
  };
  for (Case c : {Case{DType::F32, 1e-4}, Case{DType::F64, 1e-12}, Case{DType::F16, 2e-2},
                 Case{DType::BF16, 5e-2}, Case{DType::I64, 0}, Case{DType::I32, 0}, Case{DType::U8, 0}}) {
    bool integral = !is_floating(c.dtype);
    Tensor x = (integral ? randint(0, 5, {17, 3}) : randn({17, 3})).to(c.dtype);
    Tensor src = (integral ? randint(0, 3, {1000, 3}) : randn({1000, 3})).to(c.dtype);
    expect_close(scatter_add(x.cuda(), 0, index.cuda(), src.cuda()), scatter_add(x, 0, index, src), c.tol);
  }
}

TEST(CudaIndexing, IndexAddWithAlphaMatchesCpu) {
  SKIP_WITHOUT_GPU();
  Tensor x = randn({3, 100, 7}), src = randn({3, 513, 7});
  Tensor index = random_index(100, {513});
  expect_close(index_add(x.cuda(), 1, index.cuda(), src.cuda(), 0.5), index_add(x, 1, index, src, 0.5), 1e-5);
  Tensor h = x.to(DType::BF16), hs = src.to(DType::BF16);
  expect_close(index_add(h.cuda(), -2, index.cuda(), hs.cuda()), index_add(h, -2, index, hs), 5e-2);
}

TEST(CudaIndexing, MasksAndNonzeroMatchCpu) {
  SKIP_WITHOUT_GPU();
  Tensor x = randn({129, 65}).t();      // (65, 129), strided
  Tensor mask = gt(randn({129}), 0.3);  // broadcast over rows
  expect_close(masked_fill(x.cuda(), mask.cuda(), -7.0), masked_fill(x, mask, -7.0));
  expect_close(masked_select(x.cuda(), mask.cuda()), masked_select(x, mask));
  Tensor sparse = gt(randn({3, 1001, 7}), 1.5).permute({2, 0, 1});
  expect_close(nonzero(sparse.cuda()), nonzero(sparse));
  expect_close(nonzero(zeros({4, 5}).cuda()), nonzero(zeros({4, 5})));
}

TEST(CudaIndexing, JoiningAndLayoutOpsMatchCpu) {
  SKIP_WITHOUT_GPU();
  Tensor a = randn({3, 5, 7}), b = randn({7, 2, 3}).permute({2, 1, 0}), c = randn({3, 1, 7}).to(DType::F64);
  expect_close(cat({a.cuda(), b.cuda(), c.cuda()}, 1), cat({a, b, c}, 1));
  expect_close(stack({a.cuda(), a.cuda() * 2.0}, -1), stack({a, a * 2.0}, -1));
  expect_close(repeat(b.cuda(), {2, 1, 3, 1}), repeat(b, {2, 1, 3, 1}));
  expect_close(flip(b.cuda(), {0, -1}), flip(b, {0, -1}));
  expect_close(tril(a.cuda(), 2), tril(a, 2));
  expect_close(triu(a.cuda(), -1), triu(a, -1));
}

TEST(CudaIndexing, OutOfRangeIndexRaisesIndexErrorBeforeLaunch) {
  SKIP_WITHOUT_GPU();
  Tensor x = randn({4, 6}).cuda();
  Tensor bad = Tensor::from_vector(std::vector<int64_t>{0, 5, 6, 1}, {4}).cuda();
  try {
    index_select(x, 1, bad);
    ADD_FAILURE() << "no exception";
  } catch (const IndexError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("index_select"), std::string::npos) << msg;
    EXPECT_NE(msg.find("index 6"), std::string::npos) << msg;
  }
  Tensor negative = Tensor::from_vector(std::vector<int64_t>{-2}, {1, 1}).cuda();
  EXPECT_THROW(gather(x, 0, negative), IndexError);
}
