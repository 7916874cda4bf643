// View and shape ops: f64 gradchecks of every view and copy, storage sharing (writes through a
// view reach the base), view() refusing incompatible layouts where reshape() copies, and
// error messages that name the op and the shapes.
#include <gtest/gtest.h>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"

#include "support.h"

using namespace hmr;

namespace {

using Values = std::vector<double>;

Tensor input(const Shape& sizes) { return randn(sizes, DType::F64).requires_grad_(); }

// Gradchecks a one-input function; the output is multiplied by a fixed pattern inside
// gradcheck, so a wrong element order in the backward shows up.
void expect_gradcheck(const Tensor& x, std::function<Tensor(const Tensor&)> f) {
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return f(in[0]); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
}

using hmr::testing::error_message;
}  // namespace

TEST(ViewGrad, Reshape) {
  expect_gradcheck(input({2, 3, 4}), [](const Tensor& x) { return x.reshape({4, 6}); });
  expect_gradcheck(input({2, 3, 4}), [](const Tensor& x) { return x.reshape({-1, 2}); });
  // A non-contiguous input makes reshape copy.
  expect_gradcheck(input({3, 4}), [](const Tensor& x) { return x.t().reshape({-1}); });
}

TEST(ViewGrad, View) {
  expect_gradcheck(input({2, 6}), [](const Tensor& x) { return x.view({3, -1}); });
  expect_gradcheck(input({2, 3, 4}), [](const Tensor& x) { return x.permute({1, 0, 2}).view({3, 2, 2, 2}); });
}

TEST(ViewGrad, PermuteAndTranspose) {
  expect_gradcheck(input({2, 3, 4}), [](const Tensor& x) { return x.permute({2, 0, 1}); });
  expect_gradcheck(input({2, 3, 4}), [](const Tensor& x) { return x.permute({-1, 0, 1}); });
  expect_gradcheck(input({2, 3, 4}), [](const Tensor& x) { return x.transpose(0, 2); });
  expect_gradcheck(input({3, 5}), [](const Tensor& x) { return x.t(); });
}

TEST(ViewGrad, NarrowAndSliceWithStep) {
  expect_gradcheck(input({5, 4}), [](const Tensor& x) { return x.narrow(0, 1, 3); });
  expect_gradcheck(input({5, 4}), [](const Tensor& x) { return x.narrow(1, -3, 2); });
  expect_gradcheck(input({7, 3}), [](const Tensor& x) { return x.slice(0, 1, 7, 2); });
  expect_gradcheck(input({3, 8}), [](const Tensor& x) { return x.slice(1, -6, -1, 3); });
  expect_gradcheck(input({4, 6}), [](const Tensor& x) { return x.t().slice(0, 0, 6, 4); });
}

TEST(ViewGrad, SelectWithNegativeIndex) {
  expect_gradcheck(input({3, 4}), [](const Tensor& x) { return x.select(0, -1); });
  expect_gradcheck(input({3, 4, 2}), [](const Tensor& x) { return x.select(1, -3); });
  expect_gradcheck(input({3, 4}), [](const Tensor& x) { return x[1]; });
}

TEST(ViewGrad, ExpandIncludingNewLeadingDims) {
  expect_gradcheck(input({3, 1}), [](const Tensor& x) { return x.expand({3, 4}); });
  expect_gradcheck(input({3, 1}), [](const Tensor& x) { return x.expand({2, -1, 5}); });
  expect_gradcheck(input({1}), [](const Tensor& x) { return x.expand({2, 3}); });
}

TEST(ViewGrad, ExpandGradientSumsTheCopies) {
  Tensor x = tensor({1, 2}, DType::F64).reshape({2, 1}).detach().requires_grad_();
  Tensor w = tensor({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, DType::F64).reshape({2, 2, 3});
  (x.expand({2, 2, 3}) * w).sum().backward();
  // x[0] is seen at w[:, 0, :] = {1,2,3,7,8,9}, x[1] at {4,5,6,10,11,12}.
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{30, 48}));
}

