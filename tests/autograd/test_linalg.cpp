// Linear algebra ops: matmul in every torch.matmul case against a naive triple loop written
// here, gradients by f64 finite differences, and the small-matrix ops (inverse, det, solve,
// svd3x3) against hand-computed values and their defining identities.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "kernels/linalg.h"

using namespace hmr;

namespace {

struct Reference {
  std::vector<double> values;
  Shape shape;
};

// numpy/torch matmul semantics spelled out independently of the library: 1-D operands gain a
// dim that is removed again, batch dims broadcast, then one triple loop per batch entry.
Reference naive_matmul(const Tensor& a, const Tensor& b) {
  std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
  Shape as = a.sizes(), bs = b.sizes();
  const bool a_vector = as.size() == 1, b_vector = bs.size() == 1;
  if (a_vector) as.insert(as.begin(), 1);
  if (b_vector) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  const size_t nd = std::max(a_batch.size(), b_batch.size());
  a_batch.insert(a_batch.begin(), nd - a_batch.size(), 1);
  b_batch.insert(b_batch.begin(), nd - b_batch.size(), 1);
  Shape batch(nd);
  for (size_t d = 0; d < nd; ++d) batch[d] = std::max(a_batch[d], b_batch[d]);
  int64_t count = 1;
  for (int64_t s : batch) count *= s;
  Reference r;
  r.values.assign(count * m * n, 0.0);
  for (int64_t p = 0; p < count; ++p) {
    int64_t rem = p, pa = 0, pb = 0, sa = 1, sb = 1;
    for (int64_t d = static_cast<int64_t>(nd) - 1; d >= 0; --d) {
      const int64_t i = rem % batch[d];
      rem /= batch[d];
      pa += (a_batch[d] == 1 ? 0 : i) * sa;
      pb += (b_batch[d] == 1 ? 0 : i) * sb;
      sa *= a_batch[d];
      sb *= b_batch[d];
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t l = 0; l < k; ++l) acc += av[(pa * m + i) * k + l] * bv[(pb * k + l) * n + j];
        r.values[(p * m + i) * n + j] = acc;
      }
  }
  r.shape = batch;
  if (!a_vector) r.shape.push_back(m);
  if (!b_vector) r.shape.push_back(n);
  return r;
}

void expect_matches_naive(const Tensor& a, const Tensor& b, double tol) {
  Reference want = naive_matmul(a, b);
  Tensor got = matmul(a, b);
  ASSERT_EQ(got.sizes(), want.shape) << str(a.sizes()) << " @ " << str(b.sizes());
  std::vector<double> g = got.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_NEAR(g[i], want.values[i], tol * (1 + std::fabs(want.values[i])))
        << "element " << i << " of " << str(a.sizes()) << " @ " << str(b.sizes());
}

Tensor randn64(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, DType::F64, &gen);
}

template <class Fn>
std::string message_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::vector<double> identity(int64_t n) {
  std::vector<double> eye(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) eye[i * n + i] = 1;
  return eye;
}

}  // namespace

// ---- matmul: values -----------------------------------------------------------------------

TEST(Matmul, HandComputed2x2) {
  Tensor a = tensor({1, 2, 3, 4}, {2, 2}), b = tensor({5, 6, 7, 8}, {2, 2});
  // [[1*5+2*7, 1*6+2*8], [3*5+4*7, 3*6+4*8]]
  EXPECT_EQ(matmul(a, b).to_vector<double>(), (std::vector<double>{19, 22, 43, 50}));
}

