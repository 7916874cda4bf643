// Convolution and pooling ops: forward against a naive loop written here, gradients by f64
// finite differences, outputs and all gradients against PyTorch fixtures
// (tests/fixtures/make_conv_fixtures.py), and argument errors that name the op and shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "fixtures/conv_fixtures.inc"
#include "support.h"
#include "tensor/parallel.h"

using namespace hmr;

namespace {

Tensor randn64(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, DType::F64, &gen);
}

Tensor leaf(const Tensor& t) { return t.detach().requires_grad_(); }

// Distinct values in shuffled order: finite differences never move a max-pool maximum.
Tensor untied(const Shape& shape, uint64_t seed) {
  const int64_t n = shape_numel(shape);
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<double>((i * 7919 + seed * 31) % n) / n - 0.5;
  return Tensor::from_vector(v, shape);
}

// torch.nn.functional.conv2d spelled out: every output sums its window over the group's
// input channels.
std::vector<double> naive_conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Size2 s, Size2 p,
                                 Size2 d, int64_t groups, Shape& out_shape) {
  std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t K = w.size(0), Cg = w.size(1), kH = w.size(2), kW = w.size(3), Kg = K / groups;
  const int64_t oH = (H + 2 * p[0] - d[0] * (kH - 1) - 1) / s[0] + 1;
  const int64_t oW = (W + 2 * p[1] - d[1] * (kW - 1) - 1) / s[1] + 1;
  out_shape = {N, K, oH, oW};
  std::vector<double> y(N * K * oH * oW);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = 0; i < oH; ++i)
        for (int64_t j = 0; j < oW; ++j) {
          double acc = bias.defined() ? bias.to_vector<double>()[k] : 0.0;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t a = 0; a < kH; ++a)
              for (int64_t b = 0; b < kW; ++b) {
                const int64_t ih = i * s[0] - p[0] + a * d[0], iw = j * s[1] - p[1] + b * d[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t ci = (k / Kg) * Cg + c;
                acc += xv[((n * C + ci) * H + ih) * W + iw] * wv[((k * Cg + c) * kH + a) * kW + b];
              }
          y[((n * K + k) * oH + i) * oW + j] = acc;
        }
  return y;
}

void expect_near(const std::vector<double>& got, const std::vector<double>& want, double tol,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tol * (1 + std::abs(want[i]))) << what << " element " << i;
}

struct ConvCase {
  Shape x, w;
  bool bias;
  Size2 stride, padding, dilation;
  int64_t groups;
};

const ConvCase kConvCases[] = {
    {{2, 3, 6, 5}, {4, 3, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 1},
    {{1, 4, 7, 6}, {6, 2, 3, 2}, true, {2, 1}, {1, 2}, {1, 2}, 2},
    {{2, 3, 5, 5}, {3, 1, 3, 3}, false, {1, 2}, {1, 0}, {1, 1}, 3},
    {{3, 5, 4, 3}, {2, 5, 1, 1}, true, {1, 1}, {0, 0}, {1, 1}, 1},
    {{1, 2, 9, 8}, {2, 2, 1, 1}, false, {2, 2}, {0, 0}, {1, 1}, 1},
    {{1, 2, 11, 10}, {3, 2, 7, 7}, true, {2, 2}, {3, 3}, {1, 1}, 1},
};

}  // namespace

TEST(Conv2d, ForwardMatchesNaiveLoopInF32AndF64) {
  for (const ConvCase& c : kConvCases)
    for (DType dt : {DType::F64, DType::F32}) {
      Tensor x = randn64(c.x, 1).to(dt), w = randn64(c.w, 2).to(dt);
      Tensor b = c.bias ? randn64({c.w[0]}, 3).to(dt) : Tensor();
      Shape shape;
      std::vector<double> want = naive_conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups, shape);
      Tensor y = conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
      EXPECT_EQ(y.sizes(), shape);
      EXPECT_EQ(y.dtype(), dt);
      expect_near(y.to_vector<double>(), want, dt == DType::F64 ? 1e-12 : 1e-5,
                  str("case x ", c.x, " w ", c.w));
    }
}

