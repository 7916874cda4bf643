// CUDA skinning and the body forward held equal to the CPU twin: outputs and gradients on
// awkward sizes (V below, at and past the 128-vertex tile, J = 24 and 55, batch 1 and several,
// strided inputs, 4x4 transforms), f64 and f32.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autograd/ops.h"
#include "hmr/body/body_model.h"
#include "hmr/body/skinning.h"
#include "tensor/cuda_context.h"

using namespace hmr;
using namespace hmr::body;

namespace {

#define SKIP_WITHOUT_GPU() \
  if (hmr::cuda::device_count() == 0) GTEST_SKIP() << hmr::cuda::unavailable_reason()

void expect_close(const Tensor& gpu, const Tensor& cpu, double rtol, double atol, const char* what) {
  ASSERT_TRUE(gpu.is_cuda()) << what;
  ASSERT_EQ(gpu.sizes(), cpu.sizes()) << what;
  auto g = gpu.cpu().to(DType::F64).contiguous().to_vector<double>();
  auto c = cpu.to(DType::F64).contiguous().to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    ASSERT_NEAR(g[i], c[i], atol + rtol * std::abs(c[i])) << what << " at " << i;
  }
}

Tensor random(const Shape& s, DType t, uint64_t seed, double scale = 1.0) {
  Generator gen(seed);
  return (randn(s, DType::F64, &gen) * scale).to(t);
}

struct SkinCase {
  int64_t B, V, J, rows;
};

void compare_skin(const SkinCase& c, DType dtype, double rtol, double atol) {
  Tensor w = abs(random({c.V, c.J}, DType::F64, 1));
  w = (w / sum(w, {1}, true)).to(dtype);
  Tensor A = random({c.B, c.J, c.rows, 4}, dtype, 2), p = random({c.B, c.V, 3}, dtype, 3);
  Tensor g = random({c.B, c.V, 3}, dtype, 4);
  Tensor A_cpu = A.clone().requires_grad_(), p_cpu = p.clone().requires_grad_();
  Tensor A_gpu = A.cuda().requires_grad_(), p_gpu = p.cuda().requires_grad_();
  Tensor out_cpu = skin(w, A_cpu, p_cpu), out_gpu = skin(w.cuda(), A_gpu, p_gpu);
  out_cpu.backward(g);
  out_gpu.backward(g.cuda());
  expect_close(out_gpu, out_cpu, rtol, atol, "vertices");
  // grad_A sums over V: its tolerance grows with the number of terms.
  expect_close(A_gpu.grad(), A_cpu.grad(), rtol, atol * std::sqrt(double(c.V)), "grad_A");
  expect_close(p_gpu.grad(), p_cpu.grad(), rtol, atol, "grad_v_posed");
}

const std::vector<SkinCase> kCases = {{1, 5, 24, 3},    {3, 128, 24, 4}, {2, 1000, 24, 3},
                                      {1, 6890, 24, 3}, {4, 300, 55, 4}, {2, 129, 1, 3}};

TEST(CudaSkin, F64EqualsTheCpuTwin) {
  SKIP_WITHOUT_GPU();
  for (const SkinCase& c : kCases) compare_skin(c, DType::F64, 1e-12, 1e-12);
}

TEST(CudaSkin, F32EqualsTheCpuTwin) {
  SKIP_WITHOUT_GPU();
  for (const SkinCase& c : kCases) compare_skin(c, DType::F32, 1e-5, 1e-5);
}

TEST(CudaSkin, StridedInputs) {
  SKIP_WITHOUT_GPU();
  Tensor w = abs(random({24, 700}, DType::F32, 5)).t();                    // (700, 24) transposed
  Tensor A = permute(random({2, 4, 24, 3}, DType::F32, 6), {0, 2, 3, 1});  // (2, 24, 3, 4)
  Tensor p = permute(random({3, 700, 2}, DType::F32, 7), {2, 1, 0});       // (2, 700, 3)
  expect_close(skin(w.cuda(), A.cuda(), p.cuda()), skin(w, A, p), 1e-5, 1e-5, "strided");
}

BodyModelData random_model(int64_t V, int64_t S) {
  BodyModelData d;
  const int64_t J = kSmplJoints;
  d.v_template = random({V, 3}, DType::F64, 10);
  d.shapedirs = random({V, 3, S}, DType::F64, 11, 0.05);
  d.posedirs = random({V, 3, 9 * (J - 1)}, DType::F64, 12, 0.02);
  Tensor reg = abs(random({J, V}, DType::F64, 13));
  d.J_regressor = reg / sum(reg, {1}, true);
  Tensor w = abs(random({V, J}, DType::F64, 14));
  d.weights = w / sum(w, {1}, true);
  d.parents = Tensor::from_vector(std::vector<int64_t>(kSmplParents, kSmplParents + J), {J});
  return d;
}

TEST(CudaBodyModel, ForwardAndGradientsEqualTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dtype : {DType::F64, DType::F32}) {
    const double tol = dtype == DType::F64 ? 1e-10 : 1e-4;
    BodyModelData data = random_model(431, 10);
    BodyModel cpu_model(data, dtype), gpu_model(data, dtype);
    gpu_model.to(Device::cuda(0));
    Tensor betas = random({3, 10}, dtype, 20), pose = random({3, 72}, dtype, 21, 0.5);
    Tensor transl = random({3, 3}, dtype, 22);
    std::vector<Tensor> cpu_in = {betas.clone().requires_grad_(), pose.clone().requires_grad_(),
                                  transl.clone().requires_grad_()};
    std::vector<Tensor> gpu_in = {betas.cuda().requires_grad_(), pose.cuda().requires_grad_(),
                                  transl.cuda().requires_grad_()};
    BodyOutput out_cpu = cpu_model.forward(cpu_in[0], cpu_in[1], cpu_in[2]);
    BodyOutput out_gpu = gpu_model.forward(gpu_in[0], gpu_in[1], gpu_in[2]);
    expect_close(out_gpu.vertices, out_cpu.vertices, tol, tol, "vertices");
    expect_close(out_gpu.joints, out_cpu.joints, tol, tol, "joints");
    Tensor g = random({3, 431, 3}, dtype, 23);
    (sum(out_cpu.vertices * g) + sum(out_cpu.joints)).backward();
    (sum(out_gpu.vertices * g.cuda()) + sum(out_gpu.joints)).backward();
    const char* names[] = {"grad betas", "grad pose", "grad transl"};
    for (int i = 0; i < 3; ++i)
      expect_close(gpu_in[i].grad(), cpu_in[i].grad(), 10 * tol, 10 * tol, names[i]);
  }
}

}  // namespace
