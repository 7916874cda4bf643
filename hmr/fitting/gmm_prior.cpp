// The max-mixture GMM pose prior, its files and its EM fit. The small dense linear algebra
// (Cholesky of a 69 x 69 covariance) runs on the host in f64; the per-sample work (energies,
// Mahalanobis distances over all samples) runs through tensor ops.
#include "hmr/fitting/gmm_prior.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <random>

#include "autograd/ops.h"
#include "io/npy.h"
#include "io/pickle.h"
#include "tensor/error.h"
#include "tensor/tensor_dict.h"

namespace hmr::fitting {
namespace {

constexpr double kLog2Pi = 1.8378770664093453;  // log(2 pi)

// Lower-triangular L with A = L L^T (row-major n x n); false if A is not positive definite.
bool cholesky(const double* a, int64_t n, std::vector<double>& l) {
  l.assign(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j <= i; ++j) {
      double s = a[i * n + j];
      for (int64_t k = 0; k < j; ++k) s -= l[i * n + k] * l[j * n + k];
      if (i == j) {
        if (!(s > 0)) return false;
        l[i * n + i] = std::sqrt(s);
      } else {
        l[i * n + j] = s / l[j * n + j];
      }
    }
  }
  return true;
}

// L^-1 of a lower-triangular L (itself lower triangular), by forward substitution per column.
std::vector<double> lower_inverse(const std::vector<double>& l, int64_t n) {
  std::vector<double> inv(static_cast<size_t>(n * n), 0.0);
  for (int64_t c = 0; c < n; ++c) {
    inv[c * n + c] = 1.0 / l[c * n + c];
    for (int64_t i = c + 1; i < n; ++i) {
      double s = 0;
      for (int64_t k = c; k < i; ++k) s -= l[i * n + k] * inv[k * n + c];
      inv[i * n + c] = s / l[i * n + i];
    }
  }
  return inv;
}

double log_det_from_cholesky(const std::vector<double>& l, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::log(l[i * n + i]);
  return 2 * s;
}

// Per component: the whitening matrix L^-1 (so that |L^-1 (x - mu)|^2 is the Mahalanobis
// distance) and log|Sigma|. ValueError naming the component if one is not positive definite.
struct Factor {
  std::vector<double> l_inv;
  double log_det = 0;
};
std::vector<Factor> factorize(const Gmm& gmm, const std::string& where) {
  const int64_t k = gmm.components(), d = gmm.dim();
  const Tensor covars = gmm.covars.contiguous();
  std::vector<Factor> out(static_cast<size_t>(k));
  std::vector<double> l;
  for (int64_t m = 0; m < k; ++m) {
    HMR_CHECK(cholesky(covars.data<double>() + m * d * d, d, l), ValueError, where, ": covariance ", m,
              " of the mixture is not positive definite");
    out[static_cast<size_t>(m)] = {lower_inverse(l, d), log_det_from_cholesky(l, d)};
  }
  return out;
}

Gmm as_f64(Tensor means, Tensor covars, Tensor weights) {
  return Gmm{means.to(Device::cpu(), DType::F64).contiguous(),
             covars.to(Device::cpu(), DType::F64).contiguous(),
             weights.to(Device::cpu(), DType::F64).contiguous()};
}

bool is_zip(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  HMR_CHECK(f.good(), IOError, "load_gmm: cannot open '", path, "'");
  char magic[2] = {0, 0};
  f.read(magic, 2);
  return magic[0] == 'P' && magic[1] == 'K';
}

Gmm load_gmm_pickle(const std::string& path) {
  const io::PickleValue root = io::unpickle_file(path);
  HMR_CHECK(root.is(io::PickleKind::Dict), IOError, "load_gmm: '", path,
            "' should hold a dict with 'means', 'covars' and 'weights', found ", root.repr(80));
  return as_f64(io::array_of(root.get("means")), io::array_of(root.get("covars")),
                io::array_of(root.get("weights")));
}

Gmm load_gmm_npz(const std::string& path) {
  const TensorDict d = io::load_npz(path);
  for (const char* key : {"means", "covars", "weights"})
    HMR_CHECK(d.contains(key), IOError, "load_gmm: '", path, "' has no '", key, "' array (found: ", d.keys(),
              ")");
  return as_f64(d.at("means"), d.at("covars"), d.at("weights"));
}

}  // namespace

