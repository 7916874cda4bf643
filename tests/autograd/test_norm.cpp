// Normalization, dropout and embedding (autograd/ops/norm.cpp): PyTorch fixtures for the norm
// layers (outputs, gradients, running statistics), f64 gradchecks, hand-computed running-stat
// updates, naive references for long rows, dropout mask statistics, and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "fixtures/norm_fixtures.inc"
#include "support.h"
#include "tensor/storage.h"

using namespace hmr;

namespace {

using Vec = std::vector<double>;

Tensor f64(const Vec& v, const Shape& s) { return tensor(v, s, DType::F64); }

Tensor randn64(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  return randn(s, DType::F64, &gen);
}

void expect_near(const Vec& got, const Vec& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol * std::max(1.0, std::abs(want[i]))) << what << " at " << i;
}

void expect_grad(const GradcheckFn& f, std::vector<Tensor> inputs) {
  for (auto& t : inputs)
    if (t.defined() && t.is_floating_point()) t.requires_grad_();
  auto r = gradcheck(f, inputs);
  EXPECT_TRUE(r.ok) << r.message;
}

// The op a fixture case names, applied to x with the case's parameters.
Tensor run_case(const norm_fixture::Case& c, const Tensor& x, const Tensor& w, const Tensor& b, Tensor rm,
                Tensor rv) {
  std::string name = c.name;
  if (name.rfind("BatchNorm", 0) == 0) return batch_norm(x, rm, rv, w, b, c.training);
  if (name.rfind("GroupNorm", 0) == 0) return group_norm(x, 4, w, b);
  if (name == "LayerNorm last dim") return layer_norm(x, {6}, w, b);
  return layer_norm(x, {3, 6}, w, b);
}

void check_fixture(const norm_fixture::Case& c, DType dtype, double tol) {
  SCOPED_TRACE(std::string(c.name) + " " + dtype_name(dtype));
  const Shape shape(c.shape.begin(), c.shape.end());
  const Shape pshape = std::string(c.name).rfind("LayerNorm last 2", 0) == 0 ? Shape{3, 6}
                       : std::string(c.name).rfind("LayerNorm", 0) == 0      ? Shape{6}
                                                                             : Shape{shape[1]};
  Tensor x = f64(c.x, shape).to(dtype).requires_grad_();
  Tensor w = f64(c.weight, pshape).to(dtype).requires_grad_();
  Tensor b = f64(c.bias, pshape).to(dtype).requires_grad_();
  Tensor rm = c.rm0.empty() ? Tensor() : f64(c.rm0, {shape[1]}).to(dtype);
  Tensor rv = c.rv0.empty() ? Tensor() : f64(c.rv0, {shape[1]}).to(dtype);
  Tensor y = run_case(c, x, w, b, rm, rv);
  sum(mul(y, f64(c.v, shape).to(dtype))).backward();
  expect_near(y.to_vector<double>(), c.out, tol, "out");
  expect_near(x.grad().to_vector<double>(), c.grad_x, tol, "grad x");
  expect_near(w.grad().to_vector<double>(), c.grad_weight, tol, "grad weight");
  expect_near(b.grad().to_vector<double>(), c.grad_bias, tol, "grad bias");
  if (!c.rm1.empty()) {
    expect_near(rm.to_vector<double>(), c.rm1, tol, "running_mean");
    expect_near(rv.to_vector<double>(), c.rv1, tol, "running_var");
  }
}

}  // namespace

// ---- PyTorch fixtures ----------------------------------------------------------------------------

TEST(NormFixture, MatchesPyTorchInF64) {
  for (const auto& c : norm_fixture::kCases) check_fixture(c, DType::F64, 1e-10);
}

TEST(NormFixture, MatchesPyTorchInF32) {
  for (const auto& c : norm_fixture::kCases) check_fixture(c, DType::F32, 2e-4);
}

// ---- batch norm ----------------------------------------------------------------------------------

