// `hmr train spin|hmr --config FILE [key=value ...]`: trains the HMR regressor with SPIN's
// fitting in the loop (spin) or plain regression (hmr). Progress bar with the loss terms and
// throughput, a log line every log_every steps, checkpoints, evaluation, and a loss-curve PNG.
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "hmr/commands/commands.h"
#include "hmr/train/plot.h"
#include "hmr/train/trainer.h"

namespace hmr::cli {
namespace {

namespace fs = std::filesystem;

std::string fixed(double v, int digits) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

int train(const Args& args, Streams& io) {
  const auto& pos = args.positional();
  HMR_CHECK(!pos.empty() && (pos[0] == "spin" || pos[0] == "hmr"), cli::UsageError,
            "hmr train: expected the method 'spin' or 'hmr' first, e.g. hmr train hmr --config "
            "configs/cpu_small.json");
  const std::string config_path = args.get("config");
  HMR_CHECK(!config_path.empty(), cli::UsageError, "hmr train: --config FILE is required (see configs/)");
  train::TrainConfig config = train::load_train_config(config_path);
  config.method = pos[0];
  for (size_t i = 1; i < pos.size(); ++i) {
    HMR_CHECK(pos[i].find('=') != std::string::npos, cli::UsageError, "hmr train: '", pos[i],
              "' is not a key=value override");
    train::apply_override(config, pos[i]);
  }
  if (!args.get("steps").empty()) config.steps = args.get_int("steps");
  std::string out = args.get("out");
  if (out.empty()) out = "runs/" + config.method;

  train::Trainer trainer(config, out, io.err);
  if (args.flag("resume")) {
    const std::string ckpt = trainer.latest_checkpoint_path();
    HMR_CHECK(fs::exists(ckpt), ValueError, "hmr train --resume: no checkpoint at ", ckpt);
    trainer.resume(ckpt);
  }
  io.err << "training " << config.method << " (ResNet-" << config.backbone << ", " << config.img_res
         << " px, batch " << config.batch_size << ") for " << config.steps << " steps on "
         << trainer.device().str() << " -> " << out << "\n";
  ProgressBar bar(config.steps - trainer.steps_done(), "step", io.err, io.err_is_terminal);
  const int64_t first = trainer.steps_done();
  double last_eval_pa = -1;
  trainer.run(
      [&](const train::StepReport& r) {
        bar.update(r.step - first);
        if (r.step % config.log_every == 0 || r.step == config.steps) {
          bar.clear();
          io.err << "step " << r.step << "/" << config.steps << "  loss " << fixed(r.loss, 4) << "  (kp2d "
                 << fixed(r.keypoint_2d, 4) << ", kp3d " << fixed(r.keypoint_3d, 4) << ", pose "
                 << fixed(r.pose, 4) << ", betas " << fixed(r.betas, 5) << ", cam " << fixed(r.camera, 4)
                 << ")";
          if (config.method == "spin") io.err << "  fits valid " << fixed(100 * r.fit_valid, 0) << "%";
          io.err << "  " << fixed(config.batch_size / std::max(r.seconds, 1e-9), 1) << " img/s\n";
        }
      },
      [&](int64_t step, const train::EvalResult& e) {
        bar.clear();
        io.err << "eval at step " << step << ": MPJPE " << fixed(e.mpjpe, 1) << " mm, PA-MPJPE "
               << fixed(e.pa_mpjpe, 1) << " mm on " << e.samples
               << " samples (mean pose: " << fixed(e.baseline_pa_mpjpe, 1) << " mm)\n";
        last_eval_pa = e.pa_mpjpe;
      });
  bar.finish();
  const std::string plot = (fs::path(out) / "loss.png").string();
  train::plot_training_log(out, plot);
  io.out << "trained " << config.steps << " steps in " << format_duration(bar.elapsed_seconds())
         << "; checkpoint " << trainer.latest_checkpoint_path() << ", log "
         << (fs::path(out) / "log.csv").string() << ", curve " << plot << "\n";
  if (last_eval_pa >= 0) io.out << "held-out PA-MPJPE " << fixed(last_eval_pa, 1) << " mm\n";
  return kExitOk;
}

}  // namespace

Command train_command() {
  Command c;
  c.name = "train";
  c.summary = "train HMR / SPIN (train spin|hmr --config FILE)";
  c.description =
      "hmr train spin|hmr --config FILE [--out DIR] [--steps N] [--resume] [key=value ...]\n"
      "    spin: SPIN's training with SMPLify in the loop and the fits dictionary; hmr: plain\n"
      "    regression (ground-truth SMPL and keypoints only). The config (configs/*.json) names\n"
      "    the datasets, backbone, crop size and loss weights; key=value overrides any scalar key\n"
      "    (e.g. lr=1e-4 loss.betas=0.1 smplify.body_iters=50). Writes DIR/config.json,\n"
      "    DIR/log.csv, DIR/eval.csv, DIR/checkpoint.safetensors (atomic, every checkpoint_every\n"
      "    steps) and DIR/loss.png. --resume continues from DIR's checkpoint exactly.";
  c.options = {
      {"config", "FILE", "training config (JSON)", ""},
      {"out", "DIR", "run folder (default runs/<method>)", ""},
      {"steps", "N", "override the config's step count", ""},
      {"resume", "", "continue from DIR/checkpoint.safetensors", ""},
  };
  c.takes_positional = true;
  c.run = train;
  return c;
}

}  // namespace hmr::cli
