// The HMR/SPIN trainer end to end on a tiny synthetic dataset (small body, ResNet-18, 32-px
// crops): finite losses, exact resume (the loss sequence after resuming equals the
// uninterrupted run's), a non-finite term stops the run naming it, SPIN's in-loop fits fill the
// dictionary, evaluation agrees with an independent mean-pose computation, and the commands
// (train, eval, demo) write what they promise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "hmr/cli.h"
#include "hmr/train/plot.h"
#include "hmr/train/trainer.h"
#include "io/image.h"
#include "support.h"

namespace fs = std::filesystem;
using namespace hmr;

namespace {

int run_hmr(const std::vector<std::string>& args, std::string* out = nullptr, std::string* err = nullptr) {
  std::ostringstream o, e;
  cli::Streams streams{o, e, false};
  const int code = cli::run(args, streams);
  if (out) *out = o.str();
  if (err) *err = e.str();
  return code;
}

// A tiny synthetic train/val pair, made once per test program.
const fs::path& data_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("hmr_train_data_" + std::to_string(::getpid()));
    fs::remove_all(d);
    for (const char* split : {"train", "val"}) {
      std::string err;
      const int code = run_hmr({"data", "synth", "--out", d.string(), "--count", "16", "--split", split,
                                "--res", "64", "--model", "generated:small"},
                               nullptr, &err);
      if (code != 0) throw std::runtime_error("synth failed: " + err);
    }
    return d;
  }();
  return dir;
}

train::TrainConfig tiny_config() {
  train::TrainConfig c;
  c.method = "hmr";
  c.body_model = "generated:small";
  c.backbone = 18;
  c.img_res = 32;
  c.batch_size = 4;
  c.steps = 6;
  c.lr = 1e-3;
  c.num_workers = 2;
  c.checkpoint_every = 3;
  c.eval_every = 100;
  c.device = "cpu";
  c.datasets = {{"synth", (data_dir() / "synth_train.npz").string(), "", 1.0}};
  c.eval_dataset = {"val", (data_dir() / "synth_val.npz").string(), "", 1.0};
  c.smplify.camera_iters = 3;
  c.smplify.body_iters = 3;
  return c;
}