TEST(Matmul, EveryRankCombinationMatchesNaiveLoop) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{4}, {4}},                    // dot -> 0-dim
      {{3, 4}, {4}},                 // matrix-vector
      {{4}, {4, 5}},                 // vector-matrix
      {{3, 4}, {4, 5}},              // matrix-matrix
      {{2, 3, 4}, {4}},              // batched matrix-vector
      {{4}, {2, 4, 5}},              // vector-batched matrix
      {{2, 3, 4}, {2, 4, 5}},        // bmm
      {{2, 3, 4}, {4, 5}},           // folded into one GEMM
      {{3, 4}, {2, 4, 5}},           // broadcast left matrix
      {{2, 1, 3, 4}, {5, 4, 6}},     // (B,1,n,k) . (m,k,p)
      {{1, 3, 3, 4}, {2, 1, 4, 2}},  // both broadcast
      {{1, 1, 4}, {1, 4, 1}},        // ones everywhere
      {{2, 3, 7}, {2, 7, 1}},        // single column
  };
  uint64_t seed = 1;
  for (const auto& [sa, sb] : cases) {
    expect_matches_naive(randn64(sa, seed), randn64(sb, seed + 1), 1e-12);
    seed += 2;
  }
}

TEST(Matmul, TransposedAndStridedInputsMatchNaiveLoop) {
  Tensor a_t = randn64({5, 3}, 1).t();                           // column-major (3, 5): read transposed
  Tensor b_t = randn64({4, 5}, 2).t();                           // (5, 4)
  Tensor rows = randn64({6, 5}, 3).slice(0, 0, 6, 2);            // every other row: leading dim 10
  Tensor cols = randn64({3, 10}, 4).slice(1, 0, 10, 2);          // column stride 2: must be copied
  Tensor perm = randn64({3, 2, 4, 5}, 5).permute({1, 0, 2, 3});  // (2, 3, 4, 5), batch dims not mergeable
  Tensor batched_t = randn64({2, 5, 3}, 6).transpose(1, 2);      // (2, 3, 5)
  Tensor expanded = randn64({1, 3, 5}, 7).expand({4, 3, 5});     // stride-0 batch
  expect_matches_naive(a_t, randn64({5, 4}, 8), 1e-12);
  expect_matches_naive(randn64({3, 5}, 9), b_t, 1e-12);
  expect_matches_naive(a_t, b_t, 1e-12);
  expect_matches_naive(rows, b_t, 1e-12);
  expect_matches_naive(cols, randn64({5, 2}, 10), 1e-12);
  expect_matches_naive(randn64({2, 5}, 11), cols.t(), 1e-12);
  expect_matches_naive(perm, randn64({2, 3, 5, 6}, 12), 1e-12);
  expect_matches_naive(batched_t, randn64({4, 5, 4}, 13).slice(0, 0, 4, 2), 1e-12);  // batch stride 40
  expect_matches_naive(batched_t, randn64({2, 4, 5}, 14).transpose(1, 2), 1e-12);
  expect_matches_naive(expanded, randn64({4, 5, 2}, 15), 1e-12);
  expect_matches_naive(batched_t, randn64({4, 5}, 16).t(), 1e-12);               // folded, after a copy of a
  expect_matches_naive(randn64({4, 3}, 17).t()[0], randn64({4, 2}, 18), 1e-12);  // strided vector
}

TEST(Matmul, LargeProductsUseEveryThreadingPathCorrectly) {
  // One big product (Eigen threads it), a batch of mid-size ones, many tiny ones.
  expect_matches_naive(randn64({130, 70}, 1), randn64({70, 150}, 2), 1e-11);
  expect_matches_naive(randn64({3, 40, 33}, 3), randn64({3, 33, 50}, 4), 1e-11);
  expect_matches_naive(randn64({200, 3, 3}, 5), randn64({200, 3, 3}, 6), 1e-12);
}

TEST(Matmul, Float32Float16BFloat16AndInt64) {
  Tensor a = randn64({2, 17, 9}, 1), b = randn64({9, 13}, 2);
  expect_matches_naive(a.to(DType::F32), b.to(DType::F32), 1e-5);
  // 16-bit results are rounded once at the end (products accumulate in float).
  expect_matches_naive(a.to(DType::F16), b.to(DType::F16), 2e-3);
  expect_matches_naive(a.to(DType::BF16), b.to(DType::BF16), 1.6e-2);
  expect_matches_naive(a.to(DType::BF16).transpose(1, 2).contiguous().transpose(1, 2), b.to(DType::BF16),
                       1.6e-2);
  Tensor ia = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, DType::I64),
         ib = tensor({1, 0, -1, 2, 3, 1}, {3, 2}, DType::I64);
  Tensor ic = matmul(ia, ib);
  EXPECT_EQ(ic.dtype(), DType::I64);
  // [[1-2+9, 0+4+3], [4-5+18, 0+10+6]]
  EXPECT_EQ(ic.to_vector<int64_t>(), (std::vector<int64_t>{8, 7, 17, 16}));
}

