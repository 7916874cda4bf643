// Losses against PyTorch (tests/fixtures/make_optim_fixtures.py): value and input gradient for each
// reduction, with weights, pos_weight, ignore_index, label smoothing and probability targets; plus
// gradchecks and argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "fixtures/loss_fixtures.inc"
#include "nn/loss.h"
#include "support.h"

using namespace hmr;
using nn::Reduction;

namespace {

const std::vector<double>& fixture(const std::string& key) { return loss_fixture::kValues.at(key); }
Tensor f64(const std::string& key, const Shape& shape) { return tensor(fixture(key), shape, DType::F64); }
Tensor i64(const std::string& key, const Shape& shape) { return f64(key, shape).to(DType::I64); }

using LossFn = std::function<Tensor(const Tensor&, Reduction)>;

const std::pair<const char*, Reduction> kReductions[] = {
    {"none", Reduction::None}, {"mean", Reduction::Mean}, {"sum", Reduction::Sum}};

// Value and gradient of the summed output for every reduction, to 1e-10 relative (f64).
void check_loss(const std::string& name, const Tensor& x0, const LossFn& fn) {
  for (const auto& [rname, reduction] : kReductions) {
    Tensor x = x0.clone().requires_grad_();
    Tensor out = fn(x, reduction);
    sum(out).backward();
    const std::string key = name + "." + rname;
    std::vector<double> got = out.to_vector<double>(), want = fixture(key + ".out");
    ASSERT_EQ(got.size(), want.size()) << key;
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], want[i], 1e-10 * (1 + std::abs(want[i]))) << key << " out " << i;
    std::vector<double> g = x.grad().to_vector<double>(), gw = fixture(key + ".grad");
    ASSERT_EQ(g.size(), gw.size()) << key;
    for (size_t i = 0; i < g.size(); ++i)
      EXPECT_NEAR(g[i], gw[i], 1e-10 * (1 + std::abs(gw[i]))) << key << " grad " << i;
    GradcheckResult r = gradcheck([&](const std::vector<Tensor>& in) { return fn(in[0], reduction); },
                                  {x0.clone().requires_grad_()});
    EXPECT_TRUE(r.ok) << key << ": " << r.message;
  }
}

}  // namespace

TEST(Loss, PointwiseMatchTorch) {
  Tensor x = f64("pw.x", {3, 4}), y = f64("pw.y", {3, 4});
  check_loss("l1", x, [&](const Tensor& in, Reduction r) { return nn::l1_loss(in, y, r); });
  check_loss("mse", x, [&](const Tensor& in, Reduction r) { return nn::mse_loss(in, y, r); });
  check_loss("smooth_l1", x, [&](const Tensor& in, Reduction r) { return nn::smooth_l1_loss(in, y, r); });
  check_loss("smooth_l1_beta", x,
             [&](const Tensor& in, Reduction r) { return nn::smooth_l1_loss(in, y, r, 0.5); });
}

TEST(Loss, BinaryCrossEntropyMatchesTorch) {
  Tensor x = f64("bce.x", {3, 4}), y = f64("bce.y", {3, 4}), w = f64("bce.w", {4});
  check_loss("bce", x,
             [&](const Tensor& in, Reduction r) { return nn::binary_cross_entropy(in, y, Tensor(), r); });
  check_loss("bce_w", x,
             [&](const Tensor& in, Reduction r) { return nn::binary_cross_entropy(in, y, w, r); });
  Tensor lx = f64("bcel.x", {3, 4}), ly = f64("bcel.y", {3, 4}), lw = f64("bcel.w", {3, 4}),
         pw = f64("bcel.pw", {4});
  check_loss("bcel", lx, [&](const Tensor& in, Reduction r) {
    return nn::binary_cross_entropy_with_logits(in, ly, Tensor(), Tensor(), r);
  });
  check_loss("bcel_w_pw", lx, [&](const Tensor& in, Reduction r) {
    return nn::binary_cross_entropy_with_logits(in, ly, lw, pw, r);
  });
}

