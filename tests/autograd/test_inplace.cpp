// In-place ops: their values, the rules that protect autograd (leaves requiring grad, saved
// tensors overwritten later), and history kept through in-place writes on non-leaves and on
// views of non-leaves (rebase_history / CopySlices). Expected gradients are by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "fixtures/autograd_fixtures.inc"

#include "support.h"

using namespace hmr;

namespace {

using Values = std::vector<double>;

Tensor values(std::initializer_list<double> v) { return tensor(v, DType::F64); }
Tensor leaf(std::initializer_list<double> v) { return values(v).requires_grad_(); }

using hmr::testing::error_message;
}  // namespace

TEST(InPlace, ArithmeticValues) {
  Tensor x = values({1, 2, 3});
  x.add_(values({10, 20, 30}));
  EXPECT_EQ(x.to_vector<double>(), (Values{11, 22, 33}));
  x.add_(values({1, 1, 1}), 2);  // x + 2 * other
  EXPECT_EQ(x.to_vector<double>(), (Values{13, 24, 35}));
  x.sub_(values({3, 4, 5}));
  EXPECT_EQ(x.to_vector<double>(), (Values{10, 20, 30}));
  x.sub_(values({1, 2, 3}), 10);
  EXPECT_EQ(x.to_vector<double>(), (Values{0, 0, 0}));
  x.add_(values({2, 4, 8}));
  x.mul_(values({1, 0.5, 0.25}));
  EXPECT_EQ(x.to_vector<double>(), (Values{2, 2, 2}));
  x.mul_(3);
  EXPECT_EQ(x.to_vector<double>(), (Values{6, 6, 6}));
  x.div_(values({2, 3, 6}));
  EXPECT_EQ(x.to_vector<double>(), (Values{3, 2, 1}));
  x.div_(4);
  EXPECT_EQ(x.to_vector<double>(), (Values{0.75, 0.5, 0.25}));
}

