// SMPLify's cost per Adam step (SPIN runs 200 per batch: 100 camera + 100 body) on the
// generated body at SMPL's size (6890 vertices) with a random 8-component prior over the 69-D
// body pose, batch 1 and 64. One timed iteration is 5 camera + 5 body steps (divide by 10 for
// a step, multiply by 20 for SPIN's whole fit). Twin: bench/torch/smplify.py (plain PyTorch).
#include "hmr/fitting/smplify.h"

#include <string>

#include "bench/common.h"
#include "hmr/body/body_model.h"
#include "hmr/body/generate.h"

namespace hmr::bench {
namespace {

constexpr int64_t kStepsPerRun = 10;

fitting::Gmm random_gmm() {
  Generator gen(2);
  const Tensor a = randn({8, 69, 69}, DType::F64, &gen) * (0.2 / 8.3);
  return fitting::Gmm{randn({8, 69}, DType::F64, &gen) * 0.2,
                      matmul(a, a.transpose(1, 2)) + eye(69, std::nullopt, DType::F64) * 0.01,
                      full({8}, 1.0 / 8, DType::F64)};
}

void smplify_steps(benchmark::State& state, int64_t batch) {
  body::BodyModel model(body::default_body_model(body::BodySize::Full));
  model.to(bench_device());
  const TensorOptions opts(DType::F32, bench_device());
  fitting::SmplifyOptions o;
  o.camera_iters = o.body_iters = kStepsPerRun / 2;
  const fitting::Smplify smplify(model, fitting::GmmPrior(random_gmm(), DType::F32, bench_device()), o);
  Generator gen(3);
  Tensor pose = randn({batch, 72}, opts, &gen) * 0.2;
  pose = cat({pose.slice(1, 0, 3) + tensor({3.14159, 0.0, 0.0}, opts), pose.slice(1, 3, 72)}, 1);
  const Tensor betas = zeros({batch, 10}, opts);
  const Tensor cam_t = tensor({0.0, 0.2, 50.0}, opts).unsqueeze(0).expand({batch, 3}).contiguous();
  const Tensor keypoints =
      cat({rand({batch, 49, 2}, opts, &gen) * 224.0, rand({batch, 49, 1}, opts, &gen)}, 2);
  smplify.run(pose, betas, cam_t, keypoints);  // warm-up
  sync();
  for (auto _ : state) {
    smplify.run(pose, betas, cam_t, keypoints);
    sync();
  }
}

void register_cases() {
  for (int64_t b : {int64_t{1}, int64_t{64}})
    benchmark::RegisterBenchmark(("smplify_10steps/b" + std::to_string(b)).c_str(), smplify_steps, b)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace hmr::bench

HMR_BENCH_MAIN(hmr::bench::register_cases)