TEST(Loss, BinaryCrossEntropyStaysFiniteAtTheEdges) {
  // log(0) is clamped to -100, as torch: x = 0 with y = 1 costs exactly 100.
  Tensor x = tensor({0.0, 1.0}, DType::F64), y = tensor({1.0, 1.0}, DType::F64);
  EXPECT_DOUBLE_EQ(nn::binary_cross_entropy(x, y, Tensor(), Reduction::Sum).item<double>(), 100.0);
  // The logits form never overflows: x = -1000, y = 1 costs 1000.
  Tensor big = tensor({-1000.0}, DType::F64), one = tensor({1.0}, DType::F64);
  EXPECT_DOUBLE_EQ(nn::binary_cross_entropy_with_logits(big, one).item<double>(), 1000.0);
}

TEST(Loss, NllLossMatchesTorch) {
  Tensor x = f64("cls.x", {5, 4}), t = i64("cls.t", {5}), w = f64("cls.w", {4});
  check_loss("nll", x,
             [&](const Tensor& in, Reduction r) { return nn::nll_loss(log_softmax(in, 1), t, Tensor(), r); });
  check_loss("nll_w", x,
             [&](const Tensor& in, Reduction r) { return nn::nll_loss(log_softmax(in, 1), t, w, r); });
  Tensor sx = f64("sp.x", {2, 3, 2, 2}), st = i64("sp.t", {2, 2, 2}), sw = f64("sp.w", {3});
  check_loss("nll_sp_w", sx,
             [&](const Tensor& in, Reduction r) { return nn::nll_loss(log_softmax(in, 1), st, sw, r); });
}

TEST(Loss, CrossEntropyMatchesTorch) {
  Tensor x = f64("cls.x", {5, 4}), t = i64("cls.t", {5}), w = f64("cls.w", {4}), pt = f64("prob.t", {5, 4});
  check_loss("ce", x, [&](const Tensor& in, Reduction r) { return nn::cross_entropy(in, t, Tensor(), r); });
  check_loss("ce_w_ls", x,
             [&](const Tensor& in, Reduction r) { return nn::cross_entropy(in, t, w, r, -100, 0.2); });
  check_loss("ce_ls", x,
             [&](const Tensor& in, Reduction r) { return nn::cross_entropy(in, t, Tensor(), r, -100, 0.1); });
  Tensor sx = f64("sp.x", {2, 3, 2, 2}), st = i64("sp.t", {2, 2, 2}), sw = f64("sp.w", {3});
  check_loss("ce_sp_w_ls", sx,
             [&](const Tensor& in, Reduction r) { return nn::cross_entropy(in, st, sw, r, -100, 0.3); });
  check_loss("ce_prob", x,
             [&](const Tensor& in, Reduction r) { return nn::cross_entropy(in, pt, Tensor(), r); });
  check_loss("ce_prob_w_ls", x,
             [&](const Tensor& in, Reduction r) { return nn::cross_entropy(in, pt, w, r, -100, 0.15); });
}

TEST(Loss, BadArgumentsNameTheLossAndShapes) {
  Tensor x = zeros({3, 4}, DType::F64), y = zeros({2, 4}, DType::F64);
  std::string msg = hmr::testing::error_message([&] { nn::mse_loss(x, y); });
  EXPECT_NE(msg.find("mse_loss"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3, 4]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 4]"), std::string::npos) << msg;
  EXPECT_THROW(nn::binary_cross_entropy(x, zeros({4}, DType::F64)), ShapeError);
  Tensor bad_target = tensor({0, 1, 2}, DType::I64).reshape({3});
  EXPECT_THROW(nn::nll_loss(x, tensor({0.0, 1.0, 2.0}, DType::F64)), DTypeError);
  msg = hmr::testing::error_message([&] { nn::nll_loss(x, tensor({0, 1, 9}, DType::F64).to(DType::I64)); });
  EXPECT_NE(msg.find("nll_loss: target 9 is out of bounds for 4 classes"), std::string::npos) << msg;
  msg = hmr::testing::error_message([&] { nn::cross_entropy(x, zeros({4}, DType::I64)); });
  EXPECT_NE(msg.find("cross_entropy"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4]"), std::string::npos) << msg;
  EXPECT_THROW(nn::nll_loss(x, bad_target, zeros({3}, DType::F64)), ShapeError);
}
