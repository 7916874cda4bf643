// The CPU indexed loops walk outer positions in runs and split threads over outer positions or
// steps along dim: gather, index_select, scatter_add and index_add on 1-D to 3-D inputs, every
// dim, permuted (non-contiguous) inputs and sizes that do not divide the thread split, against
// naive loops written here.
#include <gtest/gtest.h>

#include <vector>

#include "autograd/ops.h"

using namespace hmr;

namespace {

// (a, b, c) row-major index of a 3-D shape.
int64_t at(const Shape& s, int64_t i, int64_t j, int64_t k) { return (i * s[1] + j) * s[2] + k; }

Tensor random_index(const Shape& shape, int64_t high, uint64_t seed) {
  Generator g(seed);
  return randint(0, high, shape, DType::I64, &g);
}

}  // namespace

TEST(IndexingWalk, GatherEveryDimOfPermutedInputs) {
  const Shape base{5, 70, 9};
  Generator g(1);
  Tensor raw = rand(base, DType::F32, &g);
  for (bool permuted : {false, true}) {
    // permuted: the same logical (5, 70, 9) values read through a transposed layout
    Tensor x = permuted ? raw.permute({2, 1, 0}).contiguous().permute({2, 1, 0}) : raw;
    std::vector<float> xv = raw.to_vector<float>();
    for (int64_t dim = 0; dim < 3; ++dim) {
      Shape is = base;
      is[dim] = 33;  // index longer than x along dim; other dims as x
      Tensor index = random_index(is, base[dim], 10 + dim);
      std::vector<float> y = gather(x, dim, index).to_vector<float>();
      std::vector<int64_t> iv = index.to_vector<int64_t>();
      for (int64_t a = 0; a < is[0]; ++a)
        for (int64_t b = 0; b < is[1]; ++b)
          for (int64_t c = 0; c < is[2]; ++c) {
            int64_t v = iv[at(is, a, b, c)];
            int64_t src = dim == 0 ? at(base, v, b, c) : dim == 1 ? at(base, a, v, c) : at(base, a, b, v);
            ASSERT_EQ(y[at(is, a, b, c)], xv[src]) << "dim " << dim << " permuted " << permuted;
          }
    }
  }
}

TEST(IndexingWalk, IndexSelectRowsColumnsAndLongVectors) {
  Generator g(2);
  Tensor x = rand({300, 17}, DType::F32, &g);
  std::vector<float> xv = x.to_vector<float>();
  Tensor rows = random_index({1001}, 300, 3), cols = random_index({40}, 17, 4);
  std::vector<int64_t> rv = rows.to_vector<int64_t>(), cv = cols.to_vector<int64_t>();
  std::vector<float> r = index_select(x, 0, rows).to_vector<float>();
  for (int64_t i = 0; i < 1001; ++i)
    for (int64_t j = 0; j < 17; ++j) ASSERT_EQ(r[i * 17 + j], xv[rv[i] * 17 + j]);
  std::vector<float> c = index_select(x.t(), 1, rows).to_vector<float>();  // (17, 1001)
  for (int64_t j = 0; j < 17; ++j)
    for (int64_t i = 0; i < 1001; ++i) ASSERT_EQ(c[j * 1001 + i], xv[rv[i] * 17 + j]);
  std::vector<float> s = index_select(x, 1, cols).to_vector<float>();
  for (int64_t i = 0; i < 300; ++i)
    for (int64_t j = 0; j < 40; ++j) ASSERT_EQ(s[i * 40 + j], xv[i * 17 + cv[j]]);
  // 1-D: one outer position, so the threads split the steps.
  Tensor v = rand({100000}, DType::F64, &g);
  Tensor big = random_index({250001}, 100000, 5);
  std::vector<double> vv = v.to_vector<double>(), out = index_select(v, 0, big).to_vector<double>();
  std::vector<int64_t> bv = big.to_vector<int64_t>();
  for (int64_t i = 0; i < 250001; ++i) ASSERT_EQ(out[i], vv[bv[i]]) << i;
}

TEST(IndexingWalk, ScatterAddAndIndexAddAlongEachDim) {
  // Integer-valued floats, so sums are exact in any order.
  const Shape base{6, 50, 7};
  Tensor src = randint(-4, 5, base, DType::I64, nullptr).to(DType::F32);
  std::vector<float> sv = src.to_vector<float>();
  for (int64_t dim = 0; dim < 3; ++dim) {
    Shape ts = base;
    ts[dim] = 4;  // few targets: many duplicates
    Tensor index = random_index(base, 4, 20 + dim);
    std::vector<int64_t> iv = index.to_vector<int64_t>();
    std::vector<float> expect(shape_numel(ts), 1.0f);
    for (int64_t a = 0; a < base[0]; ++a)
      for (int64_t b = 0; b < base[1]; ++b)
        for (int64_t c = 0; c < base[2]; ++c) {
          int64_t v = iv[at(base, a, b, c)];
          int64_t t = dim == 0 ? at(ts, v, b, c) : dim == 1 ? at(ts, a, v, c) : at(ts, a, b, v);
          expect[t] += sv[at(base, a, b, c)];
        }
    EXPECT_EQ(scatter_add(ones(ts), dim, index, src).to_vector<float>(), expect) << "dim " << dim;
    // index_add: a vector index along dim, alpha 2.
    Tensor vi = random_index({base[dim]}, 4, 30 + dim);
    std::vector<int64_t> vv = vi.to_vector<int64_t>();
    std::vector<float> e2(shape_numel(ts), 1.0f);
    for (int64_t a = 0; a < base[0]; ++a)
      for (int64_t b = 0; b < base[1]; ++b)
        for (int64_t c = 0; c < base[2]; ++c) {
          int64_t t = dim == 0 ? at(ts, vv[a], b, c) : dim == 1 ? at(ts, a, vv[b], c) : at(ts, a, b, vv[c]);
          e2[t] += 2 * sv[at(base, a, b, c)];
        }
    EXPECT_EQ(index_add(ones(ts), dim, vi, src, 2).to_vector<float>(), e2) << "dim " << dim;
  }
}
