// torchvision ResNets end to end, in ms per iteration: eval forward under no-grad (batch 1 and
// 8 on the CPU; 1 and 64 on CUDA) and a training step (forward, mean of squared logits,
// backward, SGD step). Twin: bench/torch/resnet.py. --precision=f32|tf32|bf16 (CUDA).
#include <memory>
#include <string>

#include "autograd/grad_mode.h"
#include "bench/common.h"
#include "kernels/linalg.h"
#include "nn/optim/optimizer.h"
#include "nn/resnet.h"

namespace hmr::bench {
namespace {

std::string& precision() {
  static std::string p = "f32";
  return p;
}

DType compute_dtype() { return precision() == "bf16" ? DType::BF16 : DType::F32; }

std::shared_ptr<nn::ResNet> make_model(int depth, bool train) {
  auto model = std::make_shared<nn::ResNet>(depth);
  model->to(bench_device(), compute_dtype());
  model->train(train);
  return model;
}

// One model call per iteration (these take 1-1000 ms, so no batching is needed on CUDA).
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
    state.SkipWithError(e.what());  // e.g. a dtype the backend does not support yet
  }
}

void infer_case(benchmark::State& state, int depth, int64_t n) {
  auto model = make_model(depth, false);
  Tensor x = randn({n, 3, 224, 224}, bench_device()).to(compute_dtype());
  NoGradGuard no_grad;
  model_loop(state, [&] { benchmark::DoNotOptimize((*model)(x)); });
}

void train_case(benchmark::State& state, int depth, int64_t n) {
  auto model = make_model(depth, true);
  Tensor x = randn({n, 3, 224, 224}, bench_device()).to(compute_dtype());
  optim::SGDOptions o;
  o.lr = 1e-3;
  optim::SGD sgd(model->parameters(), o);
  model_loop(state, [&] {
    sgd.zero_grad();
    Tensor logits = (*model)(x);
    Tensor loss = (logits * logits).mean();
    loss.backward();
    sgd.step();
  });
}

void add(const std::string& name, void (*fn)(benchmark::State&, int, int64_t), int depth, int64_t n) {
  benchmark::RegisterBenchmark(name.c_str(), fn, depth, n)->UseRealTime()->Unit(benchmark::kMillisecond);
}

void register_cases() {
  const bool cuda = bench_device().is_cuda();
  if (precision() == "tf32") kernels::set_allow_tf32(true);
  const std::string p = "/" + precision() + "/";
  const int64_t big = cuda ? 64 : 8;
  for (int depth : {18, 50})
    for (int64_t n : {int64_t{1}, big})
      add("resnet" + std::to_string(depth) + "_infer" + p + "b" + std::to_string(n), infer_case, depth, n);
  add("resnet18_train" + p + "b8", train_case, 18, 8);
  if (cuda) add("resnet50_train" + p + "b" + std::to_string(big), train_case, 50, big);
}

}  // namespace
}  // namespace hmr::bench

// HMR_BENCH_MAIN plus --precision=..., stripped before Google Benchmark sees argv.
int main(int argc, char** argv) {
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--precision=", 12) == 0)
      hmr::bench::precision() = argv[i] + 12;
    else
      argv[out++] = argv[i];
  }
  argc = out;
  const std::string& p = hmr::bench::precision();
  if (p != "f32" && p != "tf32" && p != "bf16") {
    std::fprintf(stderr, "%s: --precision must be f32, tf32 or bf16, not %s\n", argv[0], p.c_str());
    return 1;
  }
  try {
    ::hmr::bench::init(&argc, argv);
    hmr::bench::register_cases();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
  ::benchmark::Initialize(&argc, argv);
  if (::benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  ::benchmark::RunSpecifiedBenchmarks();
  ::benchmark::Shutdown();
  return 0;
}