void check_gmm(const Gmm& gmm, const std::string& where) {
  HMR_CHECK(gmm.means.defined() && gmm.covars.defined() && gmm.weights.defined(), ValueError, where,
            ": the mixture needs means, covars and weights");
  HMR_CHECK(gmm.means.dim() == 2 && gmm.means.size(0) >= 1 && gmm.means.size(1) >= 1, ValueError, where,
            ": expected means [K, D], found ", gmm.means.sizes());
  const int64_t k = gmm.means.size(0), d = gmm.means.size(1);
  HMR_CHECK(
      gmm.covars.dim() == 3 && gmm.covars.size(0) == k && gmm.covars.size(1) == d && gmm.covars.size(2) == d,
      ValueError, where, ": expected covars [", k, ", ", d, ", ", d, "] for means ", gmm.means.sizes(),
      ", found ", gmm.covars.sizes());
  HMR_CHECK(gmm.weights.dim() == 1 && gmm.weights.size(0) == k, ValueError, where, ": expected weights [", k,
            "] for means ", gmm.means.sizes(), ", found ", gmm.weights.sizes());
}

Gmm load_gmm(const std::string& path) {
  Gmm gmm = is_zip(path) ? load_gmm_npz(path) : load_gmm_pickle(path);
  check_gmm(gmm, "load_gmm('" + path + "')");
  return gmm;
}

void save_gmm_npz(const std::string& path, const Gmm& gmm) {
  check_gmm(gmm, "save_gmm_npz");
  TensorDict d;
  d.set("means", gmm.means.contiguous());
  d.set("covars", gmm.covars.contiguous());
  d.set("weights", gmm.weights.contiguous());
  io::save_npz(path, d);
}

// ---- the prior ----------------------------------------------------------------------------------

GmmPrior::GmmPrior(const Gmm& gmm, DType dtype, Device device)
    : gmm_(as_f64(gmm.means, gmm.covars, gmm.weights)) {
  check_gmm(gmm_, "GmmPrior");
  const int64_t k = gmm_.components(), d = gmm_.dim();
  const std::vector<Factor> factors = factorize(gmm_, "GmmPrior");
  double min_log_det = std::numeric_limits<double>::infinity();
  for (const Factor& f : factors) min_log_det = std::min(min_log_det, f.log_det);
  // P = L^-T L^-1, and log c_m = log w_m - D/2 log 2 pi - 1/2 (log|Sigma_m| - min log|Sigma_k|).
  std::vector<double> precisions(static_cast<size_t>(k * d * d)), log_c(static_cast<size_t>(k));
  const double* w = gmm_.weights.data<double>();
  for (int64_t m = 0; m < k; ++m) {
    const std::vector<double>& li = factors[static_cast<size_t>(m)].l_inv;
    double* p = precisions.data() + m * d * d;
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j) {
        double s = 0;
        for (int64_t r = std::max(i, j); r < d; ++r) s += li[r * d + i] * li[r * d + j];
        p[i * d + j] = s;
      }
    HMR_CHECK(w[m] > 0, ValueError, "GmmPrior: weight ", m, " is ", w[m], ", expected > 0");
    log_c[static_cast<size_t>(m)] = std::log(w[m]) - 0.5 * static_cast<double>(d) * kLog2Pi -
                                    0.5 * (factors[static_cast<size_t>(m)].log_det - min_log_det);
  }
  means_ = gmm_.means.to(device, dtype);
  precisions_ = Tensor::from_vector(precisions, {k, d, d}).to(device, dtype);
  log_c_ = Tensor::from_vector(log_c, {k}).to(device, dtype);
}

GmmPrior GmmPrior::to(Device device, DType dtype) const { return GmmPrior(gmm_, dtype, device); }