fs::path run_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("hmr_train_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

TEST(Trainer, ResumeReproducesTheUninterruptedLossSequence) {
  std::ostringstream log;
  std::vector<double> straight;
  {
    train::Trainer t(tiny_config(), run_dir("straight").string(), log);
    for (int i = 0; i < 6; ++i) {
      train::StepReport r = t.step();
      ASSERT_TRUE(std::isfinite(r.loss));
      EXPECT_GT(r.loss, 0.0);
      straight.push_back(r.loss);
    }
  }
  const fs::path dir = run_dir("resumed");
  std::vector<double> resumed;
  {
    train::Trainer t(tiny_config(), dir.string(), log);
    for (int i = 0; i < 3; ++i) resumed.push_back(t.step().loss);
    t.save_checkpoint(t.latest_checkpoint_path());
    t.step();  // progress after the checkpoint is lost with the process
  }
  {
    train::Trainer t(tiny_config(), dir.string(), log);
    t.resume((dir / "checkpoint.safetensors").string());
    EXPECT_EQ(t.steps_done(), 3);
    for (int i = 0; i < 3; ++i) resumed.push_back(t.step().loss);
  }
  ASSERT_EQ(resumed.size(), straight.size());
  for (size_t i = 0; i < straight.size(); ++i) EXPECT_EQ(resumed[i], straight[i]) << "step " << i + 1;
}

TEST(Trainer, NonFiniteLossStopsNamingStepAndTerm) {
  train::TrainConfig c = tiny_config();
  std::ostringstream log;
  train::Trainer t(c, run_dir("nan").string(), log);
  {
    // A NaN camera weight: the projected keypoints, hence the first term checked, go NaN.
    NoGradGuard no_grad;
    t.model().deccam->weight.fill_(NAN);
  }
  const std::string msg = hmr::testing::error_message([&] { t.step(); });
  EXPECT_NE(msg.find("step 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("keypoint_2d"), std::string::npos) << msg;
  EXPECT_EQ(t.steps_done(), 0);
  // Non-finite weights are refused before any work.
  c.loss.keypoint_3d = NAN;
  const std::string cfg_msg = hmr::testing::error_message([&] { c.validate(); });
  EXPECT_NE(cfg_msg.find("loss.keypoint_3d"), std::string::npos) << cfg_msg;
}

TEST(Trainer, SpinFitsInTheLoopFillTheDictionary) {
  train::TrainConfig c = tiny_config();
  c.method = "spin";
  c.ignore_3d = true;  // 2D-only: every target comes from the fits
  std::ostringstream log;
  const fs::path dir = run_dir("spin");
  train::Trainer t(c, dir.string(), log);
  train::StepReport r = t.step();
  EXPECT_EQ(r.fits_updated, 1.0);  // no stored fit yet: every new fit replaces
  EXPECT_TRUE(std::isfinite(r.loss));
  EXPECT_EQ(r.keypoint_3d, 0.0);
  t.save_checkpoint(t.latest_checkpoint_path());
  EXPECT_TRUE(fs::exists(dir / "fits" / "synth_fits.npy"));
}

TEST(Trainer, EvaluationOfAModelWithZeroDecodersEqualsTheMeanPoseBaseline) {
  std::ostringstream log;
  train::Trainer t(tiny_config(), run_dir("eval").string(), log);
  {
    NoGradGuard no_grad;
    auto& m = t.model();
    for (auto* lin : {m.decpose.get(), m.decshape.get(), m.deccam.get()})
      for (auto& [name, p] : lin->named_parameters()) p.zero_();
  }
  train::EvalResult e = t.evaluate_now();
  EXPECT_EQ(e.samples, 16);
  EXPECT_GT(e.pa_mpjpe, 1.0);  // mm: the mean pose is not every pose
  EXPECT_NEAR(e.pa_mpjpe, e.baseline_pa_mpjpe, 1e-3);
  EXPECT_NEAR(e.mpjpe, e.baseline_mpjpe, 1e-3);
  EXPECT_GE(e.mpjpe, e.pa_mpjpe - 1e-6);  // alignment can only lower the error
}

TEST(Plot, DrawsBothPanelsOfARun) {
  const fs::path dir = run_dir("plot");
  fs::create_directories(dir);
  std::ofstream(dir / "log.csv") << "step,loss\n1,10\n2,5\n3,2.5\n4,3\n";
  std::ofstream(dir / "eval.csv") << "step,pa_mpjpe_mm,mean_pose_pa_mpjpe_mm\n2,120,150\n4,90,150\n";
  train::plot_training_log(dir.string(), (dir / "loss.png").string());
  Tensor im = io::read_image((dir / "loss.png").string());
  EXPECT_EQ(im.size(0), 360);
  EXPECT_EQ(im.size(1), 2 * 560);
  // Something other than white was drawn in each panel.
  Tensor dark = lt(im.to(DType::F32), 128.0).to(DType::F32);
  EXPECT_GT(sum(narrow(dark, 1, 0, 560)).item(), 100.0);
  EXPECT_GT(sum(narrow(dark, 1, 560, 560)).item(), 100.0);
  std::string msg =
      hmr::testing::error_message([&] { train::plot_training_log((dir / "nope").string(), "x.png"); });
  EXPECT_NE(msg.find("log.csv"), std::string::npos) << msg;
}

TEST(TrainCli, TrainEvalAndDemoWriteTheirOutputs) {
  const fs::path dir = run_dir("cli");
  const fs::path cfg = dir.parent_path() / ("hmr_train_cfg_" + std::to_string(::getpid()) + ".json");
  std::ofstream(cfg)
      << "{\"body_model\": \"generated:small\", \"backbone\": 18, \"img_res\": 32, \"batch_size\": 4,"
         " \"steps\": 2, \"device\": \"cpu\", \"eval_every\": 2, \"datasets\": [{\"npz\": \""
      << (data_dir() / "synth_train.npz").string() << "\"}], \"eval_dataset\": {\"npz\": \""
      << (data_dir() / "synth_val.npz").string() << "\"}}";
  std::string out, err;
  ASSERT_EQ(run_hmr({"train", "hmr", "--config", cfg.string(), "--out", dir.string(), "lr=2e-4"}, &out, &err),
            0)
      << err;
  for (const char* f : {"config.json", "log.csv", "eval.csv", "checkpoint.safetensors", "loss.png"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  EXPECT_NE(out.find("held-out PA-MPJPE"), std::string::npos) << out;

  const std::string ckpt = (dir / "checkpoint.safetensors").string();
  ASSERT_EQ(run_hmr({"eval", "--checkpoint", ckpt, "--dataset", (data_dir() / "synth_val.npz").string()},
                    &out, &err),
            0)
      << err;
  EXPECT_NE(out.find("PA-MPJPE"), std::string::npos) << out;
  EXPECT_NE(out.find("samples 16"), std::string::npos) << out;

  const fs::path demo = dir / "demo";
  ASSERT_EQ(run_hmr({"demo", "--checkpoint", ckpt, "--out", demo.string()}, &out, &err), 0) << err;
  for (const char* f : {"mesh.obj", "overlay.png", "crop.png"}) EXPECT_TRUE(fs::exists(demo / f)) << f;
  EXPECT_NE(out.find("PA-MPJPE against this image's ground truth"), std::string::npos) << out;

  // Usage errors: a missing method, a bad override, a missing config.
  EXPECT_EQ(run_hmr({"train", "--config", cfg.string()}, &out, &err), 2);
  EXPECT_NE(run_hmr({"train", "hmr", "--config", cfg.string(), "--out", dir.string(), "lrr=1"}, &out, &err),
            0);
  EXPECT_NE(err.find("lrr"), std::string::npos) << err;
  EXPECT_NE(run_hmr({"demo", "--checkpoint", (dir / "missing.safetensors").string()}, &out, &err), 0);
  EXPECT_NE(err.find("missing.safetensors"), std::string::npos) << err;
  fs::remove(cfg);
}

}  // namespace