TEST(InPlace, BroadcastOtherIntoSelf) {
  Tensor x = zeros({2, 3}, DType::F64);
  x.add_(values({1, 2, 3}));
  EXPECT_EQ(x.to_vector<double>(), (Values{1, 2, 3, 1, 2, 3}));
  // The result may not grow self.
  Tensor row = zeros({3}, DType::F64);
  std::string msg = error_message([&] { row.add_(zeros({2, 3}, DType::F64)); });
  EXPECT_NE(msg.find("add_"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
  EXPECT_THROW(row.add_(zeros({2, 3}, DType::F64)), ShapeError);
}

TEST(InPlace, CopyFillZeroValues) {
  Tensor x = zeros({2, 2}, DType::F64);
  x.copy_(values({1, 2, 3, 4}).reshape({2, 2}).t());
  EXPECT_EQ(x.to_vector<double>(), (Values{1, 3, 2, 4}));
  x.copy_(values({5, 6}));  // broadcast over rows
  EXPECT_EQ(x.to_vector<double>(), (Values{5, 6, 5, 6}));
  Tensor f = zeros({3}, DType::F32);
  f.copy_(values({0.5, 1.5, 2.5}));  // converts dtype
  EXPECT_EQ(f.dtype(), DType::F32);
  EXPECT_EQ(f.to_vector<double>(), (Values{0.5, 1.5, 2.5}));
  x.fill_(7);
  EXPECT_EQ(x.to_vector<double>(), (Values{7, 7, 7, 7}));
  x.zero_();
  EXPECT_EQ(x.to_vector<double>(), (Values{0, 0, 0, 0}));
}

TEST(InPlace, EveryInPlaceOpBumpsTheVersion) {
  Tensor x = values({1, 2});
  Tensor view = x.slice(0, 0, 1);
  uint32_t v0 = x.version();
  x.add_(values({1, 1}));
  x.mul_(2);
  view.fill_(0);  // a view shares the counter
  EXPECT_EQ(x.version(), v0 + 3);
  EXPECT_EQ(view.version(), x.version());
}

TEST(InPlace, LeafRequiringGradIsRefusedWithGradModeOn) {
  Tensor w = leaf({1, 2});
  std::string msg = error_message([&] { w.mul_(2); });
  EXPECT_NE(msg.find("mul_"), std::string::npos) << msg;
  EXPECT_NE(msg.find("leaf"), std::string::npos) << msg;
  EXPECT_THROW(w.add_(values({1, 1})), AutogradError);
  EXPECT_THROW(w.fill_(0), AutogradError);
  EXPECT_THROW(w.zero_(), AutogradError);
  EXPECT_THROW(w.copy_(values({0, 0})), AutogradError);
  EXPECT_THROW(w.slice(0, 0, 1).mul_(2), AutogradError);  // through a view as well
  EXPECT_EQ(w.to_vector<double>(), (Values{1, 2}));
}

TEST(InPlace, LeafRequiringGradMayBeUpdatedUnderNoGrad) {
  Tensor w = leaf({1, 2});
  {
    NoGradGuard no_grad;
    w.sub_(values({0.5, 0.5}), 2);
    w.slice(0, 1, 2).mul_(10);
  }
  EXPECT_EQ(w.to_vector<double>(), (Values{0, 10}));
  EXPECT_TRUE(w.is_leaf());
  EXPECT_TRUE(w.requires_grad());
  (w * w).sum().backward();
  EXPECT_EQ(w.grad().to_vector<double>(), (Values{0, 20}));
}

TEST(InPlace, OverwritingASavedTensorIsDetectedAtBackward) {
  Tensor x = leaf({0.0, 1.0});
  Tensor y = sigmoid(x);  // saves y for its backward
  y.mul_(2);
  std::string msg;
  try {
    y.sum().backward();
  } catch (const AutogradError& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("modified by an in-place operation"), std::string::npos) << msg;
  EXPECT_NE(msg.find("version"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sigmoid"), std::string::npos) << msg;
}

TEST(InPlace, OverwritingAnInputSavedByMulIsDetected) {
  Tensor x = leaf({1, 2});
  Tensor h = x * 1.0;
  Tensor y = h * h;  // saves h twice
  h.add_(values({1, 1}));
  EXPECT_THROW(y.sum().backward(), AutogradError);
}

TEST(InPlace, OnANonLeafKeepsTheGradient) {
  Tensor x = leaf({1, 2, 3});
  Tensor y = x * 1.0;
  y.mul_(3);
  EXPECT_EQ(y.to_vector<double>(), (Values{3, 6, 9}));
  EXPECT_FALSE(y.is_leaf());
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{3, 3, 3}));
}

TEST(InPlace, ChainOfInPlaceOpsOnANonLeaf) {
  // y = ((2x + w) * x) / 4 built in place; dy/dx = (4x + w) / 4, dy/dw = x / 4.
  Tensor x = leaf({1, 2});
  Tensor w = leaf({4, 8});
  Tensor y = x * 2.0;
  y.add_(w);
  y.mul_(x);
  y.div_(4);
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{2, 4}));
  EXPECT_EQ(w.grad().to_vector<double>(), (Values{0.25, 0.5}));
}

TEST(InPlace, MulByAGradTensorUsesSelfsValueBeforeTheWrite) {
  // b = x^2, then b *= w: d/dx = 2xw, d/dw = x^2 (the old b, which mul_ overwrote).
  Tensor x = leaf({1, 2, 3});
  Tensor w = leaf({4, 5, 6});
  Tensor b = x * x;
  b.mul_(w);
  b.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{8, 20, 36}));
  EXPECT_EQ(w.grad().to_vector<double>(), (Values{1, 4, 9}));
}

TEST(InPlace, AddingAGradTensorIntoAConstantStartsHistory) {
  Tensor acc = zeros({2}, DType::F64);
  Tensor x = leaf({1, 2});
  acc.add_(x * 5.0);
  EXPECT_TRUE(acc.requires_grad());
  acc.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{5, 5}));
}