TEST(BatchNorm, RunningStatsFollowTorchsUpdateWithUnbiasedVariance) {
  // Channel 0 holds 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3); channel 1 holds
  // 2, 4, 6, 8 (mean 5, biased var 5, unbiased 20/3).
  Tensor x = f64({1, 2, 2, 4, 3, 6, 4, 8}, {4, 2});
  Tensor rm = f64({0, 1}, {2}), rv = f64({1, 2}, {2});
  Tensor y = batch_norm(x, rm, rv, Tensor(), Tensor(), true, 0.1, 1e-5);
  expect_near(rm.to_vector<double>(), {0.9 * 0 + 0.1 * 2.5, 0.9 * 1 + 0.1 * 5}, 1e-14, "running_mean");
  expect_near(rv.to_vector<double>(), {0.9 * 1 + 0.1 * 5.0 / 3, 0.9 * 2 + 0.1 * 20.0 / 3}, 1e-14,
              "running_var");
  // Normalised with the biased variance.
  expect_near(y.to_vector<double>(),
              {-1.5 / std::sqrt(1.25 + 1e-5), -3 / std::sqrt(5 + 1e-5), -0.5 / std::sqrt(1.25 + 1e-5),
               -1 / std::sqrt(5 + 1e-5), 0.5 / std::sqrt(1.25 + 1e-5), 1 / std::sqrt(5 + 1e-5),
               1.5 / std::sqrt(1.25 + 1e-5), 3 / std::sqrt(5 + 1e-5)},
              1e-12, "out");
}

TEST(BatchNorm, EvalUsesRunningStatsAndLeavesThemAlone) {
  Tensor x = f64({1, 2, 3, 4}, {2, 2});
  Tensor rm = f64({1, -1}, {2}), rv = f64({4, 0.25}, {2});
  Tensor w = f64({2, 3}, {2}), b = f64({0.5, -0.5}, {2});
  Tensor y = batch_norm(x, rm, rv, w, b, false, 0.1, 0.0);
  expect_near(y.to_vector<double>(), {0.5, 3 * 3 / 0.5 - 0.5, 2 * 2 / 2.0 + 0.5, 3 * 5 / 0.5 - 0.5}, 1e-14,
              "out");
  expect_near(rm.to_vector<double>(), {1, -1}, 0, "running_mean");
  expect_near(rv.to_vector<double>(), {4, 0.25}, 0, "running_var");
}

TEST(BatchNorm, GradcheckTraining) {
  auto f2 = [](const std::vector<Tensor>& in) {
    return batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], true);
  };
  expect_grad(f2, {randn64({5, 3}, 1), randn64({3}, 2), randn64({3}, 3)});
  auto f4 = [](const std::vector<Tensor>& in) {
    return batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], true);
  };
  expect_grad(f4, {randn64({2, 3, 2, 3}, 4), randn64({3}, 5), randn64({3}, 6)});
  // A strided input (channels last in memory) and no affine parameters.
  auto fs = [](const std::vector<Tensor>& in) {
    return batch_norm(permute(in[0], {0, 2, 1}), Tensor(), Tensor(), Tensor(), Tensor(), true);
  };
  expect_grad(fs, {randn64({3, 4, 2}, 7)});
}

TEST(BatchNorm, GradcheckEval) {
  Tensor rm = randn64({3}, 8), rv = add(rand(Shape{3}, DType::F64), 0.5);
  auto f = [rm, rv](const std::vector<Tensor>& in) { return batch_norm(in[0], rm, rv, in[1], in[2], false); };
  expect_grad(f, {randn64({2, 3, 4}, 9), randn64({3}, 10), randn64({3}, 11)});
}

TEST(BatchNorm, LongChannelsMatchATwoPassReference) {
  // 2 * 5000 elements per channel cross the CPU's 4096-element blocks, so partial statistics merge.
  const int64_t N = 2, C = 3, L = 5000;
  Tensor x = add(mul(randn64({N, C, L}, 12), 3.0), 100.0);
  Tensor y = batch_norm(x.to(DType::F32), Tensor(), Tensor(), Tensor(), Tensor(), true);
  Vec xv = x.to_vector<double>(), yv = y.to_vector<double>();
  for (int64_t c = 0; c < C; ++c) {
    double s = 0, q = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t l = 0; l < L; ++l) s += xv[(n * C + c) * L + l];
    const double m = s / (N * L);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t l = 0; l < L; ++l) q += std::pow(xv[(n * C + c) * L + l] - m, 2);
    const double is = 1 / std::sqrt(q / (N * L) + 1e-5);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t l = 0; l < L; l += 997)
        EXPECT_NEAR(yv[(n * C + c) * L + l], (xv[(n * C + c) * L + l] - m) * is, 2e-4);
  }
}