TEST(Matmul, EmptyInnerDimGivesZerosAndEmptyBatchGivesEmpty) {
  Tensor z = matmul(zeros({3, 0}, DType::F64), zeros({0, 2}, DType::F64));
  EXPECT_EQ(z.sizes(), (Shape{3, 2}));
  EXPECT_EQ(z.to_vector<double>(), std::vector<double>(6, 0.0));
  EXPECT_EQ(matmul(zeros({0, 3, 4}), zeros({4, 2})).sizes(), (Shape{0, 3, 2}));
}

TEST(Matmul, MmAndBmm) {
  Tensor a = randn64({3, 4, 5}, 1), b = randn64({3, 5, 2}, 2);
  Reference want = naive_matmul(a, b);
  std::vector<double> got = bmm(a, b).to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want.values[i], 1e-12);
  Tensor c = randn64({4, 5}, 3), d = randn64({5, 6}, 4);
  want = naive_matmul(c, d);
  got = mm(c, d).to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want.values[i], 1e-12);
  EXPECT_THROW(mm(a, b), ShapeError);
  EXPECT_THROW(bmm(a, randn64({2, 5, 2}, 5)), ShapeError);  // torch.bmm does not broadcast
}

TEST(Matmul, GemmKernelTakesTranspositionFlagsAndLeadingDims) {
  // C (2x2) = A^T B^T with A stored as 3x2 (ld 4) and B stored as 2x3 (ld 3), alpha 2, beta 1.
  std::vector<double> a = {1, 2, -1, -1, 3, 4, -1, -1, 5, 6, -1, -1};
  std::vector<double> b = {1, 0, 2, 0, 1, 1};
  std::vector<double> c = {100, 100, 100, 100};
  kernels::GemmArgs g;
  g.dtype = DType::F64;
  g.trans_a = g.trans_b = true;
  g.m = 2, g.n = 2, g.k = 3;
  g.a = a.data(), g.lda = 4;
  g.b = b.data(), g.ldb = 3;
  g.c = c.data(), g.ldc = 2;
  g.alpha = 2, g.beta = 1;
  kernels::gemm(g);
  // A^T = [[1,3,5],[2,4,6]], B^T = [[1,0],[0,1],[2,1]]: A^T B^T = [[11,8],[14,10]].
  EXPECT_EQ(c, (std::vector<double>{122, 116, 128, 120}));
}

TEST(Matmul, GemmKernelBatchedWithSharedOperandAlphaAndBetaMatchesNaiveLoop) {
  // Large enough for Eigen's path: A stored transposed (k x m, ld m + 2) and shared by the
  // batch (stride 0), B stored transposed (n x k, ld k + 1), C = 0.5 op(A) op(B) - 2 C.
  const int64_t m = 9, n = 11, k = 13, batch = 3;
  std::vector<double> a = randn64({k * (m + 2)}, 1).to_vector<double>();
  std::vector<double> b = randn64({batch * n * (k + 1)}, 2).to_vector<double>();
  std::vector<double> c = randn64({batch * m * n}, 3).to_vector<double>(), c0 = c;
  kernels::GemmArgs g;
  g.dtype = DType::F64;
  g.trans_a = g.trans_b = true;
  g.m = m, g.n = n, g.k = k, g.batch = batch;
  g.a = a.data(), g.lda = m + 2, g.stride_a = 0;
  g.b = b.data(), g.ldb = k + 1, g.stride_b = n * (k + 1);
  g.c = c.data(), g.ldc = n, g.stride_c = m * n;
  g.alpha = 0.5, g.beta = -2;
  kernels::gemm(g);
  for (int64_t p = 0; p < batch; ++p)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t l = 0; l < k; ++l) acc += a[l * (m + 2) + i] * b[p * n * (k + 1) + j * (k + 1) + l];
        const int64_t at = p * m * n + i * n + j;
        ASSERT_NEAR(c[at], 0.5 * acc - 2 * c0[at], 1e-12) << "batch " << p << " (" << i << ", " << j << ")";
      }
}