Tensor GmmPrior::energy(const Tensor& pose) const {
  HMR_CHECK(pose.defined() && pose.dim() == 2 && pose.size(1) == dim(), ShapeError,
            "GmmPrior::energy: expected pose [B, ", dim(), "], found ",
            pose.defined() ? pose.shape_str() : std::string("an undefined tensor"));
  HMR_CHECK(pose.dtype() == means_.dtype() && pose.device() == means_.device(), DTypeError,
            "GmmPrior::energy: the prior is ", means_.dtype(), " on ", means_.device(), ", the pose ",
            pose.dtype(), " on ", pose.device(), " (use GmmPrior::to)");
  const Tensor diff = pose.unsqueeze(1) - means_;                           // (B, K, D)
  const Tensor p_diff = matmul(diff.unsqueeze(2), precisions_).squeeze(2);  // (B, K, D): P symmetric
  const Tensor quadratic = sum(p_diff * diff, {2});                         // (B, K)
  return amin(quadratic * 0.5 - log_c_, {1});                               // (B,)
}

// ---- EM ---------------------------------------------------------------------------------------------

namespace {

// k-means++ seeding, then Lloyd steps: well-spread starting means make EM's result depend
// little on the seed and avoid two components starting inside one cluster.
std::vector<double> kmeans_init(const double* x, int64_t n, int64_t d, int64_t k, std::mt19937_64& rng) {
  auto dist2 = [&](const double* a, const double* b) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
    return s;
  };
  std::vector<double> means(static_cast<size_t>(k * d));
  std::vector<double> nearest(static_cast<size_t>(n), std::numeric_limits<double>::infinity());
  std::uniform_int_distribution<int64_t> pick(0, n - 1);
  int64_t chosen = pick(rng);
  for (int64_t m = 0; m < k; ++m) {
    std::copy(x + chosen * d, x + (chosen + 1) * d, means.begin() + m * d);
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      nearest[static_cast<size_t>(i)] =
          std::min(nearest[static_cast<size_t>(i)], dist2(x + i * d, means.data() + m * d));
      total += nearest[static_cast<size_t>(i)];
    }
    if (total <= 0) continue;  // all samples coincide with a mean: keep duplicating
    double u = std::uniform_real_distribution<double>(0, total)(rng);
    chosen = n - 1;
    for (int64_t i = 0; i < n; ++i) {
      u -= nearest[static_cast<size_t>(i)];
      if (u < 0) {
        chosen = i;
        break;
      }
    }
  }
  std::vector<double> sums(static_cast<size_t>(k * d));
  std::vector<int64_t> counts(static_cast<size_t>(k));
  for (int step = 0; step < 10; ++step) {
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0);
    for (int64_t i = 0; i < n; ++i) {
      int64_t best = 0;
      double best_d = std::numeric_limits<double>::infinity();
      for (int64_t m = 0; m < k; ++m) {
        const double dd = dist2(x + i * d, means.data() + m * d);
        if (dd < best_d) best_d = dd, best = m;
      }
      ++counts[static_cast<size_t>(best)];
      for (int64_t j = 0; j < d; ++j) sums[static_cast<size_t>(best * d + j)] += x[i * d + j];
    }
    for (int64_t m = 0; m < k; ++m)
      if (counts[static_cast<size_t>(m)] > 0)
        for (int64_t j = 0; j < d; ++j)
          means[static_cast<size_t>(m * d + j)] =
              sums[static_cast<size_t>(m * d + j)] / static_cast<double>(counts[static_cast<size_t>(m)]);
  }
  return means;
}

}  // namespace

