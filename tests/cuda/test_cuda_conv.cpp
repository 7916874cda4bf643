// CUDA convolution (cuDNN) and pooling kernels held to the CPU backend: outputs and all
// gradients on awkward shapes (odd sizes, groups, depthwise, dilation, non-contiguous input,
// ceil_mode, non-divisible adaptive sizes), in f64, f32 and f16. Skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

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

void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_TRUE(got.defined() && want.defined()) << what;
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_NEAR(g[i], w[i], tol * (1 + std::fabs(w[i]))) << what << ", element " << i;
}

using Op = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs op on CPU f64 copies and on CUDA copies of dtype dt, backpropagates one upstream
// gradient through both and compares the outputs and every input gradient.
void expect_cuda_matches_cpu(const std::vector<Tensor>& inputs, const Op& op, DType dt, double tol,
                             const std::string& what) {
  std::vector<Tensor> cpu_in, gpu_in;
  for (const Tensor& t : inputs) {
    cpu_in.push_back(t.to(dt).to(DType::F64).detach().requires_grad_());
    gpu_in.push_back(t.to(Device::cuda(0), dt).detach().requires_grad_());
  }
  Tensor want = op(cpu_in), got = op(gpu_in);
  ASSERT_TRUE(got.is_cuda()) << what;
  expect_close(got, want, tol, what + " output");
  Tensor upstream = randn64(want.sizes(), 99);
  want.backward(upstream);
  got.backward(upstream.to(Device::cuda(0), dt));
  for (size_t i = 0; i < inputs.size(); ++i)
    expect_close(gpu_in[i].grad(), cpu_in[i].grad(), tol, what + " gradient " + std::to_string(i));
}

double tolerance(DType dt) { return dt == DType::F64 ? 1e-10 : dt == DType::F32 ? 1e-4 : 2e-2; }

}  // namespace

TEST(CudaConv, Conv2dMatchesCpu) {
  SKIP_WITHOUT_GPU();
  struct Case {
    Shape x, w;
    Size2 stride, padding, dilation;
    int64_t groups;
    const char* name;
  };
  const Case cases[] = {
      {{2, 3, 13, 11}, {5, 3, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, "3x3 odd sizes"},
      {{3, 6, 9, 10}, {4, 3, 3, 2}, {2, 1}, {1, 2}, {1, 2}, 2, "groups, dilation, asymmetric"},
      {{2, 5, 8, 7}, {5, 1, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 5, "depthwise"},
      {{1, 3, 23, 21}, {4, 3, 7, 7}, {2, 2}, {3, 3}, {1, 1}, 1, "7x7 stride 2"},
      {{4, 7, 5, 6}, {3, 7, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1, "1x1"},
  };
  kernels::set_allow_tf32(false);
  for (const Case& c : cases)
    for (DType dt : {DType::F64, DType::F32, DType::F16}) {
      Tensor x = randn64(c.x, 1), w = randn64(c.w, 2), b = randn64({c.w[0]}, 3);
      expect_cuda_matches_cpu(
          {x, w, b},
          [&c](const std::vector<Tensor>& t) {
            return conv2d(t[0], t[1], t[2], c.stride, c.padding, c.dilation, c.groups);
          },
          dt, tolerance(dt) * (dt == DType::F16 ? 5 : 1), std::string(c.name) + " " + dtype_name(dt));
    }
}

TEST(CudaConv, NonContiguousInputAndTransposedConv) {
  SKIP_WITHOUT_GPU();
  Tensor x = randn64({2, 9, 7, 4}, 4), w = randn64({5, 4, 3, 3}, 5);
  expect_cuda_matches_cpu(
      {x, w},
      [](const std::vector<Tensor>& t) {
        return conv2d(t[0].permute({0, 3, 1, 2}), t[1], Tensor(), {1, 1}, {1, 1});
      },
      DType::F32, 1e-4, "channels-last view");
  Tensor xt = randn64({2, 4, 5, 3}, 6), wt = randn64({4, 3, 3, 2}, 7), bt = randn64({6}, 8);
  expect_cuda_matches_cpu(
      {xt, wt, bt},
      [](const std::vector<Tensor>& t) {
        return conv_transpose2d(t[0], t[1], t[2], {2, 1}, {1, 0}, {1, 0}, 2, {1, 2});
      },
      DType::F64, 1e-10, "conv_transpose2d");
}

TEST(CudaConv, PoolingMatchesCpu) {
  SKIP_WITHOUT_GPU();
  Tensor x = randn64({3, 5, 17, 13}, 9);
  const std::pair<const char*, Op> ops[] = {
      {"max ceil",
       [](const std::vector<Tensor>& t) {
         return max_pool2d(t[0], {3, 3}, Size2{2, 2}, {1, 1}, {1, 1}, true);
       }},
      {"max dilated",
       [](const std::vector<Tensor>& t) {
         return max_pool2d(t[0], {3, 2}, Size2{2, 1}, {1, 1}, {2, 1});
       }},
      {"avg exclude pad",
       [](const std::vector<Tensor>& t) {
         return avg_pool2d(t[0], {3, 3}, Size2{2, 2}, {1, 1}, true, false);
       }},
      {"avg include pad",
       [](const std::vector<Tensor>& t) {
         return avg_pool2d(t[0], {2, 3}, Size2{2, 2}, {1, 1}, true);
       }},
      {"adaptive",
       [](const std::vector<Tensor>& t) {
         return adaptive_avg_pool2d(t[0], {5, 4});
       }},
      {"adaptive up",
       [](const std::vector<Tensor>& t) {
         return adaptive_avg_pool2d(t[0], {19, 14});
       }},
  };
  for (const auto& [name, op] : ops)
    for (DType dt : {DType::F64, DType::F32, DType::BF16})
      expect_cuda_matches_cpu({x}, op, dt, tolerance(dt), std::string(name) + " " + dtype_name(dt));
}