// ---- matmul: errors --------------------------------------------------------------------------

TEST(Matmul, MismatchedInnerDimsNameTheOpAndBothShapes) {
  std::string msg = message_of([] { matmul(zeros({2, 3}), zeros({4, 5})); });
  EXPECT_NE(msg.find("matmul"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4, 5]"), std::string::npos) << msg;
  EXPECT_THROW(matmul(zeros({2, 3}), zeros({4, 5})), ShapeError);
  EXPECT_THROW(matmul(zeros({3}), zeros({4})), ShapeError);
  EXPECT_THROW(matmul(zeros({2, 2, 3}), zeros({3, 3, 2})), ShapeError);  // batch 2 vs 3
  EXPECT_THROW(matmul(zeros({}), zeros({3})), ShapeError);
}

TEST(Matmul, DTypeMismatchIsAnError) {
  std::string msg = message_of([] { matmul(zeros({2, 3}, DType::F32), zeros({3, 2}, DType::F64)); });
  EXPECT_NE(msg.find("matmul"), std::string::npos) << msg;
  EXPECT_NE(msg.find("float32"), std::string::npos) << msg;
  EXPECT_NE(msg.find("float64"), std::string::npos) << msg;
  EXPECT_THROW(matmul(zeros({2, 3}, DType::F32), zeros({3, 2}, DType::F64)), DTypeError);
  EXPECT_THROW(matmul(zeros({2, 3}, DType::Bool), zeros({3, 2}, DType::Bool)), DTypeError);
}

// ---- matmul: gradients -------------------------------------------------------------------------

TEST(Matmul, GradcheckEveryCase) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{4}, {4}},
      {{3, 4}, {4}},
      {{4}, {4, 2}},
      {{3, 4}, {4, 2}},
      {{2, 3, 4}, {4, 2}},
      {{3, 4}, {2, 4, 2}},
      {{2, 1, 3, 4}, {3, 4, 2}},
      {{2, 3, 4}, {4}},
  };
  uint64_t seed = 10;
  for (const auto& [sa, sb] : cases) {
    Tensor a = randn64(sa, seed).requires_grad_(), b = randn64(sb, seed + 1).requires_grad_();
    seed += 2;
    auto r = gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b});
    EXPECT_TRUE(r.ok) << str(sa) << " @ " << str(sb) << ": " << r.message;
  }
}

TEST(Matmul, GradcheckTransposedOperandsAndGradientShapes) {
  Tensor a = randn64({2, 4, 3}, 1).requires_grad_(), b = randn64({5, 4}, 2).requires_grad_();
  auto f = [](const std::vector<Tensor>& in) { return matmul(in[0].transpose(1, 2), in[1].t()); };
  auto r = gradcheck(f, {a, b});
  EXPECT_TRUE(r.ok) << r.message;
  // Broadcast batch dims are summed out: gradients have the inputs' shapes.
  Tensor x = randn64({2, 1, 3, 4}, 3).requires_grad_(), y = randn64({5, 4, 2}, 4).requires_grad_();
  matmul(x, y).sum().backward();
  EXPECT_EQ(x.grad().sizes(), x.sizes());
  EXPECT_EQ(y.grad().sizes(), y.sizes());
  // d sum(x y) / dy[l][j] = sum over batch and rows of x[..., i, l]: check one entry by hand.
  std::vector<double> xv = x.to_vector<double>(), gy = y.grad().to_vector<double>();
  double want = 0;
  for (int64_t p = 0; p < 2; ++p)
    for (int64_t i = 0; i < 3; ++i) want += xv[(p * 3 + i) * 4 + 1];
  EXPECT_NEAR(gy[(0 * 4 + 1) * 2 + 0], want, 1e-12);
}