TEST(InPlace, CopyIntoANonLeafSendsTheGradientToTheSource) {
  Tensor x = leaf({1, 2});
  Tensor src = leaf({3, 4});
  Tensor y = x * 2.0;
  y.copy_(src * 3.0);  // y no longer depends on x
  y.sum().backward();
  EXPECT_EQ(src.grad().to_vector<double>(), (Values{3, 3}));
  // Nothing of x survives in y: its gradient is absent or zero.
  if (x.grad().defined()) {
    EXPECT_EQ(x.grad().to_vector<double>(), (Values{0, 0}));
  }
}

TEST(InPlace, ThroughAViewOfANonLeafUpdatesTheBaseHistory) {
  Tensor x = leaf({1, 2, 3, 4});
  Tensor b = x * 1.0;
  b.slice(0, 1, 3).mul_(2);
  EXPECT_EQ(b.to_vector<double>(), (Values{1, 4, 6, 4}));
  b.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{1, 2, 2, 1}));
}

TEST(InPlace, ThroughAStridedViewOfAMatrix) {
  // b = x^2 (2, 3); column 1 and the strided row view b[1, ::2] scaled in place.
  Tensor x = values({1, 2, 3, 4, 5, 6}).reshape({2, 3}).detach().requires_grad_();
  Tensor b = x * x;
  b.select(1, 1).mul_(3);                     // b[:, 1] *= 3
  b.select(0, 1).slice(0, 0, 3, 2).mul_(-1);  // b[1, 0] and b[1, 2] negated
  EXPECT_EQ(b.to_vector<double>(), (Values{1, 12, 9, -16, 75, -36}));
  b.sum().backward();
  // d/dx of each element: c * 2x with c = 1, 3, 1 / -1, 3, -1.
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{2, 12, 6, -8, 30, -12}));
}

TEST(InPlace, ThroughAViewWithAGradSource) {
  // b[1:3] += w * w: the base's gradient is 1 everywhere, w gets 2w.
  Tensor x = leaf({1, 2, 3, 4});
  Tensor w = leaf({5, 6});
  Tensor b = x * 2.0;
  b.narrow(0, 1, 2).add_(w * w);
  EXPECT_EQ(b.to_vector<double>(), (Values{2, 29, 42, 8}));
  (b * values({1, 10, 100, 1000})).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{2, 20, 200, 2000}));
  EXPECT_EQ(w.grad().to_vector<double>(), (Values{100, 1200}));
}

TEST(InPlace, OverwritingAViewWithAConstantCutsTheBaseGradientThere) {
  Tensor x = leaf({1, 2, 3, 4});
  Tensor b = x * 3.0;
  b.slice(0, 0, 2).zero_();
  EXPECT_EQ(b.to_vector<double>(), (Values{0, 0, 9, 12}));
  b.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{0, 0, 3, 3}));

  Tensor y = leaf({1, 2, 3});
  Tensor c = y * 1.0;
  c.slice(0, 2, 3).copy_(values({7}));
  EXPECT_EQ(c.to_vector<double>(), (Values{1, 2, 7}));
  c.sum().backward();
  EXPECT_EQ(y.grad().to_vector<double>(), (Values{1, 1, 0}));
}

TEST(InPlace, WritingAGradTensorIntoAViewOfAConstantBuffer) {
  // The usual way to assemble a tensor: zeros, then copy pieces in.
  Tensor x = leaf({1, 2});
  Tensor out = zeros({4}, DType::F64);
  out.slice(0, 1, 3).copy_(x * 4.0);
  EXPECT_TRUE(out.requires_grad());
  EXPECT_EQ(out.to_vector<double>(), (Values{0, 4, 8, 0}));
  (out * values({1, 2, 3, 4})).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{8, 12}));
}

TEST(InPlace, TheViewItselfGetsTheNewHistory) {
  Tensor x = leaf({1, 2, 3});
  Tensor b = x * 1.0;
  Tensor v = b.slice(0, 0, 2);
  v.mul_(5);
  (v * values({1, 2})).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{5, 10, 0}));
}