GmmEmResult fit_gmm_em(const Tensor& samples, int64_t components, int64_t iters, uint64_t seed, double ridge,
                       const std::function<void(int64_t, double)>& on_iteration) {
  HMR_CHECK(samples.defined() && samples.dim() == 2, ShapeError,
            "fit_gmm_em: expected samples [N, D], found ",
            samples.defined() ? samples.shape_str() : std::string("an undefined tensor"));
  const int64_t n = samples.size(0), d = samples.size(1), k = components;
  HMR_CHECK(k >= 1 && n >= k, ValueError, "fit_gmm_em: need 1 <= components <= N, found components ", k,
            " for samples ", samples.sizes());
  HMR_CHECK(iters >= 0 && ridge >= 0, ValueError, "fit_gmm_em: expected iters >= 0 and ridge >= 0, found ",
            iters, " and ", ridge);
  const Tensor x = samples.to(Device::cpu(), DType::F64).contiguous().detach();
  std::mt19937_64 rng(seed);

  // Start: k-means centres, the pooled covariance for every component, equal weights.
  Gmm gmm;
  gmm.means = Tensor::from_vector(kmeans_init(x.data<double>(), n, d, k, rng), {k, d});
  const Tensor centred = x - mean(x, {0}, true);
  const Tensor pooled =
      matmul(centred.t(), centred) / static_cast<double>(n) + eye(d, std::nullopt, DType::F64) * ridge;
  gmm.covars = pooled.unsqueeze(0).expand({k, d, d}).contiguous();
  gmm.weights = full({k}, 1.0 / static_cast<double>(k), DType::F64);

  GmmEmResult result;
  const Tensor ridge_eye = eye(d, std::nullopt, DType::F64) * ridge;
  for (int64_t it = 0; it < iters; ++it) {
    // E-step: log w_m + log N(x | mu_m, Sigma_m) for every sample and component, then the
    // responsibilities by a log-sum-exp over components.
    const std::vector<Factor> factors = factorize(gmm, "fit_gmm_em");
    std::vector<Tensor> log_p;
    for (int64_t m = 0; m < k; ++m) {
      const Factor& f = factors[static_cast<size_t>(m)];
      const Tensor l_inv = Tensor::from_vector(f.l_inv, {d, d});
      const Tensor whitened = matmul(x - gmm.means.select(0, m), l_inv.t());  // (N, D)
      const double constant =
          std::log(gmm.weights.data<double>()[m]) - 0.5 * (static_cast<double>(d) * kLog2Pi + f.log_det);
      log_p.push_back(sum(square(whitened), {1}) * -0.5 + constant);
    }
    const Tensor log_joint = stack(log_p, 1);                 // (N, K)
    const Tensor log_norm = logsumexp(log_joint, {1}, true);  // (N, 1)
    result.mean_log_likelihood.push_back(mean(log_norm).item());
    if (on_iteration) on_iteration(it, result.mean_log_likelihood.back());
    const Tensor resp = exp(log_joint - log_norm).contiguous();  // (N, K)

    // M-step: weighted means and covariances; a component that lost all its samples keeps its
    // previous parameters (its weight goes to ~0 instead of dividing by zero).
    const Tensor counts = sum(resp, {0}).contiguous();  // (K,)
    std::vector<Tensor> means, covars;
    for (int64_t m = 0; m < k; ++m) {
      const double nk = counts.data<double>()[m];
      if (nk < 1e-10 * static_cast<double>(n)) {
        means.push_back(gmm.means.select(0, m));
        covars.push_back(gmm.covars.select(0, m));
        continue;
      }
      const Tensor r = resp.select(1, m).unsqueeze(1);  // (N, 1)
      const Tensor mu = sum(x * r, {0}) / nk;
      const Tensor c = x - mu;
      covars.push_back(matmul((c * r).t(), c) / nk + ridge_eye);
      means.push_back(mu);
    }
    gmm.means = stack(means, 0).contiguous();
    gmm.covars = stack(covars, 0).contiguous();
    // Symmetrise: the two halves of a GEMM's result may differ in the last bit.
    gmm.covars = ((gmm.covars + gmm.covars.transpose(1, 2)) * 0.5).contiguous();
    // A floor keeps log w finite for a component that lost its samples.
    gmm.weights = clamp(counts / static_cast<double>(n), 1e-12, std::nullopt).contiguous();
  }
  result.gmm = gmm;
  return result;
}

}  // namespace hmr::fitting
