// Indexing and joining ops: values against hand-worked cases and naive loops written here
// (including strided inputs and negative dims), f64 gradchecks, and the errors bad input raises.
#include <gtest/gtest.h>

#include <numeric>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"

using namespace hmr;

namespace {

using Vec = std::vector<double>;
using IVec = std::vector<int64_t>;

// Bool tensors go through uint8 (std::vector<bool> has no contiguous storage).
Tensor mask_of(const std::vector<uint8_t>& v, const Shape& shape) {
  return Tensor::from_vector(v, shape).to(DType::Bool);
}
Tensor f64(const Vec& v, const Shape& shape) { return tensor(v, shape, DType::F64); }
Tensor i64(const IVec& v, const Shape& shape) { return Tensor::from_vector(v, shape); }

Vec values(const Tensor& t) { return t.to_vector<double>(); }

// Row-major coordinates of flat position i in shape, and back.
IVec coords(int64_t i, const Shape& shape) {
  IVec c(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    c[d] = i % shape[d];
    i /= shape[d];
  }
  return c;
}
int64_t flat(const IVec& c, const Shape& shape) {
  int64_t i = 0;
  for (size_t d = 0; d < shape.size(); ++d) i = i * shape[d] + c[d];
  return i;
}

// Expects fn to throw E with a message containing every one of `parts`.
template <class E, class F>
void expect_error(F fn, std::initializer_list<const char*> parts) {
  try {
    fn();
    ADD_FAILURE() << "no exception thrown";
  } catch (const E& e) {
    std::string msg = e.what();
    for (const char* p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' missing from: " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

void expect_gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs) {
  GradcheckResult r = gradcheck(fn, inputs);
  EXPECT_TRUE(r.ok) << r.message;
}

Tensor leaf(const Shape& shape) { return randn(shape, DType::F64).requires_grad_(); }

}  // namespace

// ---- index_select -------------------------------------------------------------------------------

TEST(IndexSelect, PicksRowsAndColumnsIncludingRepeats) {
  Tensor x = arange(12, DType::F64).reshape({3, 4});
  EXPECT_EQ(values(index_select(x, 0, i64({2, 0, 2}, {3}))), (Vec{8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}));
  Tensor cols = index_select(x, -1, i64({3, 1}, {2}));
  EXPECT_EQ(cols.sizes(), (Shape{3, 2}));
  EXPECT_EQ(values(cols), (Vec{3, 1, 7, 5, 11, 9}));
}

TEST(IndexSelect, AcceptsInt32IndexAndTransposedInput) {
  Tensor x = arange(12, DType::F64).reshape({3, 4}).t();  // (4, 3), strides (1, 4)
  Tensor idx = Tensor::from_vector(std::vector<int32_t>{1, 3}, {2});
  // rows 1 and 3 of x^T are columns 1 and 3 of the original.
  EXPECT_EQ(values(index_select(x, 0, idx)), (Vec{1, 5, 9, 3, 7, 11}));
}

TEST(IndexSelect, MatchesNaiveLoopOnPermutedInput) {
  Tensor x = randn({4, 5, 6}, DType::F64).permute({2, 0, 1});  // (6, 4, 5), not contiguous
  IVec idx = {4, 0, 3, 3, 1};
  Tensor y = index_select(x, 2, i64(idx, {5}));
  Vec xv = values(x), yv = values(y);
  Shape ys = {6, 4, 5}, xs = x.sizes();
  for (int64_t i = 0; i < 120; ++i) {
    IVec c = coords(i, ys);
    c[2] = idx[c[2]];
    EXPECT_EQ(yv[i], xv[flat(c, xs)]);
  }
}

TEST(IndexSelect, Gradcheck) {
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return index_select(in[0], 1, i64({2, 0, 2, 1}, {4}));
      },
      {leaf({3, 4})});
}

// ---- gather / scatter ------------------------------------------------------------------------------

TEST(Gather, MatchesDefinitionWithSmallerIndexAndNegativeDim) {
  Tensor x = randn({4, 5, 3}, DType::F64).permute({2, 1, 0});  // (3, 5, 4), strided
  Tensor index = randint(0, 5, {2, 7, 3});                     // dim 1 may exceed x's 5
  Tensor y = gather(x, -2, index);
  EXPECT_EQ(y.sizes(), (Shape{2, 7, 3}));
  Vec xv = values(x), yv = values(y);
  IVec iv = index.to_vector<int64_t>();
  for (int64_t i = 0; i < 42; ++i) {
    IVec c = coords(i, {2, 7, 3});
    c[1] = iv[i];
    EXPECT_EQ(yv[i], xv[flat(c, {3, 5, 4})]);
  }
}