TEST(BatchNorm, BadShapesNameTheOp) {
  Tensor x = randn64({4, 3}, 13);
  std::string msg = hmr::testing::error_message(
      [&] { batch_norm(x, Tensor(), Tensor(), randn64({4}, 1), Tensor(), true); });
  EXPECT_NE(msg.find("batch_norm"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3]"), std::string::npos) << msg;
  EXPECT_THROW(batch_norm(x, Tensor(), Tensor(), randn64({4}, 1), Tensor(), true), ShapeError);
  EXPECT_THROW(batch_norm(randn64({4}, 1), Tensor(), Tensor(), Tensor(), Tensor(), true), ShapeError);
  EXPECT_THROW(batch_norm(randn64({1, 3}, 1), Tensor(), Tensor(), Tensor(), Tensor(), true), ValueError);
  EXPECT_THROW(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false), ValueError);
  EXPECT_THROW(batch_norm(zeros({4, 3}, DType::I64), Tensor(), Tensor(), Tensor(), Tensor(), true),
               DTypeError);
}

// ---- group and layer norm ------------------------------------------------------------------------

TEST(GroupNorm, Gradcheck) {
  auto f = [](const std::vector<Tensor>& in) { return group_norm(in[0], 2, in[1], in[2]); };
  expect_grad(f, {randn64({2, 4, 3}, 14), randn64({4}, 15), randn64({4}, 16)});
  auto g = [](const std::vector<Tensor>& in) { return group_norm(in[0], 3, Tensor(), Tensor()); };
  expect_grad(g, {randn64({2, 6}, 17)});
}

TEST(GroupNorm, GroupsMustDivideChannels) {
  std::string msg = hmr::testing::error_message([] {
    group_norm(randn64({2, 6, 3}, 1), 4, Tensor(), Tensor());
  });
  EXPECT_NE(msg.find("group_norm"), std::string::npos) << msg;
  EXPECT_NE(msg.find("divisible"), std::string::npos) << msg;
  EXPECT_THROW(group_norm(randn64({2, 6, 3}, 1), 4, Tensor(), Tensor()), ShapeError);
  EXPECT_THROW(group_norm(randn64({2, 6, 3}, 1), 3, randn64({5}, 1), Tensor()), ShapeError);
}

TEST(LayerNorm, Gradcheck) {
  auto f = [](const std::vector<Tensor>& in) { return layer_norm(in[0], {3, 4}, in[1], in[2]); };
  expect_grad(f, {randn64({2, 3, 4}, 18), randn64({3, 4}, 19), randn64({3, 4}, 20)});
  auto g = [](const std::vector<Tensor>& in) {
    return layer_norm(transpose(in[0], 0, 1), {2}, in[1], Tensor());
  };
  expect_grad(g, {randn64({2, 5}, 21), randn64({2}, 22)});
}

TEST(LayerNorm, LongRowsMatchATwoPassReference) {
  const int64_t R = 3, M = 9000;
  Tensor x = add(randn64({R, M}, 23), 50.0);
  Vec xv = x.to_vector<double>(), yv = layer_norm(x, {M}, Tensor(), Tensor()).to_vector<double>();
  for (int64_t r = 0; r < R; ++r) {
    double s = 0, q = 0;
    for (int64_t i = 0; i < M; ++i) s += xv[r * M + i];
    const double m = s / M;
    for (int64_t i = 0; i < M; ++i) q += std::pow(xv[r * M + i] - m, 2);
    const double is = 1 / std::sqrt(q / M + 1e-5);
    for (int64_t i = 0; i < M; i += 631) EXPECT_NEAR(yv[r * M + i], (xv[r * M + i] - m) * is, 1e-12);
  }
}