// ---- inverse -------------------------------------------------------------------------------

TEST(Inverse, HandComputed2x2) {
  // [[4,7],[2,6]]^-1 = (1/10) [[6,-7],[-2,4]]
  std::vector<double> got = inverse(tensor({4, 7, 2, 6}, {2, 2}, DType::F64)).to_vector<double>();
  std::vector<double> want = {0.6, -0.7, -0.2, 0.4};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(got[i], want[i], 1e-15);
}

TEST(Inverse, TimesInputIsIdentityForManySizes) {
  for (int64_t n : {1, 2, 3, 4, 7, 16}) {
    // Diagonally dominated: well conditioned, so the residual is at rounding level.
    Tensor a = randn64({5, n, n}, n) + eye(n, std::nullopt, DType::F64) * static_cast<double>(n);
    Tensor prod = matmul(a, inverse(a));
    std::vector<double> got = prod.to_vector<double>(), eye_n = identity(n);
    for (int64_t i = 0; i < prod.numel(); ++i) ASSERT_NEAR(got[i], eye_n[i % (n * n)], 1e-12) << "n " << n;
  }
  // float32, and a transposed (non-contiguous) input
  Tensor a = (randn64({3, 3}, 7) + eye(3, std::nullopt, DType::F64) * 3.0).to(DType::F32).t();
  std::vector<double> got = matmul(a, inverse(a)).to_vector<double>(), eye3 = identity(3);
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(got[i], eye3[i], 1e-5);
}