TEST(Gather, Gradcheck) {
  Tensor index = i64({0, 0, 2, 1, 1, 1}, {2, 3});  // repeats accumulate in the gradient
  expect_gradcheck([index](const std::vector<Tensor>& in) { return gather(in[0], 0, index); },
                   {leaf({3, 4})});
}

TEST(Scatter, WritesSrcWhereIndexPointsWithSrcLargerThanIndex) {
  // torch.scatter's documented example: only src[0, :4] is used.
  Tensor src = arange(1, 11, 1, DType::F64).reshape({2, 5});
  Tensor y = scatter(zeros({3, 5}, DType::F64), 0, i64({0, 1, 2, 0}, {1, 4}), src);
  EXPECT_EQ(values(y), (Vec{1, 0, 0, 4, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 0}));
}

TEST(Scatter, GradcheckBothInputs) {
  // Distinct targets per column so the forward is deterministic.
  Tensor index = i64({2, 0, 1, 0, 2, 0}, {2, 3});
  expect_gradcheck([index](const std::vector<Tensor>& in) { return scatter(in[0], 0, index, in[1]); },
                   {leaf({3, 3}), leaf({3, 4})});
}

TEST(ScatterAdd, AccumulatesDuplicates) {
  Tensor y = scatter_add(ones({5}, DType::F64), 0, i64({0, 1, 0, 1, 2, 1}, {6}), ones({6}, DType::F64));
  EXPECT_EQ(values(y), (Vec{3, 4, 2, 1, 1}));
}

TEST(ScatterAdd, MatchesNaiveLoopOnLargeThreadedCase) {
  // dim 0 of length 50 walked serially per column; 2000 columns run in parallel.
  Tensor x = randn({10, 2000}, DType::F64);
  Tensor src = randn({50, 2000}, DType::F64).t().contiguous().t();  // column-major src
  Tensor index = randint(0, 10, {50, 2000});
  Tensor y = scatter_add(x, 0, index, src);
  Vec want = values(x), sv = values(src);
  IVec iv = index.to_vector<int64_t>();
  for (int64_t i = 0; i < 50 * 2000; ++i) want[iv[i] * 2000 + i % 2000] += sv[i];
  Vec got = values(y);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12);
}

TEST(ScatterAdd, Gradcheck) {
  Tensor index = i64({1, 1, 0, 2, 0, 1, 2, 2}, {2, 4});
  expect_gradcheck([index](const std::vector<Tensor>& in) { return scatter_add(in[0], 1, index, in[1]); },
                   {leaf({2, 3}), leaf({3, 5})});
}

// ---- index_add -------------------------------------------------------------------------------------

TEST(IndexAdd, AddsScaledRowsWithRepeatsAndInt32Index) {
  Tensor x = ones({5, 3}, DType::F64);
  Tensor src = arange(12, DType::F64).reshape({4, 3});
  Tensor idx = Tensor::from_vector(std::vector<int32_t>{0, 4, 2, 0}, {4});
  Tensor y = index_add(x, 0, idx, src, 2.0);
  Vec want(15, 1.0);
  IVec rows = {0, 4, 2, 0};
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 3; ++j) want[rows[i] * 3 + j] += 2.0 * static_cast<double>(i * 3 + j);
  EXPECT_EQ(values(y), want);
}

TEST(IndexAdd, AlongLastDimOfTransposedInput) {
  Tensor x = zeros({3, 2}, DType::F64).t();  // (2, 3) strided
  Tensor y = index_add(x, -1, i64({2, 2}, {2}), f64({1, 2, 3, 4}, {2, 2}));
  EXPECT_EQ(values(y), (Vec{0, 0, 3, 0, 0, 7}));
}

TEST(IndexAdd, Gradcheck) {
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return index_add(in[0], 1, i64({3, 0, 3}, {3}), in[1], 2.5);
      },
      {leaf({2, 4}), leaf({2, 3})});
}

// ---- masks -------------------------------------------------------------------------------------------

