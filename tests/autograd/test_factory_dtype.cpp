// hmr::full's dtype inference, as torch.full (PyTorch 1.13: torch.full((2,), 3).dtype is int64,
// torch.full((2,), True) bool, torch.full((2,), 1.5) the default float32).
#include <gtest/gtest.h>

#include <vector>

#include "autograd/ops.h"

using namespace hmr;

TEST(FullDtype, IntegralValueGivesInt64) {
  Tensor t = full({2}, 3);
  EXPECT_EQ(t.dtype(), DType::I64);
  EXPECT_EQ(t.to_vector<int64_t>(), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(full({2}, -7L).to_vector<int64_t>(), (std::vector<int64_t>{-7, -7}));
  EXPECT_EQ(full({}, 2).dtype(), DType::I64);
  EXPECT_EQ(full({}, 2).dim(), 0);
}

TEST(FullDtype, BoolValueGivesBool) {
  Tensor t = full({3}, true);
  EXPECT_EQ(t.dtype(), DType::Bool);
  EXPECT_EQ(t.to_vector<bool>(), (std::vector<bool>{true, true, true}));
  EXPECT_EQ(full({1}, false).to_vector<bool>(), (std::vector<bool>{false}));
}

TEST(FullDtype, FloatingValueGivesTheDefaultFloat) {
  Tensor t = full({2}, 1.5);
  EXPECT_EQ(t.dtype(), DType::F32);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1.5f, 1.5f}));
  EXPECT_EQ(full({2}, 2.0f).dtype(), DType::F32);
}

TEST(FullDtype, ExplicitOptionsWin) {
  EXPECT_EQ(full({2}, 3, DType::F64).dtype(), DType::F64);
  EXPECT_EQ(full({2}, 1.5, DType::I32).to_vector<int32_t>(), (std::vector<int32_t>{1, 1}));
  // Empty options mean the defaults, as zeros/ones: float.
  EXPECT_EQ(full({2}, 3, {}).dtype(), DType::F32);
  EXPECT_EQ(zeros({2}).dtype(), DType::F32);
  EXPECT_EQ(ones({2}).dtype(), DType::F32);
  Tensor g = full({2}, 1.0, TensorOptions().with_requires_grad());
  EXPECT_TRUE(g.requires_grad());
}