TEST(Inverse, Gradcheck) {
  Tensor a = (randn64({2, 3, 3}, 3) + eye(3, std::nullopt, DType::F64) * 3.0).detach().requires_grad_();
  auto r = gradcheck([](const std::vector<Tensor>& in) { return inverse(in[0]); }, {a});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Inverse, NonSquareIsAShapeErrorNamingTheShape) {
  std::string msg = message_of([] { inverse(zeros({2, 3, 4})); });
  EXPECT_NE(msg.find("inverse"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 3, 4]"), std::string::npos) << msg;
  EXPECT_THROW(inverse(zeros({2, 3, 4})), ShapeError);
  EXPECT_THROW(inverse(zeros({3})), ShapeError);
  EXPECT_THROW(inverse(zeros({3, 3}, DType::I64)), DTypeError);
}

TEST(Inverse, SingularMatrixIsAValueErrorNamingItsBatchIndex) {
  // Batch of three; matrix [1] has proportional rows, so elimination meets an exact zero pivot.
  Tensor a = tensor({1, 0, 0, 1, 1, 2, 2, 4, 2, 1, 1, 3}, {3, 2, 2}, DType::F64);
  std::string msg = message_of([&] { inverse(a); });
  EXPECT_NE(msg.find("inverse"), std::string::npos) << msg;
  EXPECT_NE(msg.find("singular"), std::string::npos) << msg;
  EXPECT_NE(msg.find("matrix [1]"), std::string::npos) << msg;
  EXPECT_THROW(inverse(a), ValueError);
  EXPECT_THROW(inverse(zeros({3, 3}, DType::F64)), ValueError);
}

// ---- det -------------------------------------------------------------------------------------

TEST(Det, HandComputed) {
  Tensor a = tensor({1, 2, 3, 4}, {2, 2}, DType::F64);
  EXPECT_NEAR(det(a).item(), -2.0, 1e-14);  // 1*4 - 2*3
  EXPECT_EQ(det(a).dim(), 0);
  // Cofactor expansion: 6(-14-40) - 1(28-10) + 1(32+4) = -324 - 18 + 36 = -306.
  EXPECT_NEAR(det(tensor({6, 1, 1, 4, -2, 5, 2, 8, 7}, {3, 3}, DType::F64)).item(), -306.0, 1e-12);
  // A row swap flips the sign; a singular matrix gives exactly 0 (no error).
  EXPECT_NEAR(det(tensor({0, 1, 1, 0}, {2, 2}, DType::F64)).item(), -1.0, 0);
  EXPECT_EQ(det(tensor({1, 2, 2, 4}, {2, 2}, DType::F64)).item(), 0.0);
  Tensor batch = tensor({2, 0, 0, 3, 1, 1, 0, 1}, {2, 2, 2}, DType::F32);
  EXPECT_EQ(det(batch).to_vector<double>(), (std::vector<double>{6, 1}));
  EXPECT_THROW(det(zeros({2, 3})), ShapeError);
}

TEST(Det, Gradcheck) {
  Tensor a = (randn64({3, 4, 4}, 5) + eye(4, std::nullopt, DType::F64) * 2.0).detach().requires_grad_();
  auto r = gradcheck([](const std::vector<Tensor>& in) { return det(in[0]); }, {a});
  EXPECT_TRUE(r.ok) << r.message;
}

// ---- solve -----------------------------------------------------------------------------------

TEST(Solve, ResidualIsZeroWithBroadcastBatches) {
  Tensor a = randn64({2, 1, 4, 4}, 1) + eye(4, std::nullopt, DType::F64) * 4.0;
  Tensor b = randn64({3, 4, 2}, 2);
  Tensor x = solve(a, b);
  ASSERT_EQ(x.sizes(), (Shape{2, 3, 4, 2}));
  Tensor residual = matmul(a, x) - b;
  for (double r : residual.to_vector<double>()) ASSERT_NEAR(r, 0.0, 1e-12);
}

TEST(Solve, HandComputedVectorRightHandSide) {
  // 2x + y = 5, x + 3y = 10  ->  x = 1, y = 3
  Tensor a = tensor({2, 1, 1, 3}, {2, 2}, DType::F64), b = tensor({5, 10}, DType::F64);
  Tensor x = solve(a, b);
  ASSERT_EQ(x.sizes(), (Shape{2}));
  EXPECT_NEAR(x.to_vector<double>()[0], 1.0, 1e-14);
  EXPECT_NEAR(x.to_vector<double>()[1], 3.0, 1e-14);
  // Batched vectors: b of shape a.shape[:-1].
  Tensor ab = a.unsqueeze(0).expand({3, 2, 2}), bb = b.unsqueeze(0).expand({3, 2});
  EXPECT_EQ(solve(ab, bb).sizes(), (Shape{3, 2}));
}

TEST(Solve, GradcheckBothInputs) {
  Tensor a = (randn64({2, 3, 3}, 3) + eye(3, std::nullopt, DType::F64) * 3.0).detach().requires_grad_();
  Tensor b = randn64({3, 2}, 4).requires_grad_();
  auto r = gradcheck([](const std::vector<Tensor>& in) { return solve(in[0], in[1]); }, {a, b});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Solve, ErrorsNameTheOpAndShapes) {
  EXPECT_THROW(solve(zeros({3, 3}), zeros({4, 2})), ShapeError);
  std::string msg = message_of([] { solve(zeros({3, 3}), zeros({4, 2})); });
  EXPECT_NE(msg.find("solve"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4, 2]"), std::string::npos) << msg;
  EXPECT_THROW(solve(zeros({3, 3}, DType::F64), zeros({3, 2}, DType::F32)), DTypeError);
  EXPECT_THROW(solve(zeros({2, 3, 3}, DType::F64), zeros({2, 3, 1}, DType::F64)), ValueError);
}

// ---- svd3x3 ------------------------------------------------------------------------------------

namespace {

// A batch of 3x3 matrices that exercises every branch: random, rank 2, rank 1, zero, repeated
// singular values (scaled orthogonal), diagonal with negative entries, huge and tiny scales.
Tensor hard_svd_batch(int64_t count, DType dtype) {
  Tensor r = randn64({count, 3, 3}, 99);
  std::vector<double> v = r.to_vector<double>();
  for (int64_t p = 0; p < count; ++p) {
    double* m = v.data() + 9 * p;
    switch (p % 8) {
      case 1:  // rank 2: third row = first - second / 2
        for (int j = 0; j < 3; ++j) m[6 + j] = m[j] - 0.5 * m[3 + j];
        break;
      case 2: {  // rank 1: outer product of the first two rows
        const double x[3] = {m[0], m[1], m[2]}, y[3] = {m[3], m[4], m[5]};
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) m[i * 3 + j] = x[i] * y[j];
        break;
      }
      case 3:
        if (p % 16 == 3)
          for (int i = 0; i < 9; ++i) m[i] = 0;  // zero
        break;
      case 4:  // repeated singular values: a signed permutation times 2
        for (int i = 0; i < 9; ++i) m[i] = 0;
        m[1] = 2, m[5] = -2, m[6] = 2;
        break;
      case 5:  // diagonal with negative and equal-magnitude entries
        for (int i = 0; i < 9; ++i) m[i] = 0;
        m[0] = -1, m[4] = 3, m[8] = 1;
        break;
      case 6:
        for (int i = 0; i < 9; ++i) m[i] *= 1e6;
        break;
      case 7:
        for (int i = 0; i < 9; ++i) m[i] *= 1e-6;
        break;
      default:
        break;
    }
  }
  return Tensor::from_vector(v, {count, 3, 3}).to(dtype);
}

void check_svd_identities(DType dtype, double tol) {
  const int64_t count = 1000;
  Tensor a = hard_svd_batch(count, dtype);
  SVD3 r = svd3x3(a);
  ASSERT_EQ(r.U.sizes(), (Shape{count, 3, 3}));
  ASSERT_EQ(r.S.sizes(), (Shape{count, 3}));
  ASSERT_EQ(r.V.sizes(), (Shape{count, 3, 3}));
  std::vector<double> av = a.to_vector<double>(), u = r.U.to_vector<double>(), s = r.S.to_vector<double>(),
                      v = r.V.to_vector<double>();
  for (int64_t p = 0; p < count; ++p) {
    const double* A = av.data() + 9 * p;
    const double *U = u.data() + 9 * p, *S = s.data() + 3 * p, *V = v.data() + 9 * p;
    double scale = 0, frob = 0;
    for (int i = 0; i < 9; ++i) {
      scale = std::max(scale, std::fabs(A[i]));
      frob += A[i] * A[i];
    }
    const double unit = scale > 0 ? scale : 1;
    ASSERT_GE(S[0], S[1]) << "matrix " << p;
    ASSERT_GE(S[1], S[2]) << "matrix " << p;
    ASSERT_GE(S[2], 0.0) << "matrix " << p;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        double rec = 0, utu = 0, vtv = 0;
        for (int l = 0; l < 3; ++l) {
          rec += U[i * 3 + l] * S[l] * V[j * 3 + l];
          utu += U[l * 3 + i] * U[l * 3 + j];
          vtv += V[l * 3 + i] * V[l * 3 + j];
        }
        ASSERT_NEAR(rec / unit, A[i * 3 + j] / unit, tol) << "U S V^T != A, matrix " << p;
        ASSERT_NEAR(utu, i == j ? 1.0 : 0.0, tol) << "U^T U != I, matrix " << p;
        ASSERT_NEAR(vtv, i == j ? 1.0 : 0.0, tol) << "V^T V != I, matrix " << p;
      }
    // Independent of the factors: sum s^2 = |A|_F^2.
    ASSERT_NEAR((S[0] * S[0] + S[1] * S[1] + S[2] * S[2]) / (unit * unit), frob / (unit * unit), 10 * tol);
  }
}

}  // namespace