TEST(Conv2d, BatchLargerThanOneColumnChunkMatchesNaiveLoop) {
  // One sample's columns (32 x 9 x 60 x 60 doubles, 8 MiB) fill most of the im2col budget, so
  // the batch runs in several chunks.
  Tensor x = randn64({4, 32, 60, 60}, 4), w = randn64({2, 32, 3, 3}, 5);
  Shape shape;
  std::vector<double> want = naive_conv2d(x, w, Tensor(), {1, 1}, {1, 1}, {1, 1}, 1, shape);
  expect_near(conv2d(x, w, Tensor(), {1, 1}, {1, 1}).to_vector<double>(), want, 1e-11, "chunked");
}

// Gradients of <conv2d(x, w), gy> spelled out: every output pixel sends gy * w back to the
// input pixels its window reads and gy * x to the weight taps.
void naive_conv2d_grads(const Tensor& x, const Tensor& w, const Tensor& gy, Size2 s, Size2 p, Size2 d,
                        int64_t groups, std::vector<double>& gx, std::vector<double>& gw) {
  std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(), gv = gy.to_vector<double>();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t K = w.size(0), Cg = w.size(1), kH = w.size(2), kW = w.size(3), Kg = K / groups;
  const int64_t oH = gy.size(2), oW = gy.size(3);
  gx.assign(xv.size(), 0.0);
  gw.assign(wv.size(), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = 0; i < oH; ++i)
        for (int64_t j = 0; j < oW; ++j) {
          const double g = gv[((n * K + k) * oH + i) * oW + j];
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t a = 0; a < kH; ++a)
              for (int64_t b = 0; b < kW; ++b) {
                const int64_t ih = i * s[0] - p[0] + a * d[0], iw = j * s[1] - p[1] + b * d[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t xi = ((n * C + (k / Kg) * Cg + c) * H + ih) * W + iw;
                const int64_t wi = ((k * Cg + c) * kH + a) * kW + b;
                gx[xi] += g * wv[wi];
                gw[wi] += g * xv[xi];
              }
        }
}

// The CPU kernel's paths: whole samples per thread (batch >= threads), one sample at a time
// with channel-parallel copies (batch < threads or one thread), 1x1 stride 1 without copies,
// 1x1 stride 2 (strided gather), padding wider than the kernel's reach (empty column runs),
// dilation with stride, groups; forward and both gradients against the loops above.
TEST(Conv2d, EveryCpuPathMatchesNaiveLoopsAtOneAndTwoThreads) {
  const ConvCase cases[] = {
      {{1, 8, 9, 10}, {6, 8, 3, 3}, false, {1, 1}, {1, 1}, {1, 1}, 1},
      {{3, 8, 9, 10}, {6, 8, 3, 3}, false, {2, 2}, {1, 1}, {1, 1}, 1},
      {{1, 6, 7, 8}, {5, 6, 1, 1}, false, {1, 1}, {0, 0}, {1, 1}, 1},
      {{4, 6, 7, 8}, {5, 6, 1, 1}, false, {1, 1}, {0, 0}, {1, 1}, 1},
      {{2, 6, 9, 8}, {4, 6, 1, 1}, false, {2, 2}, {0, 0}, {1, 1}, 1},
      {{1, 6, 9, 8}, {4, 6, 1, 1}, false, {2, 2}, {0, 0}, {1, 1}, 1},
      {{2, 3, 5, 6}, {4, 3, 3, 3}, false, {1, 1}, {4, 5}, {1, 1}, 1},
      {{3, 4, 11, 12}, {6, 2, 3, 3}, false, {3, 2}, {2, 1}, {2, 3}, 2},
      {{2, 3, 12, 13}, {4, 3, 7, 7}, false, {2, 2}, {3, 3}, {1, 1}, 1},
  };
  const int saved = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (const ConvCase& c : cases)
      for (DType dt : {DType::F64, DType::F32}) {
        const std::string what = str(threads, " threads ", dt, " x ", c.x, " w ", c.w);
        Tensor x = leaf(randn64(c.x, 31).to(dt)), w = leaf(randn64(c.w, 32).to(dt));
        Tensor y = conv2d(x, w, Tensor(), c.stride, c.padding, c.dilation, c.groups);
        Shape shape;
        const double tol = dt == DType::F64 ? 1e-11 : 1e-4;
        expect_near(y.to_vector<double>(),
                    naive_conv2d(x, w, Tensor(), c.stride, c.padding, c.dilation, c.groups, shape), tol,
                    what + " forward");
        Tensor gy = randn64(y.sizes(), 33).to(dt);
        mul(y, gy).sum().backward();
        std::vector<double> gx, gw;
        naive_conv2d_grads(x, w, gy, c.stride, c.padding, c.dilation, c.groups, gx, gw);
        expect_near(x.grad().to_vector<double>(), gx, tol, what + " grad x");
        expect_near(w.grad().to_vector<double>(), gw, tol, what + " grad w");
      }
  }
  set_num_threads(saved);
}