TEST(ViewGrad, SqueezeUnsqueezeFlattenUnflatten) {
  expect_gradcheck(input({2, 1, 3, 1}), [](const Tensor& x) { return x.squeeze(); });
  expect_gradcheck(input({2, 1, 3}), [](const Tensor& x) { return x.squeeze(1); });
  expect_gradcheck(input({2, 1, 3}), [](const Tensor& x) { return x.squeeze(0); });  // not size 1: same shape
  expect_gradcheck(input({2, 3}), [](const Tensor& x) { return x.unsqueeze(0); });
  expect_gradcheck(input({2, 3}), [](const Tensor& x) { return x.unsqueeze(-1); });
  expect_gradcheck(input({2, 3}), [](const Tensor& x) { return x.t().unsqueeze(1); });
  expect_gradcheck(input({2, 3, 4}), [](const Tensor& x) { return x.flatten(); });
  expect_gradcheck(input({2, 3, 4}), [](const Tensor& x) { return x.flatten(1); });
  expect_gradcheck(input({2, 3, 4}), [](const Tensor& x) { return x.permute({2, 1, 0}).flatten(0, 1); });
  expect_gradcheck(input({2, 12}), [](const Tensor& x) { return unflatten(x, 1, {3, -1}); });
}

TEST(ViewGrad, AsStridedNonOverlapping) {
  // Every other element of rows 1..2 of a (4, 6) tensor, as a (2, 3) window.
  expect_gradcheck(input({4, 6}), [](const Tensor& x) { return as_strided(x, {2, 3}, {6, 2}, 6); });
  // On a view with an offset: the offset is absolute (in the storage), as in PyTorch.
  expect_gradcheck(input({4, 6}), [](const Tensor& x) {
    Tensor rows = x.narrow(0, 1, 3);
    return as_strided(rows, {3, 2}, {6, 1}, rows.offset() + 2);
  });
}

TEST(ViewGrad, AsStridedOfAPermutedInput) {
  // x.t() has strides (1, 4); the window reads storage elements 1, 5, 9 — x[0][1], x[1][1],
  // x[2][1] — whose gradient must land there, not where a contiguous x.t() would keep them.
  Tensor x =
      tensor({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, DType::F64).reshape({3, 4}).detach().requires_grad_();
  Tensor y = as_strided(x.t(), {3}, {4}, 1);
  EXPECT_EQ(y.to_vector<double>(), (Values{1, 5, 9}));
  (y * tensor({1, 2, 3}, DType::F64)).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0}));
  expect_gradcheck(input({3, 4}), [](const Tensor& x) { return as_strided(x.t(), {2, 3}, {1, 4}, 0); });
}

TEST(ViewGrad, ContiguousAndClone) {
  expect_gradcheck(input({3, 4}), [](const Tensor& x) { return x.t().contiguous(); });
  expect_gradcheck(input({3, 4}), [](const Tensor& x) { return x.clone(); });
}

TEST(ViewGrad, ToDtypeBetweenF32AndF64CastsTheGradientBack) {
  Tensor x = tensor({1, 2, 3}, DType::F32).requires_grad_();
  Tensor y = x.to(DType::F64);
  EXPECT_EQ(y.dtype(), DType::F64);
  (y * tensor({0.5, 1.5, 2.5}, DType::F64)).sum().backward();
  EXPECT_EQ(x.grad().dtype(), DType::F32);
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{0.5, 1.5, 2.5}));

  Tensor z = tensor({1, 2}, DType::F64).requires_grad_();
  (z.to(DType::F32) * 4.0).sum().backward();
  EXPECT_EQ(z.grad().dtype(), DType::F64);
  EXPECT_EQ(z.grad().to_vector<double>(), (Values{4, 4}));
}

TEST(ViewGrad, ChainOfViewsHasTheHandGradient) {
  // x (2, 3): y = x.t()[1:3] (rows of x.t() = columns 1, 2 of x), weighted by w.
  Tensor x = tensor({1, 2, 3, 4, 5, 6}, DType::F64).reshape({2, 3}).detach().requires_grad_();
  Tensor w = tensor({1, 2, 3, 4}, DType::F64).reshape({2, 2});
  Tensor y = x.t().slice(0, 1, 3);  // [[2, 5], [3, 6]]
  EXPECT_EQ(y.contiguous().to_vector<double>(), (Values{2, 5, 3, 6}));
  (y * w).sum().backward();
  // y[i][j] = x[j][i + 1], so x.grad[j][i + 1] = w[i][j].
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{0, 1, 3, 0, 2, 4}));
}

