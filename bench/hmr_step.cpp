// The SPIN regressor (hmr/models/hmr_regressor.h: ResNet-50 + 3 IEF rounds) end to end, in ms
// per iteration: eval forward under no-grad, and a training step (forward, a loss on every
// output, backward, Adam step at SPIN's lr 5e-5). 224 px crops, batch 1 and 8 on the CPU,
// 1 and 64 on CUDA (SPIN trains with 64). Twin: bench/torch/hmr_step.py.
#include <memory>
#include <string>

#include "autograd/grad_mode.h"
#include "bench/common.h"
#include "hmr/models/hmr_regressor.h"
#include "nn/optim/optimizer.h"

namespace hmr::bench {
namespace {

std::shared_ptr<models::HMRRegressor> make_model(bool train) {
  std::vector<double> eye6;
  for (int j = 0; j < 24; ++j) eye6.insert(eye6.end(), {1.0, 0.0, 0.0, 1.0, 0.0, 0.0});
  auto model = std::make_shared<models::HMRRegressor>(models::HMRRegressorOptions{}, tensor(eye6, {144}),
                                                      zeros({10}), tensor({0.9, 0.0, 0.1}, {3}));
  model->to(bench_device());
  model->train(train);
  return model;
}

template <class Op>
void model_loop(benchmark::State& state, Op op) {
  try {
    op();  // warm-up: first-touch page faults, allocator caches, library handles
    sync();
    for (auto _ : state) {
      op();
      sync();
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

void infer_case(benchmark::State& state, int64_t n) {
  auto model = make_model(false);
  Tensor x = randn({n, 3, 224, 224}, bench_device());
  NoGradGuard no_grad;
  model_loop(state, [&] { benchmark::DoNotOptimize(model->forward_full(x).rotmat); });
}

void train_case(benchmark::State& state, int64_t n) {
  auto model = make_model(true);
  Tensor x = randn({n, 3, 224, 224}, bench_device());
  optim::AdamOptions o;
  o.lr = 5e-5;
  optim::Adam adam(model->parameters(), o);
  model_loop(state, [&] {
    adam.zero_grad();
    models::HMROutput out = model->forward_full(x);
    Tensor loss =
        (out.rotmat * out.rotmat).mean() + (out.betas * out.betas).mean() + (out.cam * out.cam).mean();
    loss.backward();
    adam.step();
  });
}

void register_cases() {
  const int64_t big = bench_device().is_cuda() ? 64 : 8;
  for (int64_t n : {int64_t{1}, big})
    benchmark::RegisterBenchmark(("hmr_infer/f32/b" + std::to_string(n)).c_str(), infer_case, n)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark(("hmr_train/f32/b" + std::to_string(big)).c_str(), train_case, big)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace hmr::bench

HMR_BENCH_MAIN(hmr::bench::register_cases)
