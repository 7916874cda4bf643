// The backward engine as a specification: accumulation, graph release, seeding, hmr::grad,
// diamonds, deep and wide graphs, dtype and broadcast fitting, grad mode, detach and hooks.
// Expected values are worked out by hand in each test.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/engine.h"
#include "autograd/function.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"

#include "support.h"

using namespace hmr;

namespace {

using Values = std::vector<double>;

Tensor leaf(std::initializer_list<double> v, DType dtype = DType::F64) {
  return tensor(v, dtype).requires_grad_();
}

using hmr::testing::error_message;
}  // namespace

TEST(Engine, GradientsAccumulateOnLeavesAcrossTwoBackwardCalls) {
  Tensor x = leaf({1, 2, 3});
  (x * x).sum().backward();  // d/dx sum x^2 = 2x
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{2, 4, 6}));
  (x * 3.0).sum().backward();  // adds 3 to each
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{5, 7, 9}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Engine, SecondBackwardWithoutRetainGraphThrows) {
  Tensor x = leaf({1, 2});
  Tensor loss = sigmoid(x).sum();
  loss.backward();
  std::string msg = error_message([&] { loss.backward(); });
  EXPECT_NE(msg.find("second time"), std::string::npos) << msg;
  EXPECT_THROW(loss.backward(), AutogradError);
}

TEST(Engine, RetainGraphAllowsASecondBackward) {
  Tensor x = leaf({0.5, -1.0});
  Tensor loss = (x * x * x).sum();  // d/dx = 3x^2
  loss.backward(Tensor(), /*retain_graph=*/true);
  loss.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{2 * 0.75, 2 * 3.0}));
}

TEST(Engine, NonScalarBackwardNeedsAnExplicitGradientAndUsesIt) {
  Tensor x = leaf({1, 2, 3});
  Tensor y = x * x;
  std::string msg = error_message([&] { y.backward(); });
  EXPECT_NE(msg.find("scalar"), std::string::npos) << msg;
  EXPECT_THROW(y.backward(), AutogradError);
  // The seed weights each output: grad = seed * 2x.
  y.backward(tensor({1, 0.5, -1}, DType::F64));
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{2, 2, -6}));
}

TEST(Engine, BackwardFromALeafAccumulatesTheSeedItself) {
  Tensor x = leaf({1, 2});
  x.backward(tensor({0.5, -2}, DType::F64));
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{0.5, -2}));
}

TEST(Engine, SeedOfTheWrongShapeIsAShapeError) {
  Tensor x = leaf({1, 2, 3});
  Tensor y = x * 2.0;
  std::string msg = error_message([&] { y.backward(ones({2}, DType::F64)); });
  EXPECT_NE(msg.find("[2]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3]"), std::string::npos) << msg;
  EXPECT_THROW(y.backward(ones({2}, DType::F64)), ShapeError);
}

TEST(Engine, BackwardOnATensorNotRequiringGradThrows) {
  Tensor x = tensor({1, 2, 3}, DType::F64);
  Tensor s = (x * 2.0).sum();
  EXPECT_FALSE(s.requires_grad());
  std::string msg = error_message([&] { s.backward(); });
  EXPECT_NE(msg.find("does not require grad"), std::string::npos) << msg;
  EXPECT_THROW(s.backward(), AutogradError);
}

TEST(Engine, GradReturnsGradientsWithoutTouchingDotGrad) {
  Tensor x = leaf({1, 2});
  Tensor w = leaf({3, 4});
  Tensor loss = (x * w).sum();
  std::vector<Tensor> g = hmr::grad({loss}, {x, w});
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].to_vector<double>(), (Values{3, 4}));
  EXPECT_EQ(g[1].to_vector<double>(), (Values{1, 2}));
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
}

TEST(Engine, GradOfANonLeafInput) {
  Tensor x = leaf({1, 2});
  Tensor h = x * 2.0;
  Tensor loss = (h * h).sum();  // d/dh = 2h = 4x
  std::vector<Tensor> g = hmr::grad({loss}, {h});
  EXPECT_EQ(g[0].to_vector<double>(), (Values{4, 8}));
  EXPECT_FALSE(x.grad().defined());
}