TEST(LayerNorm, ShapeMismatchNamesTheOp) {
  std::string msg = hmr::testing::error_message([] {
    layer_norm(randn64({2, 3, 4}, 1), {3}, Tensor(), Tensor());
  });
  EXPECT_NE(msg.find("layer_norm"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 3, 4]"), std::string::npos) << msg;
  EXPECT_THROW(layer_norm(randn64({2, 3, 4}, 1), {3}, Tensor(), Tensor()), ShapeError);
  EXPECT_THROW(layer_norm(randn64({2, 4}, 1), {4}, randn64({3}, 1), Tensor()), ShapeError);
}

// ---- dropout -------------------------------------------------------------------------------------

TEST(Dropout, KeepsAboutOneMinusPAndScalesThem) {
  const double p = 0.3;
  const int64_t n = 200000;
  Generator gen(42);
  Tensor x = full({n}, 2.0, DType::F32);
  Vec y = dropout(x, p, true, &gen).to_vector<double>();
  int64_t kept = 0;
  for (double v : y) {
    if (v != 0) {
      ++kept;
      EXPECT_NEAR(v, 2.0 / (1 - p), 1e-6);
    }
  }
  // Binomial(n, 0.7): standard deviation ~205, so 0.005 * n = 1000 is about 5 sigma.
  EXPECT_NEAR(static_cast<double>(kept) / n, 1 - p, 0.005);
}

TEST(Dropout, SameSeedSameMaskOtherSeedOtherMask) {
  Tensor x = ones({1000}, DType::F64);
  Generator a(7), b(7), c(8);
  Vec ya = dropout(x, 0.5, true, &a).to_vector<double>();
  EXPECT_EQ(ya, dropout(x, 0.5, true, &b).to_vector<double>());
  EXPECT_NE(ya, dropout(x, 0.5, true, &c).to_vector<double>());
  // The generator advanced: a second draw differs from the first.
  EXPECT_NE(ya, dropout(x, 0.5, true, &a).to_vector<double>());
}

TEST(Dropout, GradientIsTheMaskOverOneMinusP) {
  const double p = 0.25;
  Generator gen(3);
  Tensor x = add(rand({500}, DType::F64, &gen), 1.0).requires_grad_();  // in [1, 2): never zero
  Tensor y = dropout(x, p, true, &gen);
  y.sum().backward();
  Vec g = x.grad().to_vector<double>(), yv = y.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_EQ(g[i], yv[i] != 0 ? 1 / (1 - p) : 0.0) << i;
}

TEST(Dropout, IdentityZerosAndErrors) {
  Tensor x = randn64({10}, 1);
  EXPECT_TRUE(dropout(x, 0.5, false).is_same(x));
  EXPECT_TRUE(dropout(x, 0.0, true).is_same(x));
  for (double v : dropout(x, 1.0, true).to_vector<double>()) EXPECT_EQ(v, 0.0);
  std::string msg = hmr::testing::error_message([&] { dropout(x, 1.5, true); });
  EXPECT_NE(msg.find("dropout"), std::string::npos) << msg;
  EXPECT_THROW(dropout(x, -0.1, true), ValueError);
}

// ---- embedding -----------------------------------------------------------------------------------

TEST(Embedding, PicksRowsAndAddsGradientsBack) {
  Tensor w = f64({0, 1, 10, 11, 20, 21}, {3, 2}).requires_grad_();
  Tensor idx = tensor({2, 0, 2, 1}, {2, 2}, DType::I64);
  Tensor y = embedding(w, idx, std::nullopt);
  EXPECT_EQ(y.sizes(), (Shape{2, 2, 2}));
  expect_near(y.to_vector<double>(), {20, 21, 0, 1, 20, 21, 10, 11}, 0, "out");
  mul(y, f64({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2})).sum().backward();
  // Row 2 is picked twice: its gradient is the sum of both output rows' weights.
  expect_near(w.grad().to_vector<double>(), {3, 4, 7, 8, 1 + 5, 2 + 6}, 0, "grad");
}

TEST(Embedding, PaddingRowGetsNoGradient) {
  Tensor w = randn64({4, 3}, 24).requires_grad_();
  Tensor idx = tensor({1, 3, 1, 0}, {4}, DType::I32);
  embedding(w, idx, -3).sum().backward();  // -3 is row 1
  expect_near(w.grad().to_vector<double>(), {1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1}, 0, "grad");
}

TEST(Embedding, Gradcheck) {
  // Without padding_idx: the padding row is deliberately not differentiated (as torch), so a
  // finite difference through it would disagree.
  Tensor idx = tensor({0, 2, 2, 4, 1, 0}, {3, 2}, DType::I64);
  auto f = [idx](const std::vector<Tensor>& in) { return embedding(in[0], idx, std::nullopt); };
  expect_grad(f, {randn64({5, 3}, 25)});
}

TEST(Embedding, BadIndicesNameTheOp) {
  Tensor w = randn64({4, 3}, 1);
  std::string msg = hmr::testing::error_message([&] {
    embedding(w, tensor({1, 4}, {2}, DType::I64), std::nullopt);
  });
  EXPECT_NE(msg.find("embedding"), std::string::npos) << msg;
  EXPECT_NE(msg.find("4"), std::string::npos) << msg;
  EXPECT_THROW(embedding(w, tensor({-1}, {1}, DType::I64), std::nullopt), IndexError);
  EXPECT_THROW(embedding(w, tensor({1}, {1}, DType::I64), 4), IndexError);
  EXPECT_THROW(embedding(w, tensor({1}, {1}, DType::F32), std::nullopt), DTypeError);
  EXPECT_THROW(embedding(randn64({4}, 1), tensor({1}, {1}, DType::I64), std::nullopt), ShapeError);
}

// ---- 16-bit inputs and memory --------------------------------------------------------------------

TEST(NormHalf, SixteenBitInputsComputeInFloat) {
  // Statistics and sums in float: a bf16 / f16 result is the f64 result rounded (plus the
  // rounding of the input), not an accumulation of 16-bit errors over 4000 elements.
  Tensor x = add(mul(randn64({4, 2, 1000}, 30), 2.0), 40.0);
  for (DType t : {DType::F16, DType::BF16}) {
    Tensor xt = x.to(t);
    Vec want =
        batch_norm(xt.to(DType::F64), Tensor(), Tensor(), Tensor(), Tensor(), true).to_vector<double>();
    Vec got = batch_norm(xt, Tensor(), Tensor(), Tensor(), Tensor(), true).to_vector<double>();
    const double tol = t == DType::F16 ? 2e-3 : 1e-2;
    for (size_t i = 0; i < got.size(); i += 37)
      EXPECT_NEAR(got[i], want[i], tol * std::max(1.0, std::abs(want[i])));
    Vec lw = layer_norm(xt.to(DType::F64), {1000}, Tensor(), Tensor()).to_vector<double>();
    Vec lg = layer_norm(xt, {1000}, Tensor(), Tensor()).to_vector<double>();
    for (size_t i = 0; i < lg.size(); i += 37)
      EXPECT_NEAR(lg[i], lw[i], tol * std::max(1.0, std::abs(lw[i])));
  }
}

TEST(NormMemory, TrainingStepsLeaveLiveBytesFlat) {
  Tensor x = randn64({8, 4, 5}, 31);
  Tensor w = randn64({4}, 32).requires_grad_(), b = randn64({4}, 33).requires_grad_();
  Tensor table = randn64({10, 5}, 34).requires_grad_();
  Tensor idx = tensor({1, 2, 3, 2, 9, 0, 1, 4}, {8}, DType::I64);
  Tensor rm = zeros({4}, DType::F64), rv = ones({4}, DType::F64);
  Generator gen(35);
  auto step = [&] {
    Tensor h = batch_norm(x, rm, rv, w, b, true);
    h = group_norm(h, 2, w, b);
    h = layer_norm(h, {5}, Tensor(), Tensor());
    h = add(h, embedding(table, idx, 0).unsqueeze(1));
    square(dropout(h, 0.2, true, &gen)).sum().backward();
    w.zero_grad();
    b.zero_grad();
    table.zero_grad();
  };
  step();
  const int64_t bytes = host_memory_stats().current_bytes, storages = host_memory_stats().current_storages;
  for (int i = 0; i < 20; ++i) step();
  EXPECT_EQ(host_memory_stats().current_bytes, bytes);
  EXPECT_EQ(host_memory_stats().current_storages, storages);
}