TEST(MaskedFill, BroadcastsMaskOverRows) {
  Tensor x = arange(6, DType::F64).reshape({2, 3});
  Tensor mask = mask_of({1, 0, 1}, {3});
  EXPECT_EQ(values(masked_fill(x, mask, -1.0)), (Vec{-1, 1, -1, -1, 4, -1}));
  Tensor col = mask_of({0, 1}, {2, 1});
  EXPECT_EQ(values(masked_fill(x.t(), col.t(), 9)), (Vec{0, 9, 1, 9, 2, 9}));
}

TEST(MaskedFill, GradcheckZeroesMaskedPositions) {
  Tensor mask = mask_of({1, 0, 0, 1}, {4});
  expect_gradcheck([mask](const std::vector<Tensor>& in) { return masked_fill(in[0], mask, 3.0); },
                   {leaf({3, 4})});
  Tensor x = leaf({2, 4});
  masked_fill(x, mask, 0.0).sum().backward();
  EXPECT_EQ(values(x.grad()), (Vec{0, 1, 1, 0, 0, 1, 1, 0}));
}

TEST(MaskedSelect, ReturnsTrueElementsInRowMajorOrder) {
  Tensor x = arange(6, DType::F64).reshape({2, 3});
  Tensor mask = mask_of({0, 1, 1, 1, 0, 0}, {2, 3});
  Tensor y = masked_select(x, mask);
  EXPECT_EQ(y.sizes(), (Shape{3}));
  EXPECT_EQ(values(y), (Vec{1, 2, 3}));
  Tensor row = mask_of({1, 0, 1}, {3});
  EXPECT_EQ(values(masked_select(x, row)), (Vec{0, 2, 3, 5}));
}

TEST(MaskedSelect, GradcheckScattersBack) {
  Tensor mask = mask_of({1, 0, 1, 1}, {4});
  expect_gradcheck([mask](const std::vector<Tensor>& in) { return masked_select(in[0], mask); },
                   {leaf({3, 4})});
}

// ---- nonzero -------------------------------------------------------------------------------------------

TEST(Nonzero, ListsCoordinatesRowMajor) {
  Tensor n = nonzero(f64({0, 1, 0, 2, 0, 3}, {2, 3}));
  EXPECT_EQ(n.dtype(), DType::I64);
  EXPECT_EQ(n.sizes(), (Shape{3, 2}));
  EXPECT_EQ(n.to_vector<int64_t>(), (IVec{0, 1, 1, 0, 1, 2}));
  EXPECT_EQ(nonzero(zeros({4, 0, 2})).sizes(), (Shape{0, 3}));
  EXPECT_EQ(nonzero(scalar_tensor(2.0)).sizes(), (Shape{1, 0}));
}

TEST(Nonzero, MatchesNaiveLoopOnLargeStridedInput) {
  Tensor x = gt(randn({300, 700}), 1.0).t();  // > 2^17 elements: several chunks
  Tensor n = nonzero(x);
  IVec xv = x.to_vector<int64_t>();
  IVec want;
  for (int64_t i = 0; i < 700 * 300; ++i)
    if (xv[i]) want.insert(want.end(), {i / 300, i % 300});
  EXPECT_EQ(n.to_vector<int64_t>(), want);
}

// ---- cat / stack -----------------------------------------------------------------------------------------

TEST(Cat, JoinsAlongAnyDimWithDifferentSizes) {
  Tensor a = arange(6, DType::F64).reshape({2, 3}), b = arange(6, 8, 1, DType::F64).reshape({1, 2});
  EXPECT_EQ(values(cat({a, arange(10, 13, 1, DType::F64).reshape({1, 3})}, 0)),
            (Vec{0, 1, 2, 3, 4, 5, 10, 11, 12}));
  Tensor c = cat({a, b.t().expand({2, 2})}, -1);  // broadcast, strided input
  EXPECT_EQ(c.sizes(), (Shape{2, 5}));
  EXPECT_EQ(values(c), (Vec{0, 1, 2, 6, 6, 3, 4, 5, 7, 7}));
}

TEST(Cat, PromotesDtypesAndSkipsEmptyVectors) {
  Tensor a = Tensor::from_vector(std::vector<int32_t>{1, 2}, {1, 2});
  Tensor b = f64({0.5, 1.5}, {1, 2});
  Tensor empty1d = zeros({0}, DType::F32);
  Tensor y = cat({empty1d, a, b}, 0);
  EXPECT_EQ(y.dtype(), DType::F64);
  EXPECT_EQ(y.sizes(), (Shape{2, 2}));
  EXPECT_EQ(values(y), (Vec{1, 2, 0.5, 1.5}));
  EXPECT_EQ(cat({a, a}, 1).dtype(), DType::I32);
  EXPECT_EQ(cat({zeros({0}), zeros({0})}).sizes(), (Shape{0}));
}