TEST(Conv2d, WeightGradientOverSeveralColumnChunksMatchesNaiveLoop) {
  // Each sample's columns and gradient rows take (576 + 2) x 4096 doubles (19 MB): the 64 MiB
  // budget holds three, so four samples run as two accumulating chunks.
  Tensor x = leaf(randn64({4, 64, 64, 64}, 34)), w = leaf(randn64({2, 64, 3, 3}, 35));
  Tensor y = conv2d(x, w, Tensor(), {1, 1}, {1, 1});
  Tensor gy = randn64(y.sizes(), 36);
  mul(y, gy).sum().backward();
  std::vector<double> gx, gw;
  naive_conv2d_grads(x, w, gy, {1, 1}, {1, 1}, {1, 1}, 1, gx, gw);
  expect_near(w.grad().to_vector<double>(), gw, 1e-10, "chunked grad w");
  expect_near(x.grad().to_vector<double>(), gx, 1e-10, "chunked grad x");
}

TEST(Conv2d, NonContiguousInputIsReadThroughItsStrides) {
  Tensor x = randn64({2, 5, 6, 3}, 6).permute({0, 3, 1, 2});  // (2, 3, 5, 6), channels last
  Tensor w = randn64({4, 3, 3, 3}, 7);
  Shape shape;
  std::vector<double> want = naive_conv2d(x, w, Tensor(), {1, 1}, {1, 1}, {1, 1}, 1, shape);
  expect_near(conv2d(x, w, Tensor(), {1, 1}, {1, 1}).to_vector<double>(), want, 1e-12, "permuted");
}

TEST(Conv2d, GradcheckOverStridePaddingDilationGroupsAndBias) {
  for (const ConvCase& c : kConvCases) {
    if (shape_numel(c.x) > 200) continue;  // one forward per element; the 7x7 stem has a fixture
    Tensor x = leaf(randn64(c.x, 8)), w = leaf(randn64(c.w, 9));
    std::vector<Tensor> in{x, w};
    if (c.bias) in.push_back(leaf(randn64({c.w[0]}, 10)));
    auto f = [&c](const std::vector<Tensor>& t) {
      return conv2d(t[0], t[1], t.size() > 2 ? t[2] : Tensor(), c.stride, c.padding, c.dilation, c.groups);
    };
    GradcheckResult r = gradcheck(f, in);
    EXPECT_TRUE(r.ok) << str("x ", c.x, " w ", c.w, ": ") << r.message;
  }
}

TEST(Conv2d, GradientOnlyToTheInputsThatRequireIt) {
  Tensor x = randn64({1, 2, 4, 4}, 11), w = leaf(randn64({3, 2, 3, 3}, 12));
  conv2d(x, w).sum().backward();
  EXPECT_TRUE(w.grad().defined());
  EXPECT_FALSE(x.requires_grad());
  // d sum / d w[k, c, a, b] = the sum of x over the pixels that tap (a, b) reads.
  Tensor x_window = x.narrow(2, 0, 2).narrow(3, 0, 2).sum({0, 2, 3});  // tap (0, 0), unpadded 2x2 output
  EXPECT_NEAR(w.grad().to_vector<double>()[0], x_window.to_vector<double>()[0], 1e-12);
}

TEST(Conv2d, UnbatchedInputGivesUnbatchedOutput) {
  Tensor x = randn64({3, 5, 5}, 13), w = randn64({2, 3, 3, 3}, 14);
  Tensor y = conv2d(x, w, Tensor(), {1, 1}, {1, 1});
  EXPECT_EQ(y.sizes(), (Shape{2, 5, 5}));
  expect_near(y.to_vector<double>(), conv2d(x.unsqueeze(0), w, Tensor(), {1, 1}, {1, 1}).to_vector<double>(),
              0, "unbatched");
}