TEST(Views, ShareStorageAndWritesThroughAViewReachTheBase) {
  Tensor base = arange(12, DType::F64).reshape({3, 4});
  Tensor row = base.select(0, 1);
  Tensor col = base.t().select(0, 2);
  Tensor strided = base.slice(1, 0, 4, 2);
  EXPECT_TRUE(row.shares_storage(base));
  EXPECT_TRUE(col.shares_storage(base));
  EXPECT_TRUE(strided.shares_storage(base));
  EXPECT_TRUE(base.view({12}).shares_storage(base));
  EXPECT_TRUE(base.expand({2, 3, 4}).shares_storage(base));
  row.fill_(-1);
  col.mul_(10);
  strided.select(0, 0).zero_();  // base[0][0] and base[0][2]
  Values want = {0, 1, 0, 3, -1, -1, -10, -1, 8, 9, 100, 11};
  EXPECT_EQ(base.to_vector<double>(), want);
  EXPECT_EQ(base.view({12}).to_vector<double>(), want);
}

TEST(Views, ContiguousAndCloneCopy) {
  Tensor base = arange(6, DType::F64).reshape({2, 3});
  EXPECT_TRUE(base.contiguous().is_same(base));  // already contiguous: no copy
  Tensor c = base.t().contiguous();
  EXPECT_FALSE(c.shares_storage(base));
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.to_vector<double>(), (Values{0, 3, 1, 4, 2, 5}));
  Tensor k = base.clone();
  EXPECT_FALSE(k.shares_storage(base));
  k.fill_(0);
  EXPECT_EQ(base.to_vector<double>(), (Values{0, 1, 2, 3, 4, 5}));
}

TEST(Views, ViewOnAnIncompatibleLayoutThrowsAndReshapeCopies) {
  Tensor base = arange(6, DType::F64).reshape({2, 3});
  Tensor t = base.t();  // (3, 2), strides (1, 3): its rows are not contiguous
  std::string msg = error_message([&] { t.view({6}); });
  EXPECT_NE(msg.find("view"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3, 2]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[6]"), std::string::npos) << msg;
  EXPECT_THROW(t.view({6}), ShapeError);

  Tensor r = t.reshape({6});
  EXPECT_FALSE(r.shares_storage(base));
  EXPECT_EQ(r.to_vector<double>(), (Values{0, 3, 1, 4, 2, 5}));
  // A compatible layout stays a view even when non-contiguous: splitting a dim of t.
  Tensor v = t.view({3, 2, 1});
  EXPECT_TRUE(v.shares_storage(base));
  EXPECT_TRUE(t.reshape({3, 1, 2}).shares_storage(base));
}

TEST(Views, ShapeErrorsNameTheOpAndShapes) {
  Tensor x = zeros({2, 3}, DType::F64);
  std::string msg = error_message([&] { x.reshape({4, 2}); });
  EXPECT_NE(msg.find("reshape"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4, 2]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("6"), std::string::npos) << msg;
  EXPECT_THROW(x.reshape({4, 2}), ShapeError);
  EXPECT_THROW(x.view({-1, -1}), ShapeError);

  msg = error_message([&] { x.expand({4, 3, 4}); });
  EXPECT_NE(msg.find("expand"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4, 3, 4]"), std::string::npos) << msg;
  EXPECT_THROW(x.expand({4, 3, 4}), ShapeError);
  EXPECT_THROW(x.expand({3}), ShapeError);

  msg = error_message([&] { x.permute({0, 0}); });
  EXPECT_NE(msg.find("permute"), std::string::npos) << msg;
  EXPECT_THROW(x.permute({0, 0}), ShapeError);
  msg = error_message([&] { x.permute({0}); });
  EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
  EXPECT_THROW(x.permute({0}), ShapeError);

  msg = error_message([&] { x.narrow(1, 2, 2); });
  EXPECT_NE(msg.find("narrow"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
  EXPECT_THROW(x.narrow(1, 2, 2), IndexError);

  msg = error_message([&] { x.select(0, 2); });
  EXPECT_NE(msg.find("select"), std::string::npos) << msg;
  EXPECT_THROW(x.select(0, -3), IndexError);

  msg = error_message([&] { unflatten(x, 1, {2, 2}); });
  EXPECT_NE(msg.find("unflatten"), std::string::npos) << msg;
  EXPECT_THROW(unflatten(x, 1, {2, 2}), ShapeError);

  msg = error_message([&] { x.transpose(0, 2); });
  EXPECT_NE(msg.find("transpose"), std::string::npos) << msg;
  EXPECT_THROW(x.transpose(0, 2), IndexError);
}