TEST(InPlace, GradcheckThroughInPlaceOnAView) {
  Tensor x = randn({3, 4}, DType::F64).requires_grad_();
  Tensor w = randn({4}, DType::F64).requires_grad_();
  auto r = gradcheck(
      [](const std::vector<Tensor>& in) {
        Tensor b = in[0] * in[0];
        b.select(0, 1).mul_(in[1]);
        b.slice(1, 0, 4, 3).add_(in[0].slice(1, 1, 3));
        return b * 2.0;
      },
      {x, w});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(InPlace, CompositeMatchesPyTorch) {
  // The same steps as composite() in tests/fixtures/make_autograd_fixtures.py.
  using namespace autograd_fixture;
  Tensor a = tensor(kCompositeA, {2, 3, 4}, DType::F64).requires_grad_();
  Tensor b = tensor(kCompositeB, {4}, DType::F64).requires_grad_();
  Tensor c = tensor(kCompositeC, {3, 1}, DType::F64).requires_grad_();
  Tensor h = a.permute({1, 0, 2});
  Tensor g = h * b + c.unsqueeze(1);
  Tensor k = sigmoid(g) * 2.0;
  k.narrow(2, 1, 2).mul_(c.unsqueeze(1));
  k.select(1, 0).sub_(b * 0.5);
  Tensor m = k.reshape({6, 4}).t();
  Tensor out = (m.slice(1, 0, 6, 2) * m.slice(1, 1, 6, 2)).sum() + pow(m.sum({1}), 2).mean();
  EXPECT_NEAR(out.item<double>(), kCompositeOut, 1e-12 * std::abs(kCompositeOut));
  out.backward();
  auto expect_close = [](const Tensor& got, const std::vector<double>& want, const char* what) {
    std::vector<double> v = got.to_vector<double>();
    ASSERT_EQ(v.size(), want.size()) << what;
    for (size_t i = 0; i < v.size(); ++i)
      EXPECT_NEAR(v[i], want[i], 1e-12 + 1e-10 * std::abs(want[i])) << what << "[" << i << "]";
  };
  expect_close(a.grad(), kCompositeGradA, "grad a");
  expect_close(b.grad(), kCompositeGradB, "grad b");
  expect_close(c.grad(), kCompositeGradC, "grad c");
}

// A view made before an in-place write to its base reads the base's new history (PyTorch
// regenerates the view's grad_fn when the storage version moved).
TEST(InPlace, ViewTakenBeforeAWriteToItsBaseSeesTheNewHistory) {
  Tensor x = leaf({1, 1, 1});
  Tensor b = x * 1.0;
  Tensor v = b.slice(0, 0, 2);
  b.mul_(2);
  EXPECT_EQ(v.to_vector<double>(), (Values{2, 2}));
  v.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{2, 2, 0}));
}

TEST(InPlace, WriteThroughOneViewReachesASiblingView) {
  Tensor x = leaf({1, 2, 3});
  Tensor b = x * 1.0;
  Tensor v1 = b.slice(0, 0, 2);
  Tensor v2 = b.slice(0, 1, 3);
  v1.mul_(3);  // b = (3 x0, 3 x1, x2)
  EXPECT_EQ(v2.to_vector<double>(), (Values{6, 3}));
  v2.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{0, 3, 1}));
}

TEST(InPlace, ViewOfAConstantBufferRequiresGradAfterTheBufferIsWritten) {
  Tensor x = leaf({1, 2, 3});
  Tensor buf = zeros({3}, DType::F64);
  Tensor v = buf.slice(0, 0, 2);
  EXPECT_FALSE(v.requires_grad());
  buf.copy_(x * 2.0);
  EXPECT_TRUE(v.requires_grad());
  EXPECT_FALSE(v.is_leaf());
  v.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{2, 2, 0}));
}
