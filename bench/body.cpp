// The SMPL body forward + backward (gradients to pose and betas), in ms per iteration, on a
// random model of SMPL's sizes (6890 vertices, 24 joints, 10 betas), batch 64 and 1024. The
// skinning weights touch 4 joints per vertex as SMPL's do ("dense": every joint, as a check on
// the fused kernel's worst case). Twin: bench/torch/body.py (the same math in plain PyTorch).
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "bench/common.h"
#include "hmr/body/body_model.h"

namespace hmr::bench {
namespace {

constexpr int64_t kVertices = 6890, kBetas = 10, kJoints = body::kSmplJoints;

body::BodyModelData random_model(bool dense) {
  Generator gen(0);
  body::BodyModelData d;
  d.v_template = randn({kVertices, 3}, DType::F64, &gen);
  d.shapedirs = randn({kVertices, 3, kBetas}, DType::F64, &gen) * 0.03;
  d.posedirs = randn({kVertices, 3, 9 * (kJoints - 1)}, DType::F64, &gen) * 0.01;
  Tensor reg = rand({kJoints, kVertices}, DType::F64, &gen);
  d.J_regressor = reg / sum(reg, {1}, true);
  Tensor w = rand({kVertices, kJoints}, DType::F64, &gen) + 0.01;
  if (!dense) {
    // Keep each vertex's 4 largest random weights.
    std::vector<double> values = w.to_vector<double>();
    for (int64_t v = 0; v < kVertices; ++v) {
      double* row = values.data() + v * kJoints;
      std::vector<double> sorted(row, row + kJoints);
      std::nth_element(sorted.begin(), sorted.begin() + 3, sorted.end(), std::greater<double>());
      for (int64_t j = 0; j < kJoints; ++j)
        if (row[j] < sorted[3]) row[j] = 0;
    }
    w = tensor(values, {kVertices, kJoints}, DType::F64);
  }
  d.weights = w / sum(w, {1}, true);
  d.parents =
      Tensor::from_vector(std::vector<int64_t>(body::kSmplParents, body::kSmplParents + kJoints), {kJoints});
  return d;
}

void forward_backward(benchmark::State& state, int64_t batch, bool dense) {
  body::BodyModel model(random_model(dense));
  model.to(bench_device());
  Generator gen(1);
  Tensor betas = randn({batch, kBetas}, {DType::F32, bench_device()}, &gen).requires_grad_();
  Tensor pose =
      (randn({batch, kJoints * 3}, {DType::F32, bench_device()}, &gen) * 0.3).detach().requires_grad_();
  auto step = [&] {
    body::BodyOutput out = model.forward(betas, pose);
    Tensor loss = sum(square(out.vertices)) + sum(square(out.joints));
    loss.backward();
    betas.zero_grad();
    pose.zero_grad();
  };
  step();  // warm-up: first-touch page faults, allocator caches
  sync();
  for (auto _ : state) {
    step();
    sync();
  }
}

void register_cases() {
  for (int64_t b : {int64_t{64}, int64_t{1024}})
    benchmark::RegisterBenchmark(("body_fwd_bwd/b" + std::to_string(b)).c_str(), forward_backward, b, false)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("body_fwd_bwd_dense/b64", forward_backward, int64_t{64}, true)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace hmr::bench

HMR_BENCH_MAIN(hmr::bench::register_cases)
