// Optimizers, lr schedulers and gradient clipping against PyTorch: 5-step trajectories on a small
// nonlinear least-squares problem and on Rosenbrock (tests/fixtures/make_optim_fixtures.py), in
// f64 to 1e-6 relative; state-dict round trips; clip_grad_norm_ against a hand computation.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "fixtures/optim_fixtures.inc"
#include "nn/clip_grad.h"
#include "nn/optim/lr_scheduler.h"
#include "nn/optim/optimizer.h"
#include "support.h"

using namespace hmr;
using namespace hmr::optim;

namespace {

const std::vector<double>& fixture(const std::string& key) { return optim_fixture::kValues.at(key); }
Tensor fixture_tensor(const std::string& key, const Shape& shape) {
  return tensor(fixture(key), shape, DType::F64);
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double rtol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], rtol * (1 + std::abs(want[i]))) << what << " element " << i;
}

// The least-squares problem of the fixture script: mean((X W^T + b - Y)^2) + 0.05 sum(W^4).
struct Problem {
  Tensor X = fixture_tensor("X", {5, 3}), Y = fixture_tensor("Y", {5, 2});
  Tensor W = fixture_tensor("W0", {2, 3}).requires_grad_(), b = fixture_tensor("b0", {2}).requires_grad_();
  Tensor loss() const { return mean(square(matmul(X, W.t()) + b - Y)) + sum(pow(W, 4.0)) * 0.05; }
  std::vector<double> flat() const {
    std::vector<double> v = W.to_vector<double>();
    for (double x : b.to_vector<double>()) v.push_back(x);
    return v;
  }
};

std::vector<double> run(Problem& pb, Optimizer& opt, int steps, bool closure_step = false) {
  std::vector<double> out;
  auto closure = [&] {
    opt.zero_grad();
    Tensor l = pb.loss();
    l.backward();
    return l;
  };
  for (int i = 0; i < steps; ++i) {
    if (closure_step) {
      opt.step(closure);
    } else {
      closure();
      opt.step();
    }
    for (double v : pb.flat()) out.push_back(v);
  }
  return out;
}

template <class Make>
void check_trajectory(const std::string& name, Make make, bool closure_step = false) {
  Problem pb;
  auto opt = make(pb);
  expect_close(run(pb, *opt, 5, closure_step), fixture(name + ".trajectory"), 1e-6, name);
}

}  // namespace

TEST(Optim, SGDMatchesTorch) {
  check_trajectory("sgd", [](Problem& p) {
    SGDOptions o;
    o.lr = 0.1;
    return std::make_unique<SGD>(std::vector<Tensor>{p.W, p.b}, o);
  });
  check_trajectory("sgd_momentum_dampening", [](Problem& p) {
    SGDOptions o;
    o.lr = 0.1;
    o.momentum = 0.9;
    o.dampening = 0.1;
    return std::make_unique<SGD>(std::vector<Tensor>{p.W, p.b}, o);
  });
  check_trajectory("sgd_nesterov_wd", [](Problem& p) {
    SGDOptions o;
    o.lr = 0.05;
    o.momentum = 0.9;
    o.nesterov = true;
    o.weight_decay = 0.01;
    return std::make_unique<SGD>(std::vector<Tensor>{p.W, p.b}, o);
  });
  check_trajectory("sgd_maximize", [](Problem& p) {
    SGDOptions o;
    o.lr = 0.01;
    o.maximize = true;
    return std::make_unique<SGD>(std::vector<Tensor>{p.W, p.b}, o);
  });
  check_trajectory("sgd_groups", [](Problem& p) {
    SGDOptions o;
    o.lr = 0.1;
    return std::make_unique<SGD>(
        std::vector<ParamGroup>{{{p.W}, {{"momentum", 0.5}}}, {{p.b}, {{"lr", 0.01}}}}, o);
  });
}

