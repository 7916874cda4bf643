// The native checkpoint: a run interrupted by save/load continues bit-identically (model,
// Adam state, LR schedule, loss scaler, dropout's random stream, step), and bad files are
// refused with the reason.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "autograd/ops.h"
#include "hmr/train/checkpoint.h"
#include "io/safetensors.h"
#include "nn/layers.h"
#include "nn/loss.h"

using namespace hmr;
namespace fs = std::filesystem;

namespace {

struct TrainRun {
  std::shared_ptr<nn::Sequential> model = std::make_shared<nn::Sequential>();
  std::unique_ptr<optim::Adam> opt;
  std::unique_ptr<optim::StepLR> sched;
  optim::GradScaler scaler{{.init_scale = 256.0, .growth_interval = 2}};
  int64_t step = 0;

  explicit TrainRun(uint64_t seed) {
    manual_seed(seed);
    model->push_back(std::make_shared<nn::Linear>(3, 8));
    model->push_back(std::make_shared<nn::Tanh>());
    model->push_back(std::make_shared<nn::Dropout>(0.3));
    model->push_back(std::make_shared<nn::Linear>(8, 1));
    opt = std::make_unique<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 0.05});
    sched = std::make_unique<optim::StepLR>(*opt, 2, 0.5);
  }
  void train(int steps) {
    for (int i = 0; i < steps; ++i, ++step) {
      Tensor x = linspace(-1, 1, 12).reshape({4, 3});
      Tensor y = sin(x.sum({1}, true) * 2.0);
      opt->zero_grad();
      scaler.scale(nn::mse_loss(model->forward(x), y)).backward();
      scaler.step(*opt);
      scaler.update();
      sched->step();
    }
  }
  train::TrainingState state() { return {model.get(), opt.get(), sched.get(), &scaler, nullptr, step, {}}; }
};

fs::path scratch(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("hmr_ckpt_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d / name;
}

}  // namespace

TEST(Checkpoint, ResumeIsBitIdenticalToAnUninterruptedRun) {
  TrainRun straight(7);
  straight.train(6);
  const uint64_t straight_offset = default_generator().offset();

  TrainRun first(7);
  first.train(3);
  std::string path = scratch("run.safetensors").string();
  train::TrainingState saved = first.state();
  saved.metadata["config"] = "lr=0.05";
  train::save_checkpoint(path, saved);

  TrainRun resumed(99);  // other initial weights and random position: all must come from the file
  manual_seed(12345);
  train::TrainingState st = resumed.state();
  train::load_checkpoint(path, st);
  resumed.step = st.step;
  EXPECT_EQ(st.step, 3);
  EXPECT_EQ(st.metadata.at("config"), "lr=0.05");
  resumed.train(3);

  auto a = straight.model->state_dict(), b = resumed.model->state_dict();
  for (const auto& [name, t] : a) EXPECT_EQ(t.to_vector<float>(), b.at(name).to_vector<float>()) << name;
  EXPECT_EQ(straight.sched->get_last_lr(), resumed.sched->get_last_lr());
  EXPECT_EQ(straight.scaler.get_scale(), resumed.scaler.get_scale());
  // Dropout drew the same numbers: the generator ends where the uninterrupted run's did.
  EXPECT_EQ(default_generator().offset(), straight_offset);
  EXPECT_EQ(default_generator().seed(), 7u);
}

TEST(Checkpoint, RefusesForeignFilesAndMismatchedModels) {
  std::string foreign = scratch("foreign.safetensors").string();
  TensorDict d;
  d.set("w", zeros({2}));
  io::save_safetensors(foreign, d);
  TrainRun r(1);
  train::TrainingState st = r.state();
  EXPECT_THROW(train::load_checkpoint(foreign, st), ValueError);

  std::string path = scratch("small.safetensors").string();
  train::save_checkpoint(path, r.state());
  nn::Linear other(5, 5);
  train::TrainingState wrong;
  wrong.model = &other;
  try {
    train::load_checkpoint(path, wrong);
    FAIL() << "expected a mismatch error";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("missing keys"), std::string::npos) << e.what();
  }
  EXPECT_THROW(train::load_checkpoint(scratch("absent.safetensors").string(), st), Error);
}
