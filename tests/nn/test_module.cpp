// Module: names, state dicts, loading errors, placement, modes and containers. Expected values
// are written out by hand from PyTorch's documented behaviour (names, repr text, strict loading).
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "nn/layers.h"
#include "nn/module.h"
#include "support.h"

using namespace hmr;
using hmr::testing::error_message;

namespace {

// A two-level model shaped like a tiny backbone + head, with a buffer.
struct Block : nn::Module {
  Block() : Module("Block") {
    fc = register_module("fc", std::make_shared<nn::Linear>(3, 4));
    scale = register_buffer("scale", ones({4}));
    scratch = register_buffer("scratch", zeros({2}), /*persistent=*/false);
  }
  Tensor forward(const Tensor& x) override { return fc->forward(x) * scale; }
  std::shared_ptr<nn::Linear> fc;
  Tensor scale, scratch;
};

struct Net : nn::Module {
  Net() : Module("Net") {
    body = register_module("body", std::make_shared<Block>());
    head = register_module("head", std::make_shared<nn::Linear>(4, 2, /*bias=*/false));
    steps = register_buffer("steps", zeros({}, DType::I64));
  }
  Tensor forward(const Tensor& x) override { return head->forward(relu(body->forward(x))); }
  std::shared_ptr<Block> body;
  std::shared_ptr<nn::Linear> head;
  Tensor steps;
};

}  // namespace

TEST(NnModule, DottedNamesInRegistrationOrder) {
  Net net;
  std::vector<std::string> params;
  for (auto& [n, t] : net.named_parameters()) params.push_back(n);
  EXPECT_EQ(params, (std::vector<std::string>{"body.fc.weight", "body.fc.bias", "head.weight"}));
  // Non-persistent buffers are buffers but not state.
  std::vector<std::string> buffers;
  for (auto& [n, t] : net.named_buffers()) buffers.push_back(n);
  EXPECT_EQ(buffers, (std::vector<std::string>{"steps", "body.scale", "body.scratch"}));
  // PyTorch's order: a module's own parameters, then its buffers, then each child's.
  EXPECT_EQ(net.state_dict().keys(),
            (std::vector<std::string>{"steps", "body.scale", "body.fc.weight", "body.fc.bias", "head.weight"}));
  EXPECT_EQ(net.parameter_count(), 3 * 4 + 4 + 4 * 2);
  std::vector<std::string> modules;
  for (auto& [n, m] : net.named_modules()) modules.push_back(n + ":" + m->type_name());
  EXPECT_EQ(modules, (std::vector<std::string>{":Net", "body:Block", "body.fc:Linear", "head:Linear"}));
  EXPECT_EQ(net.child("body.fc").get(), net.body->fc.get());
  EXPECT_NE(error_message([&] { net.child("body.nope"); }).find("body.nope"), std::string::npos);
}

TEST(NnModule, ParametersAreLeavesThatRequireGrad) {
  Net net;
  for (auto& p : net.parameters()) {
    EXPECT_TRUE(p.requires_grad());
    EXPECT_TRUE(p.is_leaf());
  }
  EXPECT_FALSE(net.steps.requires_grad());
  // The state dict shares storage with the module but carries no autograd history.
  TensorDict sd = net.state_dict();
  EXPECT_FALSE(sd.at("head.weight").requires_grad());
  EXPECT_EQ(sd.at("head.weight").raw_data(), net.head->weight.raw_data());
}

TEST(NnModule, LoadStateDictCopiesValuesAndConverts) {
  Net a, b;
  TensorDict sd = a.state_dict();
  // Values arrive in f64: load converts them to the model's f32.
  TensorDict sd64;
  for (auto& [n, t] : sd) sd64.set(n, t.to(t.is_floating_point() ? DType::F64 : t.dtype()));
  auto r = b.load_state_dict(sd64);
  EXPECT_TRUE(r.missing.empty());
  EXPECT_TRUE(r.unexpected.empty());
  EXPECT_EQ(b.head->weight.dtype(), DType::F32);
  EXPECT_EQ(b.head->weight.to_vector<float>(), a.head->weight.to_vector<float>());
  EXPECT_EQ(b.body->fc->bias.to_vector<float>(), a.body->fc->bias.to_vector<float>());
  // b's handles still are its parameters and still require grad.
  EXPECT_TRUE(b.head->weight.requires_grad());
  EXPECT_EQ(b.parameters()[2].raw_data(), b.head->weight.raw_data());
}