TEST(Engine, GradOfAnUnusedInputNeedsAllowUnused) {
  Tensor x = leaf({1, 2});
  Tensor unused = leaf({5});
  Tensor loss = (x * x).sum();
  std::string msg = error_message([&] { hmr::grad({loss}, {x, unused}, {}, /*retain_graph=*/true); });
  EXPECT_NE(msg.find("allow_unused"), std::string::npos) << msg;
  EXPECT_THROW(hmr::grad({loss}, {x, unused}, {}, true), AutogradError);
  std::vector<Tensor> g = hmr::grad({loss}, {x, unused}, {}, false, /*allow_unused=*/true);
  EXPECT_EQ(g[0].to_vector<double>(), (Values{2, 4}));
  EXPECT_FALSE(g[1].defined());
}

TEST(Engine, DiamondGraphSumsBothBranches) {
  // x feeds a = 2x and b = x^2; loss = sum(a * b) = sum(2 x^3), d/dx = 6 x^2.
  Tensor x = leaf({1, 2, -1});
  Tensor a = x * 2.0;
  Tensor b = x * x;
  (a * b).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{6, 24, 6}));
}

TEST(Engine, DeepChainOfAThousandOpsRunsInOrder) {
  // y = x * 1.001^1000 built as 1000 multiplications; each node runs once, after its consumer.
  Tensor x = leaf({1.0, 2.0});
  Tensor y = x;
  for (int i = 0; i < 1000; ++i) y = y * 1.001;
  y.sum().backward();
  double want = std::pow(1.001, 1000);
  Values g = x.grad().to_vector<double>();
  EXPECT_NEAR(g[0], want, 1e-9 * want);
  EXPECT_NEAR(g[1], want, 1e-9 * want);
}

TEST(Engine, DeepChainWithSkipConnectionsWaitsForEveryConsumer) {
  // h_{k+1} = h_k + h_k * 0.5 = 1.5 h_k, but each h_k is used by two ops: a node that ran
  // before all its gradient arrived would give a smaller result than 1.5^n.
  Tensor x = leaf({1.0});
  Tensor h = x;
  const int n = 200;
  for (int i = 0; i < n; ++i) h = h + h * 0.5;
  h.sum().backward();
  EXPECT_NEAR(x.grad().item<double>(), std::pow(1.5, n), 1e-9 * std::pow(1.5, n));
}

TEST(Engine, WideGraphAccumulatesEveryBranch) {
  // loss = sum_k (k+1) * x: 500 branches off one leaf, d/dx = sum_k (k+1) = 500*501/2.
  Tensor x = leaf({1.0, 2.0});
  Tensor total = zeros({2}, DType::F64);
  for (int k = 0; k < 500; ++k) total = total + x * static_cast<double>(k + 1);
  total.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{125250, 125250}));
}

TEST(Engine, PromotedGradientsAreCastBackToTheInputDtype) {
  Tensor a = leaf({1, 2}, DType::F32);
  Tensor b = leaf({3, 4}, DType::F64);
  Tensor y = a * b;
  EXPECT_EQ(y.dtype(), DType::F64);
  y.sum().backward();
  EXPECT_EQ(a.grad().dtype(), DType::F32);
  EXPECT_EQ(b.grad().dtype(), DType::F64);
  EXPECT_EQ(a.grad().to_vector<double>(), (Values{3, 4}));
  EXPECT_EQ(b.grad().to_vector<double>(), (Values{1, 2}));
}

TEST(Engine, BroadcastGradientsAreSummedToTheInputShape) {
  Tensor a = tensor({1, 2, 3, 4, 5, 6}, DType::F64).reshape({2, 3}).detach().requires_grad_();
  Tensor row = leaf({10, 20, 30});                                                    // (3) -> (2, 3)
  Tensor col = tensor({1, 2}, DType::F64).reshape({2, 1}).detach().requires_grad_();  // (2, 1) -> (2, 3)
  ((a + row) * col).sum().backward();
  EXPECT_EQ(row.grad().sizes(), (Shape{3}));
  EXPECT_EQ(col.grad().sizes(), (Shape{2, 1}));
  EXPECT_EQ(a.grad().to_vector<double>(), (Values{1, 1, 1, 2, 2, 2}));
  EXPECT_EQ(row.grad().to_vector<double>(), (Values{3, 3, 3}));  // col summed over rows
  // d/dcol_i = sum_j (a_ij + row_j): row 0: 6 + 60, row 1: 15 + 60.
  EXPECT_EQ(col.grad().to_vector<double>(), (Values{66, 75}));
}

TEST(Engine, NoGradGuardDisablesRecording) {
  Tensor x = leaf({1, 2});
  {
    NoGradGuard no_grad;
    Tensor y = x * 2.0 + 1.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    EXPECT_TRUE(y.is_leaf());
    Tensor v = x.reshape({2, 1});
    EXPECT_FALSE(v.requires_grad());
  }
  Tensor z = x * 2.0;
  EXPECT_TRUE(z.requires_grad());
  EXPECT_NE(z.grad_fn(), nullptr);
}

