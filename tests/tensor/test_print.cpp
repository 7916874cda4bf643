// Tensor::to_string against str(torch.tensor(...)) from tests/fixtures/make_tensor_fixtures.py:
// PyTorch's number formats (integral, fixed, scientific), widths, line wrapping, summaries.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "fixtures/tensor_fixtures.inc"

using namespace hmr;

namespace {

Tensor build(const PrintCase& c) {
  std::vector<double> values = c.values;
  if (c.mod > 0) {
    int64_t n = shape_numel(c.shape);
    for (int64_t i = 0; i < n; ++i) values.push_back(static_cast<double>(i % c.mod) * c.scale);
  }
  return Tensor::from_vector(values, c.shape).to(c.dtype);
}

}  // namespace

TEST(Print, MatchesTorchStr) {
  for (const PrintCase& c : print_cases()) {
    SCOPED_TRACE(c.name);
    Tensor t = build(c);
    EXPECT_EQ(t.to_string(), c.expected);
  }
}

TEST(Print, StreamOperatorPrintsTheSameText) {
  std::ostringstream os;
  Tensor t = tensor({1, 2.5});
  os << t;
  EXPECT_EQ(os.str(), t.to_string());
  EXPECT_EQ(os.str(), "tensor([1.0000, 2.5000])");
}

TEST(Print, NonContiguousViewsPrintInLogicalOrder) {
  // [[1, 2, 3], [4, 5, 6]] transposed is [[1, 4], [2, 5], [3, 6]].
  Tensor t = tensor({1, 2, 3, 4, 5, 6}, DType::I64).reshape({2, 3}).t();
  EXPECT_EQ(t.to_string(), "tensor([[1, 4],\n        [2, 5],\n        [3, 6]])");
  Tensor s = tensor({0.5, 1, 1.5, 2, 2.5}).slice(0, 0, 5, 2);  // 0.5, 1.5, 2.5
  EXPECT_EQ(s.to_string(), "tensor([0.5000, 1.5000, 2.5000])");
}

TEST(Print, UndefinedTensor) { EXPECT_EQ(Tensor().to_string(), "tensor(undefined)"); }