TEST(Cat, Gradcheck) {
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return cat({in[0], in[1], in[2]}, 1);
      },
      {leaf({2, 1}), leaf({2, 3}), leaf({0})});
}

TEST(Stack, InsertsNewDim) {
  Tensor a = f64({1, 2, 3}, {3}), b = f64({4, 5, 6}, {3});
  EXPECT_EQ(values(stack({a, b})), (Vec{1, 2, 3, 4, 5, 6}));
  Tensor s = stack({a, b}, -1);
  EXPECT_EQ(s.sizes(), (Shape{3, 2}));
  EXPECT_EQ(values(s), (Vec{1, 4, 2, 5, 3, 6}));
}

TEST(Stack, Gradcheck) {
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return stack({in[0], in[1]}, 1);
      },
      {leaf({2, 3}), leaf({2, 3})});
}

// ---- split / chunk / unbind (views) ---------------------------------------------------------------------

TEST(Split, PiecesAreViewsWithShorterLast) {
  Tensor x = arange(10, DType::F64).reshape({5, 2});
  auto parts = split(x, 2);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[2].sizes(), (Shape{1, 2}));
  EXPECT_EQ(values(parts[1]), (Vec{4, 5, 6, 7}));
  for (const Tensor& p : parts) EXPECT_TRUE(p.shares_storage(x));
  auto cols = split_with_sizes(x, {1, 1}, -1);
  EXPECT_EQ(values(cols[1]), (Vec{1, 3, 5, 7, 9}));
  EXPECT_TRUE(cols[1].shares_storage(x));
}

TEST(Chunk, SizesFollowPyTorch) {
  auto sizes_of = [](const std::vector<Tensor>& parts) {
    Shape s;
    for (const Tensor& p : parts) s.push_back(p.size(0));
    return s;
  };
  EXPECT_EQ(sizes_of(chunk(arange(5), 3)), (Shape{2, 2, 1}));
  EXPECT_EQ(sizes_of(chunk(arange(6), 4)), (Shape{2, 2, 2}));  // fewer chunks than asked
  EXPECT_EQ(sizes_of(chunk(zeros({0}), 2)), (Shape{0, 0}));
}

TEST(Unbind, SelectsEverySliceAsAView) {
  Tensor x = arange(6, DType::F64).reshape({2, 3});
  auto cols = unbind(x, -1);
  ASSERT_EQ(cols.size(), 3u);
  EXPECT_EQ(values(cols[2]), (Vec{2, 5}));
  EXPECT_TRUE(cols[2].shares_storage(x));
}

TEST(SplitChunkUnbind, Gradcheck) {
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        auto s = split(in[0], 2, 1);  // (3,2) (3,2) (3,1)
        auto c = chunk(in[0], 2, 0);  // (2,5) (1,5)
        auto u = unbind(in[0], 0);
        return cat({flatten(s[0]) * 2.0, flatten(s[2]) * 3.0, flatten(c[1]), u[2] * -1.0});
      },
      {leaf({3, 5})});
}

// ---- repeat / flip / tril / triu
// -----------------------------------------------------------------------------

TEST(Repeat, TilesAndAddsLeadingDims) {
  Tensor x = f64({1, 2, 3}, {3});
  Tensor y = repeat(x, {2, 2});
  EXPECT_EQ(y.sizes(), (Shape{2, 6}));
  EXPECT_EQ(values(y), (Vec{1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3}));
  Tensor t = arange(6, DType::F64).reshape({2, 3}).t();  // (3, 2) strided
  Tensor r = repeat(t, {2, 1});
  Vec tv = values(t), rv = values(r);
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(rv[i], tv[i % 6]);
}

TEST(Repeat, Gradcheck) {
  expect_gradcheck([](const std::vector<Tensor>& in) { return repeat(in[0], {2, 1, 3}); }, {leaf({2, 3})});
}

TEST(Flip, ReversesChosenDims) {
  Tensor x = arange(6, DType::F64).reshape({2, 3});
  EXPECT_EQ(values(flip(x, {0})), (Vec{3, 4, 5, 0, 1, 2}));
  EXPECT_EQ(values(flip(x, {-1})), (Vec{2, 1, 0, 5, 4, 3}));
  EXPECT_EQ(values(flip(x.t(), {0, 1})), (Vec{5, 2, 4, 1, 3, 0}));
}