TEST(Engine, EnableGradGuardInsideNoGradRecordsAgain) {
  Tensor x = leaf({1, 2});
  NoGradGuard no_grad;
  Tensor inner;
  {
    EnableGradGuard enable;
    EXPECT_TRUE(GradMode::is_enabled());
    inner = x * 3.0;
  }
  EXPECT_FALSE(GradMode::is_enabled());
  Tensor outer = x * 3.0;
  EXPECT_TRUE(inner.requires_grad());
  EXPECT_FALSE(outer.requires_grad());
  EnableGradGuard enable;
  inner.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{3, 3}));
}

TEST(Engine, DetachSharesStorageAndHasNoHistory) {
  Tensor x = leaf({1, 2, 3});
  Tensor y = x * 2.0;
  Tensor d = y.detach();
  EXPECT_TRUE(d.shares_storage(y));
  EXPECT_FALSE(d.requires_grad());
  EXPECT_EQ(d.grad_fn(), nullptr);
  {
    NoGradGuard no_grad;
    d.fill_(7);  // writes are seen through y
  }
  EXPECT_EQ(y.to_vector<double>(), (Values{7, 7, 7}));
}

TEST(Engine, LeafHookCanDoubleTheGradient) {
  Tensor x = leaf({1, 2});
  int calls = 0;
  x.register_hook([&calls](const Tensor& g) {
    ++calls;
    return g * 2.0;
  });
  (x * 3.0).sum().backward();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{6, 6}));
}

TEST(Engine, NonLeafHookSeesAndReplacesTheGradient) {
  Tensor x = leaf({1, 2});
  Tensor h = x * x;  // dh/dx = 2x
  Tensor seen;
  h.register_hook([&seen](const Tensor& g) {
    seen = g.clone();
    return g * 10.0;
  });
  (h * 3.0).sum().backward();
  ASSERT_TRUE(seen.defined());
  EXPECT_EQ(seen.to_vector<double>(), (Values{3, 3}));
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{60, 120}));  // 30 * 2x
  EXPECT_FALSE(h.grad().defined());                            // non-leaves keep no .grad unless asked
}

TEST(Engine, HookReturningUndefinedKeepsTheGradient) {
  Tensor x = leaf({1, 2});
  x.register_hook([](const Tensor&) { return Tensor(); });
  (x * 4.0).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{4, 4}));
}

TEST(Engine, RetainGradKeepsANonLeafGradient) {
  Tensor x = leaf({1, 2});
  Tensor h = x * 2.0;
  h.retain_grad();
  (h * h).sum().backward();  // d/dh = 2h = 4x
  ASSERT_TRUE(h.grad().defined());
  EXPECT_EQ(h.grad().to_vector<double>(), (Values{4, 8}));
  EXPECT_EQ(x.grad().to_vector<double>(), (Values{8, 16}));
}

TEST(Engine, RequiresGradFalseOnANonLeafThrows) {
  Tensor x = leaf({1, 2});
  Tensor y = x * 2.0;
  std::string msg = error_message([&] { y.requires_grad_(false); });
  EXPECT_NE(msg.find("requires_grad_"), std::string::npos) << msg;
  EXPECT_NE(msg.find("leaf"), std::string::npos) << msg;
  EXPECT_THROW(y.requires_grad_(false), AutogradError);
}

TEST(Engine, RequiresGradOnAnIntegerTensorThrowsNamingTheDtype) {
  Tensor i = arange(4);
  ASSERT_EQ(i.dtype(), DType::I64);
  std::string msg = error_message([&] { i.requires_grad_(); });
  EXPECT_NE(msg.find("requires_grad_"), std::string::npos) << msg;
  EXPECT_NE(msg.find(str(DType::I64)), std::string::npos) << msg;
  EXPECT_THROW(i.requires_grad_(), AutogradError);
}

TEST(Engine, GradcheckOfACompositeThroughTheEngine) {
  Tensor x = randn({3, 4}, DType::F64).requires_grad_();
  Tensor w = randn({4}, DType::F64).requires_grad_();
  auto r = gradcheck(
      [](const std::vector<Tensor>& in) {
        Tensor h = sigmoid(in[0] * in[1]);
        return (h * h + in[1]).sum({1});
      },
      {x, w});
  EXPECT_TRUE(r.ok) << r.message;
}