TEST(NnModule, StrictLoadListsEveryProblemAndCopiesNothing) {
  Net a, b;
  std::vector<float> before = b.body->fc->weight.to_vector<float>();
  TensorDict sd = a.state_dict();
  sd.erase("head.weight");
  sd.set("head.bias", zeros({2}));
  sd.set("body.scale", zeros({5}));
  std::string msg = error_message([&] { b.load_state_dict(sd); });
  EXPECT_NE(msg.find("missing keys (1): head.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected keys (1): head.bias"), std::string::npos) << msg;
  EXPECT_NE(msg.find("body.scale (checkpoint [5], model [4])"), std::string::npos) << msg;
  EXPECT_EQ(b.body->fc->weight.to_vector<float>(), before);
  EXPECT_THROW(b.load_state_dict(sd), ValueError);
}

TEST(NnModule, NonStrictLoadReportsMissingAndUnexpected) {
  Net a, b;
  TensorDict sd = a.state_dict();
  sd.erase("head.weight");
  sd.set("extra", zeros({1}));
  auto r = b.load_state_dict(sd, /*strict=*/false);
  EXPECT_EQ(r.missing, std::vector<std::string>{"head.weight"});
  EXPECT_EQ(r.unexpected, std::vector<std::string>{"extra"});
  EXPECT_EQ(b.body->fc->weight.to_vector<float>(), a.body->fc->weight.to_vector<float>());
  // Shape mismatches are errors even when not strict.
  sd.set("body.scale", zeros({3}));
  EXPECT_THROW(b.load_state_dict(sd, false), ValueError);
}

TEST(NnModule, ToDtypeConvertsInPlaceAndKeepsIntegerBuffers) {
  Net net;
  Tensor w = net.head->weight;  // a handle taken before the move
  std::vector<float> v = w.to_vector<float>();
  net.to(DType::F64);
  EXPECT_EQ(w.dtype(), DType::F64);
  EXPECT_EQ(net.head->weight.dtype(), DType::F64);
  EXPECT_EQ(net.steps.dtype(), DType::I64);
  EXPECT_TRUE(w.requires_grad());
  std::vector<double> v64 = w.to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v64[i], static_cast<double>(v[i]));
  // Forward and backward still work on the converted parameters.
  Tensor y = net.forward(ones({5, 3}, DType::F64)).sum();
  y.backward();
  EXPECT_TRUE(net.head->weight.grad().defined());
  EXPECT_EQ(net.head->weight.grad().dtype(), DType::F64);
  EXPECT_THROW(net.to(DType::I32), DTypeError);
}

TEST(NnModule, TrainEvalPropagatesToChildren) {
  Net net;
  EXPECT_TRUE(net.body->fc->is_training());
  net.eval();
  EXPECT_FALSE(net.is_training());
  EXPECT_FALSE(net.body->is_training());
  EXPECT_FALSE(net.body->fc->is_training());
  net.train();
  EXPECT_TRUE(net.head->is_training());
}

TEST(NnModule, ZeroGradDropsOrZeroes) {
  Net net;
  net.forward(ones({2, 3})).sum().backward();
  ASSERT_TRUE(net.head->weight.grad().defined());
  net.zero_grad(/*set_to_none=*/false);
  for (float g : net.head->weight.grad().to_vector<float>()) EXPECT_EQ(g, 0.0f);
  net.zero_grad();
  EXPECT_FALSE(net.head->weight.grad().defined());
}

TEST(NnModule, RegistrationErrors) {
  nn::Module m("Custom");
  m.register_parameter("w", zeros({2}));
  EXPECT_THROW(m.register_parameter("w", zeros({2})), ValueError);
  EXPECT_THROW(m.register_buffer("a.b", zeros({2})), ValueError);
  EXPECT_THROW(m.register_parameter("i", zeros({2}, DType::I64)), DTypeError);
  Tensor nonleaf = ones({2}).requires_grad_() * 2;
  EXPECT_THROW(m.register_parameter("n", nonleaf), ValueError);
  std::string msg = error_message([&] { m.forward(zeros({1})); });
  EXPECT_NE(msg.find("Custom"), std::string::npos) << msg;
}

