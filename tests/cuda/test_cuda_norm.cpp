// CUDA batch/group/layer norm, dropout and embedding held equal to the CPU path: outputs,
// gradients and running statistics on awkward shapes (channels longer than a block, a single
// value per row, strided inputs), f64, f32 and 16-bit inputs with f32 statistics.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "autograd/ops.h"
#include "tensor/cuda_context.h"

using namespace hmr;

namespace {

#define SKIP_WITHOUT_GPU() \
  if (hmr::cuda::device_count() == 0) GTEST_SKIP() << hmr::cuda::unavailable_reason()

void expect_close(const Tensor& gpu, const Tensor& cpu, double rtol, double atol, const char* what) {
  ASSERT_TRUE(gpu.is_cuda()) << what;
  ASSERT_EQ(gpu.sizes(), cpu.sizes()) << what;
  auto g = gpu.to_vector<double>(), c = cpu.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i)
    EXPECT_NEAR(g[i], c[i], atol + rtol * std::abs(c[i])) << what << " at " << i;
}

Tensor random(const Shape& s, DType t, uint64_t seed, double shift = 0) {
  Generator gen(seed);
  return add(randn(s, DType::F64, &gen), shift).to(t);
}

// Runs op on CPU copies and CUDA copies of the inputs (all requiring grad), backpropagates the
// same random cotangent, and compares the output and every input gradient.
using Op = std::function<Tensor(const std::vector<Tensor>&)>;
void compare(const Op& op, const std::vector<Tensor>& inputs, double rtol, double atol) {
  std::vector<Tensor> cpu, gpu;
  for (const Tensor& t : inputs) {
    cpu.push_back(t.clone().requires_grad_());
    gpu.push_back(t.cuda().requires_grad_());
  }
  Tensor yc = op(cpu), yg = op(gpu);
  Tensor v = random(yc.sizes(), yc.dtype(), 99);
  sum(mul(yc, v)).backward();
  sum(mul(yg, v.cuda())).backward();
  expect_close(yg, yc, rtol, atol, "output");
  for (size_t k = 0; k < inputs.size(); ++k)
    expect_close(gpu[k].grad(), cpu[k].grad(), rtol, atol, "gradient");
}

struct DTypeTol {
  DType dtype;
  double rtol, atol;
};
const std::vector<DTypeTol> kDTypes = {{DType::F64, 1e-10, 1e-10},
                                       {DType::F32, 1e-4, 1e-4},
                                       {DType::F16, 2e-2, 2e-2},
                                       {DType::BF16, 5e-2, 5e-2}};

}  // namespace

TEST(CudaNorm, BatchNormTrainingMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const std::vector<Shape> shapes = {{37, 5}, {3, 7, 1001}, {2, 3, 33, 17}, {1, 2, 70000}};
  uint64_t seed = 1;
  for (const DTypeTol& d : kDTypes)
    for (const Shape& s : shapes) {
      SCOPED_TRACE(dtype_name(d.dtype));
      const int64_t C = s[1];
      Tensor rm_c = random({C}, DType::F32, seed++), rv_c = add(rand(Shape{C}, DType::F32), 0.5);
      Tensor rm_g = rm_c.cuda(), rv_g = rv_c.cuda();
      bool on_gpu = false;
      Op op = [&](const std::vector<Tensor>& in) {
        on_gpu = in[0].is_cuda();
        return batch_norm(in[0], on_gpu ? rm_g : rm_c, on_gpu ? rv_g : rv_c, in[1], in[2], true);
      };
      compare(op,
              {random(s, d.dtype, seed++, 3.0), random({C}, d.dtype, seed++), random({C}, d.dtype, seed++)},
              d.rtol, d.atol);
      expect_close(rm_g, rm_c, 1e-4, 1e-4, "running_mean");
      expect_close(rv_g, rv_c, 1e-4, 1e-4, "running_var");
    }
}

TEST(CudaNorm, BatchNormEvalAndStridedInputMatchCpu) {
  SKIP_WITHOUT_GPU();
  Tensor rm = random({6}, DType::F32, 5), rv = add(rand(Shape{6}, DType::F32), 0.5);
  Op eval = [&](const std::vector<Tensor>& in) {
    return batch_norm(in[0], rm.to(in[0].device()), rv.to(in[0].device()), in[1], Tensor(), false);
  };
  compare(eval, {random({4, 6, 9}, DType::F32, 6), random({6}, DType::F32, 7)}, 1e-5, 1e-5);
  Op strided = [](const std::vector<Tensor>& in) {
    return batch_norm(permute(in[0], {0, 2, 1}), Tensor(), Tensor(), Tensor(), Tensor(), true);
  };
  compare(strided, {random({5, 300, 3}, DType::F32, 8)}, 1e-4, 1e-4);
}

TEST(CudaNorm, GroupNormMatchesCpu) {
  SKIP_WITHOUT_GPU();
  uint64_t seed = 20;
  for (const DTypeTol& d : kDTypes) {
    SCOPED_TRACE(dtype_name(d.dtype));
    Op op = [](const std::vector<Tensor>& in) { return group_norm(in[0], 4, in[1], in[2]); };
    compare(
        op,
        {random({3, 8, 13, 11}, d.dtype, seed++), random({8}, d.dtype, seed++), random({8}, d.dtype, seed++)},
        d.rtol, d.atol);
    Op single = [](const std::vector<Tensor>& in) { return group_norm(in[0], 3, in[1], Tensor()); };
    compare(single, {random({2, 6}, d.dtype, seed++), random({6}, d.dtype, seed++)}, d.rtol, d.atol);
  }
}

TEST(CudaNorm, LayerNormMatchesCpu) {
  SKIP_WITHOUT_GPU();
  uint64_t seed = 40;
  const std::vector<Shape> rows = {{1000, 7}, {5, 3000}, {2, 3, 257}};
  for (const DTypeTol& d : kDTypes)
    for (const Shape& s : rows) {
      SCOPED_TRACE(dtype_name(d.dtype));
      const Shape norm_shape{s.back()};
      Op op = [norm_shape](const std::vector<Tensor>& in) {
        return layer_norm(in[0], norm_shape, in[1], in[2]);
      };
      compare(op,
              {random(s, d.dtype, seed++, 10.0), random(norm_shape, d.dtype, seed++),
               random(norm_shape, d.dtype, seed++)},
              d.rtol, d.atol);
    }
  Op two = [](const std::vector<Tensor>& in) {
    return layer_norm(transpose(in[0], 0, 1), {4, 5}, in[1], in[2]);
  };
  compare(two,
          {random({4, 3, 5}, DType::F32, 60), random({4, 5}, DType::F32, 61), random({4, 5}, DType::F32, 62)},
          1e-4, 1e-4);
}

TEST(CudaNorm, DropoutDrawsTheCpuMask) {
  SKIP_WITHOUT_GPU();
  Tensor x = random({1001, 3}, DType::F32, 70);
  Generator a(11), b(11);
  Tensor yc = dropout(x, 0.4, true, &a), yg = dropout(x.cuda(), 0.4, true, &b);
  expect_close(yg, yc, 0, 0, "dropout");
}

TEST(CudaNorm, EmbeddingMatchesCpu) {
  SKIP_WITHOUT_GPU();
  Tensor idx = randint(0, 50, {17, 9});
  Op op = [idx](const std::vector<Tensor>& in) { return embedding(in[0], idx.to(in[0].device()), 3); };
  compare(op, {random({50, 33}, DType::F32, 80)}, 1e-5, 1e-5);
}
