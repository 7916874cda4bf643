// Autocast on the CPU (the same mechanism as on CUDA): which ops cast, to what, and that
// gradients reach f32 leaves. Expected values come from doing the casts by hand.
#include <gtest/gtest.h>

#include "autograd/autocast.h"
#include "autograd/ops.h"

using namespace hmr;

TEST(Autocast, MatmulRunsInBf16AndGradientsReachF32Leaves) {
  Tensor a = randn({3, 4}).requires_grad_(), b = randn({4, 5}).requires_grad_();
  Tensor y;
  {
    AutocastGuard autocast(DeviceType::CPU, DType::BF16);
    y = matmul(a, b);
  }
  EXPECT_EQ(y.dtype(), DType::BF16);
  // Same as casting by hand.
  Tensor ab = a.detach().to(DType::BF16), bb = b.detach().to(DType::BF16);
  EXPECT_EQ(y.to_vector<float>(), matmul(ab, bb).to_vector<float>());
  y.to(DType::F32).sum().backward();
  ASSERT_TRUE(a.grad().defined());
  EXPECT_EQ(a.grad().dtype(), DType::F32);
  // d sum(A B) / dA = 1 B^T, computed in bf16 and cast back: row sums of bf16(B).
  Tensor expect = matmul(ones({3, 5}, DType::BF16), bb.t()).to(DType::F32);
  EXPECT_EQ(a.grad().to_vector<float>(), expect.to_vector<float>());
}

TEST(Autocast, F32OpsUpcastAndOtherOpsKeepTheirDtype) {
  Tensor h = randn({2, 6}).to(DType::BF16);
  AutocastGuard autocast(DeviceType::CPU, DType::BF16);
  EXPECT_EQ(softmax(h, 1).dtype(), DType::F32);
  EXPECT_EQ(log_softmax(h, 1).dtype(), DType::F32);
  EXPECT_EQ(layer_norm(h, {6}, Tensor(), Tensor()).dtype(), DType::F32);
  EXPECT_EQ(softmax(h, 1).to_vector<float>(), softmax(h.to(DType::F32), 1).to_vector<float>());
  EXPECT_EQ(relu(h).dtype(), DType::BF16);                        // runs as it is
  EXPECT_EQ((h + randn({2, 6})).dtype(), DType::F32);             // ordinary promotion
  EXPECT_EQ(mm(randn({2, 2}, DType::F64), randn({2, 2}, DType::F64)).dtype(), DType::F64);  // never cast
}

TEST(Autocast, GuardsNestRestoreAndAreScopedToOneDeviceType) {
  EXPECT_FALSE(autocast::is_enabled(DeviceType::CPU));
  {
    AutocastGuard on(DeviceType::CPU, DType::F16);
    EXPECT_EQ(matmul(randn({2, 2}), randn({2, 2})).dtype(), DType::F16);
    {
      AutocastGuard off(DeviceType::CPU, DType::BF16, /*enabled=*/false);
      EXPECT_EQ(matmul(randn({2, 2}), randn({2, 2})).dtype(), DType::F32);
    }
    EXPECT_TRUE(autocast::is_enabled(DeviceType::CPU));
    EXPECT_EQ(autocast::dtype(DeviceType::CPU), DType::F16);
  }
  EXPECT_FALSE(autocast::is_enabled(DeviceType::CPU));
  {
    // A CUDA region leaves CPU tensors alone, convolutions included.
    AutocastGuard cuda(DeviceType::CUDA, DType::BF16);
    EXPECT_EQ(matmul(randn({2, 2}), randn({2, 2})).dtype(), DType::F32);
    EXPECT_EQ(conv2d(randn({1, 1, 3, 3}), randn({1, 1, 2, 2})).dtype(), DType::F32);
  }
  EXPECT_THROW(AutocastGuard(DeviceType::CPU, DType::F32), DTypeError);
}