TEST(NnLinear, ComputesXWtPlusBAgainstALoop) {
  nn::Linear lin(3, 2);
  Tensor x = randn({4, 3});
  std::vector<float> xv = x.to_vector<float>(), w = lin.weight.to_vector<float>(), b = lin.bias.to_vector<float>();
  std::vector<float> y = lin.forward(x).to_vector<float>();
  for (int i = 0; i < 4; ++i)
    for (int o = 0; o < 2; ++o) {
      double acc = b[o];
      for (int k = 0; k < 3; ++k) acc += static_cast<double>(xv[i * 3 + k]) * w[o * 3 + k];
      EXPECT_NEAR(y[i * 2 + o], acc, 1e-5);
    }
  // Extra leading dims pass through.
  EXPECT_EQ(lin.forward(randn({2, 5, 3})).sizes(), (Shape{2, 5, 2}));
  std::string msg = error_message([&] { lin.forward(randn({4, 5})); });
  EXPECT_NE(msg.find("Linear"), std::string::npos);
  EXPECT_NE(msg.find("[4, 5]"), std::string::npos) << msg;
}

TEST(NnLinear, InitialisationBoundsAreTorchs) {
  // kaiming_uniform(a=sqrt 5) on fan_in 50 gives bound sqrt(6 / ((1 + 5) * 50)) = 1/sqrt(50);
  // the bias bound is 1/sqrt(fan_in) too.
  nn::Linear lin(50, 400);
  double bound = 1.0 / std::sqrt(50.0);
  float wmax = 0, bmax = 0;
  for (float v : lin.weight.to_vector<float>()) wmax = std::max(wmax, std::abs(v));
  for (float v : lin.bias.to_vector<float>()) bmax = std::max(bmax, std::abs(v));
  EXPECT_LE(wmax, bound);
  EXPECT_GT(wmax, 0.99 * bound);
  EXPECT_LE(bmax, bound);
  EXPECT_GT(bmax, 0.9 * bound);
  nn::Linear nobias(3, 2, false);
  EXPECT_FALSE(nobias.bias.defined());
  EXPECT_EQ(nobias.state_dict().keys(), std::vector<std::string>{"weight"});
}

TEST(NnContainers, SequentialChainsAndPrintsLikePyTorch) {
  auto seq = std::make_shared<nn::Sequential>();
  seq->push_back(std::make_shared<nn::Linear>(3, 4));
  seq->push_back(std::make_shared<nn::ReLU>());
  seq->push_back(std::make_shared<nn::Linear>(4, 1, false));
  Tensor x = randn({2, 3});
  auto l0 = std::dynamic_pointer_cast<nn::Linear>((*seq)[0]);
  auto l2 = std::dynamic_pointer_cast<nn::Linear>((*seq)[2]);
  Tensor expect = l2->forward(relu(l0->forward(x)));
  EXPECT_EQ(seq->forward(x).to_vector<float>(), expect.to_vector<float>());
  EXPECT_EQ(seq->state_dict().keys(), (std::vector<std::string>{"0.weight", "0.bias", "2.weight"}));
  EXPECT_EQ(seq->to_string(),
            "Sequential(\n"
            "  (0): Linear(in_features=3, out_features=4, bias=True)\n"
            "  (1): ReLU()\n"
            "  (2): Linear(in_features=4, out_features=1, bias=False)\n"
            ")");
}

TEST(NnContainers, ModuleListNamesByIndexAndSharedParametersCountOnce) {
  auto shared = std::make_shared<nn::Linear>(2, 2);
  nn::ModuleList list({shared, std::make_shared<nn::Tanh>(), shared});
  EXPECT_EQ(list.size(), 3u);
  EXPECT_EQ(list.parameters().size(), 2u);  // tied: listed once
  EXPECT_EQ(list.at<nn::Linear>(0).get(), shared.get());
}

TEST(NnActivations, ModulesMatchTheirFunctions) {
  Tensor x = tensor({-30.0, -2.0, -0.5, 0.0, 0.5, 2.0, 30.0});
  auto close = [](const Tensor& a, std::vector<double> e) {
    std::vector<double> v = a.to_vector<double>();
    ASSERT_EQ(v.size(), e.size());
    for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(v[i], e[i], 1e-5 * (1 + std::abs(e[i]))) << i;
  };
  std::vector<double> xs = x.to_vector<double>();
  std::vector<double> sp2, elu, lrelu;
  for (double v : xs) {
    sp2.push_back(2 * v > 20 ? v : std::log1p(std::exp(2 * v)) / 2);
    elu.push_back(v > 0 ? v : 0.5 * std::expm1(v));
    lrelu.push_back(v > 0 ? v : 0.2 * v);
  }
  close(nn::Softplus(2.0).forward(x), sp2);
  close(nn::ELU(0.5).forward(x), elu);
  close(nn::LeakyReLU(0.2).forward(x), lrelu);
  EXPECT_EQ(nn::Softplus(2.0).to_string(), "Softplus(beta=2, threshold=20)");
}