TEST(ConvTranspose2d, IsTheAdjointOfConv2d) {
  // <conv2d(u, w), v> = <u, conv_transpose2d(v, w)> for the same stride/padding/dilation/groups.
  Tensor u = randn64({2, 4, 8, 7}, 15), w = randn64({6, 2, 3, 2}, 16);
  Tensor y = conv2d(u, w, Tensor(), {2, 2}, {1, 0}, {1, 2}, 2);
  Tensor v = randn64(y.sizes(), 17);
  Tensor back = conv_transpose2d(v, w, Tensor(), {2, 2}, {1, 0},
                                 {u.size(2) - ((y.size(2) - 1) * 2 - 2 + 3), 0}, 2, {1, 2});
  ASSERT_EQ(back.sizes(), u.sizes());
  EXPECT_NEAR(mul(y, v).sum().item(), mul(u, back).sum().item(), 1e-10);
}

TEST(ConvTranspose2d, Gradcheck) {
  Tensor x = leaf(randn64({2, 4, 3, 3}, 18)), w = leaf(randn64({4, 3, 3, 2}, 19)), b = leaf(randn64({6}, 20));
  auto f = [](const std::vector<Tensor>& t) {
    return conv_transpose2d(t[0], t[1], t[2], {2, 1}, {1, 0}, {1, 0}, 2, {1, 2});
  };
  GradcheckResult r = gradcheck(f, {x, w, b});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Pooling, Gradchecks) {
  Tensor x = leaf(untied({2, 2, 7, 6}, 3));
  auto check = [&](const char* what, const GradcheckFn& f) {
    GradcheckResult r = gradcheck(f, {x});
    EXPECT_TRUE(r.ok) << what << ": " << r.message;
  };
  check("max", [](const std::vector<Tensor>& t) { return max_pool2d(t[0], {3, 2}, Size2{2, 1}, {1, 1}); });
  check("max dilated ceil", [](const std::vector<Tensor>& t) {
    return max_pool2d(t[0], {2, 2}, Size2{2, 2}, {1, 0}, {2, 1}, true);
  });
  check("avg", [](const std::vector<Tensor>& t) { return avg_pool2d(t[0], {3, 3}, Size2{2, 2}, {1, 1}); });
  check("avg ceil exclude pad", [](const std::vector<Tensor>& t) {
    return avg_pool2d(t[0], {3, 2}, Size2{2, 2}, {1, 1}, true, false);
  });
  check("adaptive", [](const std::vector<Tensor>& t) { return adaptive_avg_pool2d(t[0], {3, 4}); });
}

TEST(Pooling, MaxPoolIndicesAreFlatWithinThePlane) {
  // A 1x1x3x4 ramp: the maximum of each 2x2 window is its bottom-right element.
  Tensor x = arange(12, TensorOptions(DType::F32)).reshape({1, 1, 3, 4});
  auto [y, idx] = max_pool2d_with_indices(x, {2, 2}, Size2{1, 2});
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{5, 7, 9, 11}));
  EXPECT_EQ(idx.to_vector<int64_t>(), (std::vector<int64_t>{5, 7, 9, 11}));
  EXPECT_EQ(idx.dtype(), DType::I64);
}

TEST(Pooling, MaxPoolKeepsTheFirstMaximumAndTheLastNaNAsTorch) {
  const double nan = std::nan("");
  // Rows {9, 2, 4, 4, NaN, NaN} and {NaN, 1, 4, 4, 0, 8}; 2x2 windows, stride 2 (flat indices):
  // {9@0, 2@1, NaN@6, 1@7} -> NaN at 6 (a NaN after a larger value still wins);
  // {4@2, 4@3, 4@8, 4@9} -> the first 4, at 2; {NaN@4, NaN@5, 0@10, 8@11} -> the last NaN, at 5
  // (torch 1.13 gives indices 6, 2, 5 for this input).
  Tensor x = Tensor::from_vector(std::vector<double>{9, 2, 4, 4, nan, nan, nan, 1, 4, 4, 0, 8}, {1, 1, 2, 6})
                 .to(DType::F32);
  auto [y, idx] = max_pool2d_with_indices(x, {2, 2}, Size2{2, 2});
  std::vector<double> v = y.to_vector<double>();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], 4);
  EXPECT_TRUE(std::isnan(v[2]));
  EXPECT_EQ(idx.to_vector<int64_t>(), (std::vector<int64_t>{6, 2, 5}));
}

TEST(Pooling, AdaptiveToOneIsTheMean) {
  Tensor x = randn64({2, 3, 5, 7}, 21);
  expect_near(adaptive_avg_pool2d(x, {1, 1}).to_vector<double>(), mean(x, {2, 3}, true).to_vector<double>(),
              1e-12, "global");
}

