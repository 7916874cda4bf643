#include <gtest/gtest.h>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"

using namespace hmr;

TEST(Smoke, AddBroadcastsAndBackwardSumsToInputShape) {
  Tensor a = tensor({1, 2, 3}, DType::F64).reshape({3, 1});
  Tensor b = tensor({10, 20}, DType::F64);
  a.requires_grad_();
  b.requires_grad_();
  Tensor y = (a + b) * b;
  EXPECT_EQ(y.sizes(), (Shape{3, 2}));
  std::vector<double> want = {110, 420, 120, 440, 130, 460};
  EXPECT_EQ(y.to_vector<double>(), want);
  y.sum().backward();
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{30, 30, 30}));
  // d/db sum((a+b)*b) = sum_i (a_i + 2 b)
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{6 + 60, 6 + 120}));
}

TEST(Smoke, GradcheckSigmoidTimesExp) {
  Tensor x = randn({2, 3}, DType::F64).requires_grad_();
  Tensor z = randn({3}, DType::F64).requires_grad_();
  auto r = gradcheck([](const std::vector<Tensor>& in) { return sigmoid(in[0]) * exp(in[1]); }, {x, z});
  EXPECT_TRUE(r.ok) << r.message;
}