TEST(Optim, AdamAndAdamWMatchTorch) {
  check_trajectory("adam", [](Problem& p) {
    AdamOptions o;
    o.lr = 0.1;
    return std::make_unique<Adam>(std::vector<Tensor>{p.W, p.b}, o);
  });
  check_trajectory("adam_amsgrad_wd", [](Problem& p) {
    AdamOptions o;
    o.lr = 0.05;
    o.beta1 = 0.8;
    o.beta2 = 0.99;
    o.weight_decay = 0.1;
    o.amsgrad = true;
    return std::make_unique<Adam>(std::vector<Tensor>{p.W, p.b}, o);
  });
  check_trajectory("adamw", [](Problem& p) {
    AdamOptions o = AdamW::default_options();
    o.lr = 0.1;
    o.weight_decay = 0.1;
    return std::make_unique<AdamW>(std::vector<Tensor>{p.W, p.b}, o);
  });
  check_trajectory("adamw_amsgrad", [](Problem& p) {
    AdamOptions o = AdamW::default_options();
    o.lr = 0.05;
    o.amsgrad = true;  // torch's default decay 1e-2
    return std::make_unique<AdamW>(std::vector<Tensor>{p.W, p.b}, o);
  });
}

TEST(Optim, RMSpropAndAdagradMatchTorch) {
  check_trajectory("rmsprop", [](Problem& p) {
    RMSpropOptions o;
    o.lr = 0.01;
    return std::make_unique<RMSprop>(std::vector<Tensor>{p.W, p.b}, o);
  });
  check_trajectory("rmsprop_centered_momentum_wd", [](Problem& p) {
    RMSpropOptions o;
    o.lr = 0.01;
    o.alpha = 0.9;
    o.momentum = 0.5;
    o.centered = true;
    o.weight_decay = 0.1;
    return std::make_unique<RMSprop>(std::vector<Tensor>{p.W, p.b}, o);
  });
  check_trajectory("adagrad", [](Problem& p) {
    AdagradOptions o;
    o.lr = 0.1;
    return std::make_unique<Adagrad>(std::vector<Tensor>{p.W, p.b}, o);
  });
  check_trajectory("adagrad_decay_wd_init", [](Problem& p) {
    AdagradOptions o;
    o.lr = 0.1;
    o.lr_decay = 0.1;
    o.weight_decay = 0.05;
    o.initial_accumulator_value = 0.5;
    return std::make_unique<Adagrad>(std::vector<Tensor>{p.W, p.b}, o);
  });
}

TEST(Optim, LBFGSMatchesTorchOnLeastSquares) {
  check_trajectory(
      "lbfgs_lsq",
      [](Problem& p) {
        LBFGSOptions o;
        o.max_iter = 4;
        o.history_size = 3;
        return std::make_unique<LBFGS>(std::vector<Tensor>{p.W, p.b}, o);
      },
      true);
  check_trajectory(
      "lbfgs_lsq_wolfe",
      [](Problem& p) {
        LBFGSOptions o;
        o.max_iter = 4;
        o.history_size = 3;
        o.line_search_fn = "strong_wolfe";
        return std::make_unique<LBFGS>(std::vector<Tensor>{p.W, p.b}, o);
      },
      true);
}

TEST(Optim, LBFGSMatchesTorchOnRosenbrock) {
  auto trajectory = [](const LBFGSOptions& o) {
    Tensor z = tensor({-1.5, 2.0}, DType::F64).requires_grad_();
    LBFGS opt({z}, o);
    std::vector<double> out;
    auto closure = [&] {
      opt.zero_grad();
      Tensor x = z[0], y = z[1];
      Tensor l = square(rsub(x, 1.0)) + square(y - square(x)) * 100.0;
      l.backward();
      return l;
    };
    for (int i = 0; i < 5; ++i) {
      opt.step(closure);
      for (double v : z.to_vector<double>()) out.push_back(v);
    }
    return out;
  };
  LBFGSOptions fixed;
  fixed.lr = 0.1;
  fixed.max_iter = 6;
  fixed.history_size = 4;
  expect_close(trajectory(fixed), fixture("lbfgs_rosenbrock.trajectory"), 1e-6, "lbfgs_rosenbrock");
  LBFGSOptions wolfe;
  wolfe.max_iter = 8;
  wolfe.history_size = 5;
  wolfe.line_search_fn = "strong_wolfe";
  expect_close(trajectory(wolfe), fixture("lbfgs_rosenbrock_wolfe.trajectory"), 1e-6,
               "lbfgs_rosenbrock_wolfe");
}

