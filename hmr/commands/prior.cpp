// `hmr prior fit-gmm`: a GMM pose prior in SMPLify's form (full-covariance Gaussians over the
// 69-D body pose) fitted by EM to poses from the synthetic pose sampler, for when SMPLify's
// licensed gmm_08.pkl is not at hand. Writes our .npz (means, covars, weights).
#include <chrono>
#include <iomanip>

#include "autograd/ops.h"
#include "hmr/commands/commands.h"
#include "hmr/data/pose_sampler.h"
#include "hmr/fitting/gmm_prior.h"

namespace hmr::cli {
namespace {

// n body poses (the 69 values after the global orientation), families drawn as the synthetic
// dataset draws them.
Tensor sample_body_poses(int64_t n, uint64_t seed) {
  data::PoseSampler sampler(seed);
  std::vector<double> poses;
  poses.reserve(static_cast<size_t>(n * 69));
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<double> p = sampler.sample_pose(sampler.sample_family());
    poses.insert(poses.end(), p.begin() + 3, p.end());
  }
  return Tensor::from_vector(poses, {n, 69});
}

int fit_gmm(const Args& args, Streams& io) {
  const std::string out = args.get("out");
  const int64_t n = args.get_int("samples"), k = args.get_int("components"), iters = args.get_int("iters");
  const int64_t seed = args.get_int("seed");
  HMR_CHECK(!out.empty(), cli::UsageError, "hmr prior fit-gmm: --out F.npz must not be empty");
  HMR_CHECK(k >= 1 && n >= k, cli::UsageError,
            "hmr prior fit-gmm: expected 1 <= --components <= --samples, found ", k, " components and ", n,
            " samples");
  HMR_CHECK(iters >= 1 && seed >= 0, cli::UsageError,
            "hmr prior fit-gmm: expected --iters >= 1 and --seed >= 0");
  const auto start = std::chrono::steady_clock::now();
  io.err << "sampling " << n << " body poses (seed " << seed << ")\n";
  const Tensor poses = sample_body_poses(n, static_cast<uint64_t>(seed));
  io.err << "EM: " << k << " full-covariance components over 69 dimensions, " << iters << " iterations\n";
  ProgressBar bar(iters, "iter", io.err, io.err_is_terminal);
  const fitting::GmmEmResult fit = fitting::fit_gmm_em(poses, k, iters, static_cast<uint64_t>(seed), 1e-4,
                                                       [&](int64_t it, double) { bar.update(it + 1); });
  bar.finish();
  fitting::save_gmm_npz(out, fit.gmm);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  io.out << "wrote " << out << ": " << k << " components, mean log-likelihood " << std::fixed
         << std::setprecision(2) << fit.mean_log_likelihood.back() << " (first iteration "
         << fit.mean_log_likelihood.front() << "), in " << std::setprecision(1) << secs << " s\n";
  return kExitOk;
}

}  // namespace

Command prior_command() {
  Command c;
  c.name = "prior";
  c.summary = "fit a GMM pose prior for SMPLify (fit-gmm)";
  c.description =
      "hmr prior fit-gmm [--out gmm.npz] [--samples N] [--components K] [--iters I] [--seed S]\n"
      "    fits K full-covariance Gaussians (SMPLify's prior form) by EM to N body poses (69-D\n"
      "    axis-angle, no global orientation) from the synthetic pose sampler; `hmr fit --gmm`\n"
      "    reads the result, as it reads SMPLify's gmm_08.pkl.";
  c.options = {
      {"out", "F", "output .npz (means, covars, weights)", "gmm.npz"},
      {"samples", "N", "number of sampled poses", "20000"},
      {"components", "K", "number of Gaussians", "8"},
      {"iters", "I", "EM iterations", "50"},
      {"seed", "S", "pose sampler and initialisation seed", "0"},
  };
  c.takes_positional = true;
  c.run = [](const Args& args, Streams& io) {
    const auto& pos = args.positional();
    HMR_CHECK(pos.size() == 1 && pos[0] == "fit-gmm", cli::UsageError,
              "hmr prior: expected the action fit-gmm, found ", pos.empty() ? std::string("none") : pos[0]);
    return fit_gmm(args, io);
  };
  return c;
}

}  // namespace hmr::cli