TEST(Svd3x3, HandComputedDiagonalAndPermutation) {
  // diag(-1, 3, 1): singular values 3, 1, 1 (sorted); the sign lives in U or V.
  SVD3 r = svd3x3(tensor({-1, 0, 0, 0, 3, 0, 0, 0, 1}, {3, 3}, DType::F64));
  std::vector<double> s = r.S.to_vector<double>();
  EXPECT_NEAR(s[0], 3, 1e-14);
  EXPECT_NEAR(s[1], 1, 1e-14);
  EXPECT_NEAR(s[2], 1, 1e-14);
  // The all-zero matrix: S = 0 and identity factors.
  r = svd3x3(zeros({3, 3}, DType::F32));
  EXPECT_EQ(r.S.to_vector<double>(), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(r.U.to_vector<double>(), identity(3));
}

TEST(Svd3x3, FactorsReconstructAndAreOrthogonalOn1000HardMatricesF64) {
  check_svd_identities(DType::F64, 1e-12);
}

TEST(Svd3x3, FactorsReconstructAndAreOrthogonalOn1000HardMatricesF32) {
  check_svd_identities(DType::F32, 1e-5);
}

TEST(Svd3x3, SingularValuesMatchDeterminantAndRank) {
  Tensor a = hard_svd_batch(64, DType::F64);
  std::vector<double> s = svd3x3(a).S.to_vector<double>(), d = det(a).to_vector<double>();
  for (int64_t p = 0; p < 64; ++p) {
    const double prod = s[3 * p] * s[3 * p + 1] * s[3 * p + 2];
    EXPECT_NEAR(prod, std::fabs(d[p]), 1e-9 * std::max(1.0, std::fabs(d[p]))) << "matrix " << p;
    if (p % 8 == 1 || p % 8 == 2) {
      EXPECT_LT(s[3 * p + 2], 1e-12 * s[3 * p]) << "rank-deficient matrix " << p;
    }
    if (p % 8 == 2) {
      EXPECT_LT(s[3 * p + 1], 1e-12 * s[3 * p]) << "rank-1 matrix " << p;
    }
  }
}

TEST(Svd3x3, GradcheckThroughUSAndV) {
  // Well separated singular values (5, 2, 0.5), rotated by fixed random orthogonal factors.
  Tensor a0 = randn64({2, 3, 3}, 21);
  SVD3 q = svd3x3(a0), w = svd3x3(randn64({2, 3, 3}, 22));
  Tensor sig = tensor({5, 2, 0.5}, DType::F64);
  Tensor a = matmul(q.U * sig, w.V.transpose(1, 2)).detach().requires_grad_();
  auto all = [](const std::vector<Tensor>& in) {
    SVD3 r = svd3x3(in[0]);
    return r.U + r.V * 2.0 + r.S.unsqueeze(-1);
  };
  auto r = gradcheck(all, {a});
  EXPECT_TRUE(r.ok) << r.message;
  for (int which = 0; which < 3; ++which) {
    auto one = [which](const std::vector<Tensor>& in) {
      SVD3 r = svd3x3(in[0]);
      return which == 0 ? r.U : which == 1 ? r.S : r.V;
    };
    auto res = gradcheck(one, {a});
    EXPECT_TRUE(res.ok) << "output " << which << ": " << res.message;
  }
}

TEST(Svd3x3, GradientOfUVtIsExactWithRepeatedSingularValues) {
  // s = (2, 2, 1): U and V are not unique, but the orthogonal polar factor U V^T is, and
  // its gradient through the documented formula stays exact.
  SVD3 q = svd3x3(randn64({3, 3}, 31)), w = svd3x3(randn64({3, 3}, 32));
  Tensor a = matmul(q.U * tensor({2, 2, 1}, DType::F64), w.V.t()).detach().requires_grad_();
  auto polar = [](const std::vector<Tensor>& in) {
    SVD3 r = svd3x3(in[0]);
    return matmul(r.U, r.V.t());
  };
  auto r = gradcheck(polar, {a});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Svd3x3, RejectsOtherShapesAndDTypes) {
  EXPECT_THROW(svd3x3(zeros({3, 4})), ShapeError);
  EXPECT_THROW(svd3x3(zeros({2, 2, 2})), ShapeError);
  EXPECT_THROW(svd3x3(zeros({3, 3}, DType::F16)), DTypeError);
  std::string msg = message_of([] { svd3x3(zeros({3, 4})); });
  EXPECT_NE(msg.find("svd3x3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3, 4]"), std::string::npos) << msg;
}