// Saving after 3 steps and loading into a fresh optimizer continues exactly as 5 straight steps.
TEST(Optim, StateDictRoundTripContinuesTheTrajectory) {
  auto adam = [](Problem& p) {
    AdamOptions o;
    o.lr = 0.05;
    o.amsgrad = true;
    o.weight_decay = 0.1;
    return std::make_unique<Adam>(std::vector<Tensor>{p.W, p.b}, o);
  };
  auto rms = [](Problem& p) {
    RMSpropOptions o;
    o.momentum = 0.5;
    o.centered = true;
    return std::make_unique<RMSprop>(std::vector<Tensor>{p.W, p.b}, o);
  };
  auto lbfgs = [](Problem& p) {
    LBFGSOptions o;
    o.max_iter = 2;
    o.history_size = 3;
    o.line_search_fn = "strong_wolfe";
    return std::make_unique<LBFGS>(std::vector<Tensor>{p.W, p.b}, o);
  };
  auto check = [](auto make, bool closure_step) {
    Problem straight;
    auto a = make(straight);
    std::vector<double> want = run(straight, *a, 5, closure_step);
    Problem first;
    auto b = make(first);
    run(first, *b, 3, closure_step);
    TensorDict saved = b->state_dict();
    Problem second;
    second.W = first.W.detach().clone().requires_grad_();
    second.b = first.b.detach().clone().requires_grad_();
    auto c = make(second);
    c->load_state_dict(saved);
    std::vector<double> got = run(second, *c, 2, closure_step);
    std::vector<double> tail(want.end() - static_cast<std::ptrdiff_t>(got.size()), want.end());
    expect_close(got, tail, 1e-12, c->name());
  };
  check(adam, false);
  check(rms, false);
  check(lbfgs, true);
  Problem p;
  auto opt = adam(p);
  run(p, *opt, 1);
  TensorDict sd = opt->state_dict();
  EXPECT_TRUE(sd.contains("state.0.exp_avg"));
  EXPECT_TRUE(sd.contains("state.1.max_exp_avg_sq"));
  EXPECT_EQ(sd.at("state.0.step").item<double>(), 1.0);
  EXPECT_EQ(sd.at("param_groups.0.lr").item<double>(), 0.05);
}

TEST(Optim, LoadStateDictListsEveryProblem) {
  Problem p;
  AdamOptions o;
  Adam opt(std::vector<Tensor>{p.W, p.b}, o);
  run(p, opt, 1);
  TensorDict sd = opt.state_dict();
  sd.erase("param_groups.0.eps");
  sd.erase("state.1.exp_avg_sq");
  sd.set("state.0.bogus", zeros({1}));
  sd.set("state.0.exp_avg", zeros({3, 2}, DType::F64));
  Problem q;
  Adam fresh(std::vector<Tensor>{q.W, q.b}, o);
  std::string msg = hmr::testing::error_message([&] { fresh.load_state_dict(sd); });
  EXPECT_NE(msg.find("Adam.load_state_dict"), std::string::npos) << msg;
  EXPECT_NE(msg.find("param_groups.0.eps"), std::string::npos) << msg;
  EXPECT_NE(msg.find("state.1.exp_avg_sq"), std::string::npos) << msg;
  EXPECT_NE(msg.find("state.0.bogus"), std::string::npos) << msg;
  EXPECT_NE(msg.find("state.0.exp_avg (expected [2, 3], got [3, 2])"), std::string::npos) << msg;
  EXPECT_THROW(fresh.load_state_dict(sd), ValueError);
}