// ---- PyTorch fixtures ---------------------------------------------------------------------------

namespace {

struct Fixture {
  std::vector<const std::vector<double>*> inputs;
  const std::vector<double>* grad;
  const std::vector<double>* out;
  std::vector<const std::vector<double>*> grads;
};

#define HMR_CONV_FIXTURE1(N)                                                           \
  Fixture {                                                                            \
    {&conv_fixture::k##N##In0}, &conv_fixture::k##N##Grad, &conv_fixture::k##N##Out, { \
      &conv_fixture::k##N##GradIn0                                                     \
    }                                                                                  \
  }
#define HMR_CONV_FIXTURE2(N)                                                         \
  Fixture {                                                                          \
    {&conv_fixture::k##N##In0, &conv_fixture::k##N##In1}, &conv_fixture::k##N##Grad, \
        &conv_fixture::k##N##Out, {                                                  \
      &conv_fixture::k##N##GradIn0, &conv_fixture::k##N##GradIn1                     \
    }                                                                                \
  }
#define HMR_CONV_FIXTURE3(N)                                                                   \
  Fixture {                                                                                    \
    {&conv_fixture::k##N##In0, &conv_fixture::k##N##In1, &conv_fixture::k##N##In2},            \
        &conv_fixture::k##N##Grad, &conv_fixture::k##N##Out, {                                 \
      &conv_fixture::k##N##GradIn0, &conv_fixture::k##N##GradIn1, &conv_fixture::k##N##GradIn2 \
    }                                                                                          \
  }

// Runs fn on the fixture's inputs (shapes as in the generator), backpropagates its upstream
// gradient and compares the output and every input gradient.
void expect_fixture(const char* name, const Fixture& f, const std::vector<Shape>& shapes,
                    const GradcheckFn& fn) {
  std::vector<Tensor> in;
  for (size_t i = 0; i < shapes.size(); ++i) in.push_back(leaf(Tensor::from_vector(*f.inputs[i], shapes[i])));
  Tensor y = fn(in);
  expect_near(y.to_vector<double>(), *f.out, 1e-10, str(name, " output"));
  y.backward(Tensor::from_vector(*f.grad, y.sizes()));
  for (size_t i = 0; i < in.size(); ++i)
    expect_near(in[i].grad().to_vector<double>(), *f.grads[i], 1e-10, str(name, " gradient of input ", i));
}

}  // namespace

TEST(ConvFixtures, MatchPyTorch) {
  using V = const std::vector<Tensor>&;
  expect_fixture("ConvGrouped", HMR_CONV_FIXTURE3(ConvGrouped), {{1, 4, 7, 6}, {6, 2, 3, 3}, {6}}, [](V t) {
    return conv2d(t[0], t[1], t[2], {2, 1}, {1, 2}, {1, 2}, 2);
  });
  expect_fixture("ConvDepthwise", HMR_CONV_FIXTURE3(ConvDepthwise), {{2, 3, 6, 5}, {3, 1, 3, 3}, {3}},
                 [](V t) {
                   return conv2d(t[0], t[1], t[2], {1, 1}, {1, 1}, {1, 1}, 3);
                 });
  expect_fixture("ConvStem", HMR_CONV_FIXTURE3(ConvStem), {{1, 3, 11, 10}, {2, 3, 7, 7}, {2}}, [](V t) {
    return conv2d(t[0], t[1], t[2], {2, 2}, {3, 3});
  });
  expect_fixture("ConvPointwise", HMR_CONV_FIXTURE2(ConvPointwise), {{2, 5, 4, 3}, {3, 5, 1, 1}},
                 [](V t) { return conv2d(t[0], t[1]); });
  expect_fixture("ConvTranspose", HMR_CONV_FIXTURE3(ConvTranspose), {{2, 4, 4, 3}, {4, 3, 3, 2}, {6}},
                 [](V t) {
                   return conv_transpose2d(t[0], t[1], t[2], {2, 1}, {1, 0}, {1, 0}, 2, {1, 2});
                 });
  expect_fixture("MaxPoolCeil", HMR_CONV_FIXTURE1(MaxPoolCeil), {{1, 2, 7, 8}}, [](V t) {
    return max_pool2d(t[0], {3, 3}, Size2{2, 2}, {1, 1}, {1, 1}, true);
  });
  expect_fixture("MaxPoolDilated", HMR_CONV_FIXTURE1(MaxPoolDilated), {{1, 2, 9, 8}}, [](V t) {
    return max_pool2d(t[0], {3, 2}, Size2{2, 1}, {1, 1}, {2, 1});
  });
  expect_fixture("AvgPoolCeilExcludePad", HMR_CONV_FIXTURE1(AvgPoolCeilExcludePad), {{1, 2, 7, 8}}, [](V t) {
    return avg_pool2d(t[0], {3, 3}, Size2{2, 2}, {1, 1}, true, false);
  });
  expect_fixture("AvgPoolCeilIncludePad", HMR_CONV_FIXTURE1(AvgPoolCeilIncludePad), {{1, 2, 6, 7}}, [](V t) {
    return avg_pool2d(t[0], {2, 3}, Size2{2, 2}, {1, 1}, true);
  });
  expect_fixture("AdaptiveAvgPool", HMR_CONV_FIXTURE1(AdaptiveAvgPool), {{1, 3, 7, 10}}, [](V t) {
    return adaptive_avg_pool2d(t[0], {3, 4});
  });
}

