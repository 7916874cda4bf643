// The max-mixture GMM pose prior: energies against a torch f64 computation of SMPLify-X's
// formula (tests/fixtures/make_smplify_fixtures.py) and a hand-computed 1-D case, gradcheck,
// SMPLify's py2 pickle layout and our .npz, EM on a known mixture, and `hmr prior fit-gmm`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <sstream>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "hmr/cli.h"
#include "hmr/fitting/gmm_prior.h"
#include "io/npy.h"

namespace fs = std::filesystem;
using namespace hmr;
using fitting::Gmm;
using fitting::GmmPrior;

namespace {

std::string fixture(const std::string& name) {
  return std::string(HMR_SOURCE_DIR) + "/tests/fixtures/smplify/" + name;
}

std::vector<double> f64(const Tensor& t) {
  return t.to(Device::cpu(), DType::F64).contiguous().to_vector<double>();
}

void expect_close(const Tensor& got, const Tensor& want, double rtol, double atol, const std::string& what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const std::vector<double> g = f64(got), w = f64(want);
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_NEAR(g[i], w[i], atol + rtol * std::abs(w[i])) << what << " element " << i;
}

template <class E, class F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const E& e) {
    for (const std::string& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

Gmm fixture_gmm() {
  const TensorDict d = io::load_npz(fixture("losses.npz"));
  return Gmm{d.at("gmm_means").to(DType::F64), d.at("gmm_covars").to(DType::F64),
             d.at("gmm_weights").to(DType::F64)};
}

}  // namespace

// Two 1-D components, N(0, 1) with weight 0.5 and N(4, 4) with weight 0.5. With sigma_min = 1:
//   E_0(x) = x^2 / 2 - log(0.5 / sqrt(2 pi)),  E_1(x) = (x - 4)^2 / 8 - log(0.5 / (sqrt(2 pi) * 2)).
// At x = 0 component 0 wins (0.918939 + 0.693147); at x = 4 component 1 (log 2 more than E_0's constant).
TEST(GmmPrior, HandComputedOneDimensional) {
  const Gmm gmm{tensor({0.0, 4.0}, {2, 1}, DType::F64), tensor({1.0, 4.0}, {2, 1, 1}, DType::F64),
                tensor({0.5, 0.5}, DType::F64)};
  const GmmPrior prior(gmm, DType::F64);
  const double c0 = -std::log(0.5 / std::sqrt(2 * M_PI)), c1 = -std::log(0.5 / (std::sqrt(2 * M_PI) * 2));
  const std::vector<double> e = f64(prior.energy(tensor({0.0, 4.0, 2.5}, {3, 1}, DType::F64)));
  EXPECT_NEAR(e[0], c0, 1e-12);
  EXPECT_NEAR(e[1], c1, 1e-12);
  EXPECT_NEAR(e[2], std::min(2.5 * 2.5 / 2 + c0, 1.5 * 1.5 / 8 + c1), 1e-12);
}

TEST(GmmPrior, EnergyAndGradientMatchTorchOn69Dims) {
  const TensorDict d = io::load_npz(fixture("losses.npz"));
  const GmmPrior prior(fixture_gmm(), DType::F64);
  Tensor pose = d.at("energy_pose").clone().requires_grad_(true);
  const Tensor e = prior.energy(pose);
  expect_close(e, d.at("energy"), 1e-9, 1e-9, "energy");
  sum(e).backward();
  expect_close(pose.grad(), d.at("energy_grad"), 1e-8, 1e-9, "d energy / d pose");
  // The f32 prior agrees to f32 precision.
  const Tensor e32 = GmmPrior(fixture_gmm(), DType::F32).energy(d.at("energy_pose").to(DType::F32));
  expect_close(e32, d.at("energy"), 1e-4, 1e-3, "energy (f32)");
}

TEST(GmmPrior, Gradcheck) {
  const GmmPrior prior(fitting::load_gmm(fixture("gmm_tiny_py2.pkl")), DType::F64);
  Generator gen(3);
  const Tensor pose = (randn({5, 4}, DType::F64, &gen) * 1.5).requires_grad_(true);
  const GradcheckResult r =
      gradcheck([&](const std::vector<Tensor>& in) { return prior.energy(in[0]); }, {pose});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(GmmPrior, LoadsSmplifyPy2PickleLayout) {
  const Gmm gmm = fitting::load_gmm(fixture("gmm_tiny_py2.pkl"));
  EXPECT_EQ(gmm.means.sizes(), (Shape{3, 4}));
  EXPECT_EQ(gmm.covars.sizes(), (Shape{3, 4, 4}));
  EXPECT_EQ(gmm.weights.dtype(), DType::F64);
  EXPECT_NEAR(f64(sum(gmm.weights))[0], 1.0, 1e-12);
  const TensorDict expected = io::load_npz(fixture("gmm_tiny_expected.npz"));
  expect_close(GmmPrior(gmm, DType::F64).energy(expected.at("pose")), expected.at("energy"), 1e-10, 1e-10,
               "energy");
}

TEST(GmmPrior, NpzRoundTripIsExact) {
  const Gmm gmm = fitting::load_gmm(fixture("gmm_tiny_py2.pkl"));
  const std::string path =
      (fs::temp_directory_path() / ("hmr_gmm_" + std::to_string(::getpid()) + ".npz")).string();
  fitting::save_gmm_npz(path, gmm);
  const Gmm back = fitting::load_gmm(path);
  fs::remove(path);
  EXPECT_EQ(f64(back.means), f64(gmm.means));
  EXPECT_EQ(f64(back.covars), f64(gmm.covars));
  EXPECT_EQ(f64(back.weights), f64(gmm.weights));
}

TEST(GmmPrior, BadInputsNameWhatWasExpected) {
  const Gmm good = fitting::load_gmm(fixture("gmm_tiny_py2.pkl"));
  expect_error<ValueError>(
      [&] {
        GmmPrior(Gmm{good.means, good.covars.slice(1, 0, 3), good.weights});
      },
      {"GmmPrior", "covars [3, 4, 4]", "[3, 3, 4]"});
  expect_error<ValueError>(
      [&] {
        GmmPrior(Gmm{good.means, good.covars, good.weights.slice(0, 0, 2)});
      },
      {"weights [3]", "found [2]"});
  expect_error<ValueError>(
      [&] {
        GmmPrior(Gmm{good.means, -good.covars, good.weights});
      },
      {"not positive definite"});
  const GmmPrior prior(good, DType::F64);
  expect_error<ShapeError>(
      [&] {
        prior.energy(zeros({2, 5}, DType::F64));
      },
      {"GmmPrior::energy", "[B, 4]", "[2, 5]"});
  expect_error<IOError>([&] { fitting::load_gmm("/nonexistent/gmm_08.pkl"); }, {"/nonexistent/gmm_08.pkl"});
}

// 3-D samples from 0.3 N(mu_a, A A^T) + 0.7 N(mu_b, B B^T): EM recovers the weights, means and
// covariances within sampling error (N = 3000: a mean is off by ~sigma / sqrt(n) ~ 0.03).
TEST(GmmEm, RecoversAKnownTwoComponentMixture) {
  const double mu[2][3] = {{-2, 0, 1}, {3, 1, -1}};
  const double chol[2][3][3] = {{{1.0, 0, 0}, {0.3, 0.5, 0}, {0, 0.2, 0.8}},
                                {{0.6, 0, 0}, {-0.2, 1.2, 0}, {0.1, 0, 0.4}}};
  std::mt19937_64 rng(11);
  std::normal_distribution<double> z;
  std::bernoulli_distribution pick_b(0.7);
  const int64_t n = 3000;
  std::vector<double> x(static_cast<size_t>(n * 3));
  for (int64_t i = 0; i < n; ++i) {
    const int c = pick_b(rng) ? 1 : 0;
    const double u[3] = {z(rng), z(rng), z(rng)};
    for (int r = 0; r < 3; ++r) {
      double v = mu[c][r];
      for (int k = 0; k <= r; ++k) v += chol[c][r][k] * u[k];
      x[static_cast<size_t>(3 * i + r)] = v;
    }
  }
  const Tensor samples = Tensor::from_vector(x, {n, 3});
  const fitting::GmmEmResult fit = fitting::fit_gmm_em(samples, 2, 40, 5);
  // Component order is arbitrary: match by the first mean coordinate.
  const std::vector<double> m = f64(fit.gmm.means), w = f64(fit.gmm.weights), c = f64(fit.gmm.covars);
  const int a = m[0] < m[3] ? 0 : 1, b = 1 - a;
  EXPECT_NEAR(w[static_cast<size_t>(a)], 0.3, 0.03);
  EXPECT_NEAR(w[static_cast<size_t>(b)], 0.7, 0.03);
  for (int r = 0; r < 3; ++r) {
    EXPECT_NEAR(m[static_cast<size_t>(3 * a + r)], mu[0][r], 0.1) << r;
    EXPECT_NEAR(m[static_cast<size_t>(3 * b + r)], mu[1][r], 0.1) << r;
  }
  // Variance of the first coordinate: chol[.][0][0]^2.
  EXPECT_NEAR(c[static_cast<size_t>(9 * a)], 1.0, 0.12);
  EXPECT_NEAR(c[static_cast<size_t>(9 * b)], 0.36, 0.05);
  // EM never decreases the likelihood (up to the ridge's tiny pull on the covariances, which
  // makes the M-step not quite the maximiser).
  for (size_t i = 1; i < fit.mean_log_likelihood.size(); ++i)
    EXPECT_GE(fit.mean_log_likelihood[i], fit.mean_log_likelihood[i - 1] - 1e-6) << i;
  EXPECT_GT(fit.mean_log_likelihood.back(), fit.mean_log_likelihood.front() + 0.1);
  // Deterministic for a seed.
  EXPECT_EQ(f64(fitting::fit_gmm_em(samples, 2, 40, 5).gmm.means), m);
}

TEST(GmmEm, RejectsTooFewSamples) {
  expect_error<ValueError>(
      [] {
        fitting::fit_gmm_em(zeros({3, 2}, DType::F64), 4, 5, 0);
      },
      {"fit_gmm_em", "components 4", "[3, 2]"});
}

TEST(PriorCli, FitGmmWritesALoadablePrior) {
  const std::string out =
      (fs::temp_directory_path() / ("hmr_prior_" + std::to_string(::getpid()) + ".npz")).string();
  std::ostringstream o, e;
  cli::Streams streams{o, e, false};
  const int code = cli::run({"prior", "fit-gmm", "--out", out, "--samples", "600", "--components", "3",
                             "--iters", "5", "--seed", "2"},
                            streams);
  ASSERT_EQ(code, 0) << e.str();
  const Gmm gmm = fitting::load_gmm(out);
  fs::remove(out);
  EXPECT_EQ(gmm.means.sizes(), (Shape{3, 69}));
  EXPECT_EQ(gmm.covars.sizes(), (Shape{3, 69, 69}));
  EXPECT_NEAR(f64(sum(gmm.weights))[0], 1.0, 1e-9);
  EXPECT_NO_THROW(GmmPrior(gmm, DType::F64));
  EXPECT_NE(o.str().find(out), std::string::npos) << o.str();

  std::ostringstream o2, e2;
  cli::Streams s2{o2, e2, false};
  EXPECT_EQ(cli::run({"prior", "fit-gmm", "--out", out, "--components", "0"}, s2), cli::kExitUsage)
      << e2.str();
  EXPECT_EQ(cli::run({"prior", "nonsense"}, s2), cli::kExitUsage);
}