TEST(Optim, ParamWithoutGradIsSkippedAndStateIsLazy) {
  Tensor a = tensor({1.0, 2.0}, DType::F64).requires_grad_();
  Tensor unused = tensor({5.0}, DType::F64).requires_grad_();
  SGDOptions o;
  o.lr = 0.5;
  o.momentum = 0.9;
  SGD opt({a, unused}, o);
  EXPECT_EQ(opt.state_dict().size(), 6u);  // no state yet, six options
  sum(a * a).backward();                   // grad 2a = (2, 4)
  opt.step();
  EXPECT_EQ(a.to_vector<double>(), (std::vector<double>{0.0, 0.0}));  // 1 - 0.5*2, 2 - 0.5*4
  EXPECT_EQ(unused.to_vector<double>(), std::vector<double>{5.0});
  EXPECT_TRUE(opt.state_dict().contains("state.0.momentum_buffer"));
  EXPECT_FALSE(opt.state_dict().contains("state.1.momentum_buffer"));
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
}

TEST(Optim, BadOptionsThrowNamingTheOptimizer) {
  Tensor a = tensor({1.0}, DType::F64).requires_grad_();
  SGDOptions o;
  o.nesterov = true;
  EXPECT_THROW(SGD({a}, o), ValueError);
  AdamOptions ao;
  ao.beta1 = 1.0;
  std::string msg = hmr::testing::error_message([&] { Adam({a}, ao); });
  EXPECT_NE(msg.find("Adam: invalid beta1"), std::string::npos) << msg;
  EXPECT_THROW(SGD(std::vector<ParamGroup>{{{a}, {{"mom", 0.1}}}}, SGDOptions{}), ValueError);
  EXPECT_THROW(SGD({tensor({1.0}, DType::I64)}, SGDOptions{}), DTypeError);
  LBFGS lbfgs({a});
  EXPECT_THROW(lbfgs.step(), ValueError);
}

// ---- schedulers -------------------------------------------------------------------------------
namespace {
template <class Make>
void check_schedule(const std::string& name, Make make) {
  Tensor p = zeros({1}, DType::F64).requires_grad_(), q = zeros({1}, DType::F64).requires_grad_();
  SGDOptions o;
  o.lr = 0.1;
  SGD opt(std::vector<ParamGroup>{{{p}, {}}, {{q}, {{"lr", 0.05}}}}, o);
  auto sched = make(opt);
  std::vector<double> lrs = sched->get_last_lr();
  for (int i = 0; i < 12; ++i) {
    opt.step();
    sched->step();
    for (double lr : sched->get_last_lr()) lrs.push_back(lr);
  }
  EXPECT_EQ(opt.param_groups()[1].options.at("lr"), lrs.back()) << name;
  expect_close(lrs, fixture(name + ".lrs"), 1e-13, name);
}
}  // namespace

TEST(LRScheduler, SequencesMatchTorch) {
  check_schedule("step_lr", [](Optimizer& o) { return std::make_unique<StepLR>(o, 3, 0.5); });
  check_schedule("multi_step_lr", [](Optimizer& o) {
    return std::make_unique<MultiStepLR>(o, std::vector<int64_t>{2, 5, 5, 9}, 0.3);
  });
  check_schedule("exponential_lr", [](Optimizer& o) { return std::make_unique<ExponentialLR>(o, 0.9); });
  check_schedule("cosine_annealing_lr",
                 [](Optimizer& o) { return std::make_unique<CosineAnnealingLR>(o, 4, 0.01); });
  check_schedule("linear_lr", [](Optimizer& o) { return std::make_unique<LinearLR>(o, 0.25, 1.0, 4); });
  check_schedule("lambda_lr", [](Optimizer& o) {
    return std::make_unique<LambdaLR>(o,
                                      [](int64_t epoch) { return 1.0 / (1.0 + static_cast<double>(epoch)); });
  });
}