TEST(Flip, Gradcheck) {
  expect_gradcheck([](const std::vector<Tensor>& in) { return flip(in[0], {0, 2}); }, {leaf({2, 3, 2})});
}

TEST(Triangle, KeepsDiagonalBandWithOffset) {
  Tensor x = arange(1, 13, 1, DType::F64).reshape({3, 4});
  EXPECT_EQ(values(tril(x)), (Vec{1, 0, 0, 0, 5, 6, 0, 0, 9, 10, 11, 0}));
  EXPECT_EQ(values(tril(x, -1)), (Vec{0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0}));
  EXPECT_EQ(values(triu(x, 1)), (Vec{0, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 12}));
  Tensor batch = stack({x, x * 2.0});
  EXPECT_EQ(values(triu(batch)), values(stack({triu(x), triu(x) * 2.0})));
}

TEST(Triangle, Gradcheck) {
  expect_gradcheck([](const std::vector<Tensor>& in) { return tril(in[0], 1); }, {leaf({2, 3, 4})});
  expect_gradcheck([](const std::vector<Tensor>& in) { return triu(in[0], -1); }, {leaf({4, 3})});
}

// ---- errors --------------------------------------------------------------------------------------------

TEST(IndexingErrors, WrongIndexDtype) {
  Tensor x = zeros({3, 4});
  expect_error<DTypeError>([&] { index_select(x, 0, zeros({2})); }, {"index_select", "float32"});
  expect_error<DTypeError>([&] { gather(x, 0, zeros({1, 4})); }, {"gather", "float32"});
  expect_error<DTypeError>([&] { scatter_add(x, 0, zeros({1, 4}, DType::U8), x); }, {"scatter_add", "uint8"});
}

TEST(IndexingErrors, OutOfRangeIndexNamesOpValueAndSize) {
  Tensor x = zeros({3, 4});
  expect_error<IndexError>(
      [&] {
        index_select(x, 0, i64({0, 3}, {2}));
      },
      {"index_select", "index 3", "size 3"});
  expect_error<IndexError>([&] { gather(x, 1, i64({0, 7}, {1, 2})); }, {"gather", "index 7", "size 4"});
  expect_error<IndexError>([&] { gather(x, 1, i64({-1, 0}, {1, 2})); }, {"gather", "index -1"});
  expect_error<IndexError>([&] { scatter(x, 0, i64({5}, {1, 1}), x); }, {"scatter", "index 5", "size 3"});
  expect_error<IndexError>(
      [&] {
        index_add(x, 1, i64({4}, {1}), zeros({3, 1}));
      },
      {"index_add", "index 4", "size 4"});
}

TEST(IndexingErrors, MismatchedShapes) {
  expect_error<ShapeError>([] { cat({zeros({2, 3}), zeros({2, 4})}, 0); }, {"cat", "[2, 3]", "[2, 4]"});
  expect_error<ShapeError>([] { cat({zeros({2, 3}), zeros({2, 3, 1})}); }, {"cat", "[2, 3, 1]"});
  expect_error<ShapeError>([] { stack({zeros({2, 3}), zeros({3, 2})}); }, {"stack", "[2, 3]", "[3, 2]"});
  expect_error<ShapeError>(
      [] {
        gather(zeros({3, 4}), 0, zeros({2}, DType::I64));
      },
      {"gather", "[2]", "[3, 4]"});
  expect_error<ShapeError>(
      [] {
        index_add(zeros({3, 4}), 0, i64({0}, {1}), zeros({2, 4}));
      },
      {"index_add", "[1, 4]", "[2, 4]"});
  expect_error<ShapeError>([] { split_with_sizes(zeros({5}), {2, 2}); }, {"split_with_sizes", "[2, 2]"});
  expect_error<ShapeError>([] { tril(zeros({3})); }, {"tril", "[3]"});
  expect_error<ShapeError>([] { masked_fill(zeros({2, 3}), zeros({2}, DType::Bool), 1.0); }, {"masked_fill"});
}

TEST(IndexingErrors, MaskOfWrongDtype) {
  expect_error<DTypeError>(
      [] {
        masked_fill(zeros({2, 3}), zeros({2, 3}, DType::U8), 1.0);
      },
      {"masked_fill", "uint8"});
  expect_error<DTypeError>([] { masked_select(zeros({2, 3}), zeros({2, 3})); }, {"masked_select", "float32"});
}
