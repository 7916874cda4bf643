// The CPU reduction paths against f64 sums computed here: short rows folded several at a time
// (lengths around the lane count and the block size, row counts not multiples of the group),
// column reductions cut into fixed chunks (tall, narrow inputs), and their determinism across
// thread counts.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autograd/ops.h"
#include "tensor/parallel.h"

using namespace hmr;

namespace {

// Values of one sign and varied size, so a sequential float sum would drift measurably.
Tensor positive(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  return add(rand(shape, DType::F32, &g), 0.5);
}

// The sum of n floats of size ~1 accurate to the blocked/pairwise bound, well under n eps.
double sum_bound(double exact, int64_t n) {
  return 4e-7 * std::fabs(exact) * (1.0 + std::log2(static_cast<double>(std::max<int64_t>(n, 2))) / 4);
}

}  // namespace

TEST(ReduceBlocks, LastDimSumsMatchDoubleSums) {
  for (int64_t len : {1, 3, 15, 16, 17, 33, 100, 1024, 4095, 4096, 5000})
    for (int64_t rows : {1, 3, 4, 5, 9, 67}) {
      Tensor x = positive({rows, len}, 100 + len * 7 + rows);
      std::vector<float> v = x.to_vector<float>();
      std::vector<float> s = sum(x, {-1}).to_vector<float>();
      std::vector<float> m = amax(x, {-1}).to_vector<float>();
      ASSERT_EQ(static_cast<int64_t>(s.size()), rows);
      for (int64_t r = 0; r < rows; ++r) {
        double exact = 0, mx = -INFINITY;
        for (int64_t j = 0; j < len; ++j) {
          exact += v[r * len + j];
          mx = std::max<double>(mx, v[r * len + j]);
        }
        ASSERT_NEAR(s[r], exact, sum_bound(exact, len)) << "len " << len << " rows " << rows << " row " << r;
        ASSERT_EQ(m[r], mx) << "len " << len << " row " << r;
      }
    }
}

TEST(ReduceBlocks, ShortRowsOfOtherReducers) {
  // prod over rows of 5 (the partial-lane path), any over rows of 17, int64 sums of int32.
  Tensor x = tensor({1, 2, 3, 4, 5, 0.5, 2, 2, 2, 2, -1, 1, 1, 1, 1}, {3, 5});
  EXPECT_EQ(prod(x, {1}).to_vector<float>(), (std::vector<float>{120, 8, -1}));
  Tensor b = zeros({6, 17}, DType::Bool);
  b.data<bool>()[2 * 17 + 16] = true;  // row 2, last column (the tail of the lanes)
  b.data<bool>()[5 * 17 + 0] = true;   // row 5, a row outside the groups of 4
  EXPECT_EQ(any(b, {1}).to_vector<bool>(), (std::vector<bool>{false, false, true, false, false, true}));
  Tensor i = arange(0, 7 * 19, 1, DType::I32).reshape({7, 19});
  std::vector<int64_t> si = sum(i, {1}).to_vector<int64_t>();
  for (int64_t r = 0; r < 7; ++r) EXPECT_EQ(si[r], 19 * (19 * r) + 19 * 18 / 2) << r;
}

TEST(ReduceBlocks, ColumnSumsOfTallInputsMatchDoubleSums) {
  // (len, inner) summed over dim 0, and (outer, len, inner) over dim 1: len above the chunk
  // (8192 rows) and not a multiple of it or of the leaf (64 rows).
  for (Shape shape : {Shape{20001, 16}, Shape{70000, 3}, Shape{3, 9000, 5}, Shape{129, 40}, Shape{8192, 2}}) {
    Tensor x = positive(shape, 7 + shape[0]);
    const bool three = shape.size() == 3;
    const int64_t outer = three ? shape[0] : 1, len = three ? shape[1] : shape[0], inner = shape.back();
    std::vector<float> v = x.to_vector<float>();
    std::vector<float> s = sum(x, {three ? 1 : 0}).to_vector<float>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        double exact = 0;
        for (int64_t r = 0; r < len; ++r) exact += v[(o * len + r) * inner + i];
        ASSERT_NEAR(s[o * inner + i], exact, sum_bound(exact, len)) << "len " << len << " o " << o << " i " << i;
      }
  }
}

TEST(ReduceBlocks, ResultsDoNotDependOnTheThreadCount) {
  Tensor rows = positive({1001, 37}, 1), cols = positive({50000, 16}, 2);
  const int saved = num_threads();
  set_num_threads(1);
  std::vector<float> a = sum(rows, {1}).to_vector<float>(), b = sum(cols, {0}).to_vector<float>();
  set_num_threads(2);
  EXPECT_EQ(sum(rows, {1}).to_vector<float>(), a);
  EXPECT_EQ(sum(cols, {0}).to_vector<float>(), b);
  set_num_threads(saved);
}