// ---- errors -------------------------------------------------------------------------------------

TEST(ConvErrors, NameTheOpAndTheShapes) {
  using hmr::testing::error_message;
  Tensor x = zeros({1, 4, 5, 5}), w = zeros({6, 2, 3, 3});
  EXPECT_THROW(conv2d(x, zeros({6, 3, 3, 3})), ShapeError);
  std::string m = error_message([&] { conv2d(x, zeros({6, 3, 3, 3})); });
  EXPECT_NE(m.find("conv2d"), std::string::npos) << m;
  EXPECT_NE(m.find("[1, 4, 5, 5]"), std::string::npos) << m;
  EXPECT_NE(m.find("[6, 3, 3, 3]"), std::string::npos) << m;

  EXPECT_THROW(conv2d(x, zeros({6, 4, 3, 3}), Tensor(), {1, 1}, {0, 0}, {1, 1}, 4), ValueError);  // 4 !| 6
  m = error_message([&] { conv2d(x, zeros({6, 4, 3, 3}), Tensor(), {1, 1}, {0, 0}, {1, 1}, 4); });
  EXPECT_NE(m.find("groups 4"), std::string::npos) << m;

  EXPECT_THROW(conv2d(x, zeros({6, 4, 7, 7})), ShapeError);  // kernel larger than the input
  m = error_message([&] { conv2d(x, zeros({6, 4, 7, 7})); });
  EXPECT_NE(m.find("conv2d"), std::string::npos) << m;
  EXPECT_NE(m.find("[6, 4, 7, 7]"), std::string::npos) << m;

  EXPECT_THROW(conv2d(x, w, zeros({5}), {1, 1}, {0, 0}, {1, 1}, 2), ShapeError);  // bias of 5 for 6 outputs
  EXPECT_THROW(conv2d(zeros({4, 5}), w), ShapeError);
  EXPECT_THROW(conv2d(x, w.to(DType::F64), Tensor(), {1, 1}, {0, 0}, {1, 1}, 2), DTypeError);
  EXPECT_THROW(conv2d(x, w, Tensor(), {0, 1}), ValueError);
  m = error_message([&] { conv2d(x.to(DType::F16), w.to(DType::F16), Tensor(), {1, 1}, {0, 0}, {1, 1}, 2); });
  EXPECT_NE(m.find("float32 and float64"), std::string::npos) << m;

  EXPECT_THROW(conv_transpose2d(x, zeros({3, 2, 3, 3})), ShapeError);
  EXPECT_THROW(conv_transpose2d(x, zeros({4, 2, 3, 3}), Tensor(), {2, 2}, {0, 0}, {2, 0}), ValueError);

  m = error_message([&] { max_pool2d(zeros({1, 1, 2, 2}), {3, 3}); });
  EXPECT_NE(m.find("max_pool2d"), std::string::npos) << m;
  EXPECT_NE(m.find("[1, 1, 2, 2]"), std::string::npos) << m;
  EXPECT_THROW(max_pool2d(zeros({1, 1, 2, 2}), {3, 3}), ShapeError);
  EXPECT_THROW(avg_pool2d(x, {2, 2}, std::nullopt, {2, 2}), ValueError);  // padding > kernel / 2
  EXPECT_THROW(adaptive_avg_pool2d(x, {0, 2}), ValueError);
}
