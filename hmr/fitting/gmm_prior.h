// The Gaussian-mixture pose prior of SMPLify (8 full-covariance Gaussians over the 69-D body
// pose), evaluated as SMPLify-X's "max-mixture": the energy of the best component only, with
// each component's normaliser folded into a per-component constant. Also the EM fit that makes
// such a prior from sampled poses, and its files (SMPLify's gmm_08.pkl, our .npz).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hmr::fitting {

// A mixture as stored: CPU F64 arrays.
struct Gmm {
  Tensor means;    // (K, D)
  Tensor covars;   // (K, D, D), symmetric positive definite
  Tensor weights;  // (K,), summing to 1
  int64_t components() const { return means.size(0); }
  int64_t dim() const { return means.size(1); }
};

// ValueError naming where and the offending shapes unless the arrays are (K, D), (K, D, D),
// (K,) with K, D >= 1.
void check_gmm(const Gmm& gmm, const std::string& where);

// SMPLify's gmm_NN.pkl (a Python 2 pickle of a dict of numpy arrays 'means', 'covars',
// 'weights') or our .npz with the same three arrays; the kind is sniffed from the bytes.
Gmm load_gmm(const std::string& path);
void save_gmm_npz(const std::string& path, const Gmm& gmm);

// The prior, ready to evaluate in one dtype on one device:
//   E(theta) = min_m [ 1/2 (theta - mu_m)^T P_m (theta - mu_m) - log c_m ]
//   c_m = w_m / ((2 pi)^(D/2) sqrt|Sigma_m| / min_k sqrt|Sigma_k|),  P_m = Sigma_m^-1
// Dividing by the smallest sqrt|Sigma_k| keeps every c_m near w_m / (2 pi)^(D/2) instead of
// the under- or overflowing raw normalisers; it shifts E by a constant only.
class GmmPrior {
 public:
  // ValueError if a covariance is not positive definite (Cholesky fails).
  explicit GmmPrior(const Gmm& gmm, DType dtype = DType::F32, Device device = Device::cpu());

  // pose (B, D) -> (B,), differentiable (through autograd ops, on any device).
  Tensor energy(const Tensor& pose) const;
  // The same prior in another dtype / on another device.
  GmmPrior to(Device device, DType dtype) const;

  int64_t components() const { return gmm_.components(); }
  int64_t dim() const { return gmm_.dim(); }
  const Gmm& gmm() const { return gmm_; }
  const Tensor& means() const { return means_; }            // (K, D)
  const Tensor& precisions() const { return precisions_; }  // (K, D, D)
  const Tensor& log_nll_weights() const { return log_c_; }  // (K,): log c_m above

 private:
  Gmm gmm_;
  // In the prior's dtype and device; computed once in F64 on the host.
  Tensor means_, precisions_, log_c_;
};

struct GmmEmResult {
  Gmm gmm;
  std::vector<double> mean_log_likelihood;  // per EM iteration, before its M-step
};

// Maximum-likelihood mixture of K full-covariance Gaussians by EM: k-means++ seeding and a few
// Lloyd steps, then iters EM iterations; ridge is added to every covariance's diagonal so a
// component that collapses onto a low-dimensional set (joints the samples never move) stays
// invertible. samples (N, D) with N >= K. Deterministic for a seed. on_iteration (optional)
// hears each iteration's index and mean log-likelihood (for progress output).
GmmEmResult fit_gmm_em(const Tensor& samples, int64_t components, int64_t iters, uint64_t seed,
                       double ridge = 1e-4,
                       const std::function<void(int64_t, double)>& on_iteration = nullptr);

}  // namespace hmr::fitting