TEST(LRScheduler, StateDictRoundTrip) {
  Tensor p = zeros({1}, DType::F64).requires_grad_();
  SGDOptions o;
  o.lr = 0.1;
  SGD a({p}, o);
  StepLR s(a, 2, 0.5);
  for (int i = 0; i < 3; ++i) s.step();
  SGD b({p}, o);
  StepLR t(b, 2, 0.5);
  t.load_state_dict(s.state_dict());
  b.load_state_dict(a.state_dict());
  EXPECT_EQ(t.last_epoch(), 3);
  s.step();
  t.step();
  EXPECT_EQ(s.get_last_lr(), t.get_last_lr());
  EXPECT_DOUBLE_EQ(t.get_last_lr()[0], 0.025);  // halved at epochs 2 and 4
  TensorDict bad = s.state_dict();
  bad.set("extra", zeros({1}));
  EXPECT_THROW(t.load_state_dict(bad), ValueError);
}

// ---- clipping -----------------------------------------------------------------------------------
TEST(ClipGrad, NormMatchesHandComputation) {
  Tensor a = zeros({2}, DType::F64).requires_grad_(), b = zeros({1}, DType::F64).requires_grad_();
  Tensor none = zeros({3}, DType::F64).requires_grad_();
  a.set_grad(tensor({3.0, 4.0}, DType::F64));
  b.set_grad(tensor({12.0}, DType::F64));
  // total 2-norm sqrt(9 + 16 + 144) = 13; factor 6.5 / (13 + 1e-6)
  Tensor total = nn::clip_grad_norm_({a, b, none}, 6.5);
  EXPECT_DOUBLE_EQ(total.item<double>(), 13.0);
  const double f = 6.5 / (13.0 + 1e-6);
  expect_close(a.grad().to_vector<double>(), {3 * f, 4 * f}, 1e-15, "a");
  expect_close(b.grad().to_vector<double>(), {12 * f}, 1e-15, "b");
  // Under the limit the gradients stay (factor clamped to 1); inf-norm is the largest |g|.
  Tensor inf = nn::clip_grad_norm_({a, b}, 100.0, INFINITY);
  EXPECT_NEAR(inf.item<double>(), 12 * f, 1e-14);
  expect_close(b.grad().to_vector<double>(), {12 * f}, 1e-15, "b unchanged");
  // 1-norm
  a.set_grad(tensor({-1.0, 2.0}, DType::F64));
  b.set_grad(tensor({-3.0}, DType::F64));
  EXPECT_DOUBLE_EQ(nn::clip_grad_norm_({a, b}, 1.0, 1.0).item<double>(), 6.0);
  expect_close(a.grad().to_vector<double>(), {-1 / (6 + 1e-6), 2 / (6 + 1e-6)}, 1e-15, "a 1-norm");
}

TEST(ClipGrad, NonFiniteNormThrowsWhenAsked) {
  Tensor a = zeros({2}, DType::F64).requires_grad_();
  a.set_grad(tensor({NAN, 1.0}, DType::F64));
  std::string msg = hmr::testing::error_message([&] { nn::clip_grad_norm_({a}, 1.0, 2.0, true); });
  EXPECT_NE(msg.find("clip_grad_norm_"), std::string::npos) << msg;
  EXPECT_NO_THROW(nn::clip_grad_norm_({a}, 1.0));
}

TEST(ClipGrad, ValueClampsEachElement) {
  Tensor a = zeros({4}, DType::F64).requires_grad_();
  a.set_grad(tensor({-3.0, -0.5, 0.25, 7.0}, DType::F64));
  nn::clip_grad_value_({a}, 1.0);
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{-1.0, -0.5, 0.25, 1.0}));
}
