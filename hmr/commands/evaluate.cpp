// `hmr eval --checkpoint C --dataset NPZ`: MPJPE and PA-MPJPE (mm, 14 LSP joints) of a trained
// regressor on a dataset with 3D joints, beside the mean-pose baseline.
#include "hmr/train/evaluate.h"

#include <filesystem>
#include <iomanip>

#include "hmr/body/body_model.h"
#include "hmr/commands/commands.h"
#include "hmr/data/annotations.h"
#include "hmr/data/dataset.h"
#include "hmr/train/model_io.h"
#include "tensor/parallel.h"

namespace hmr::cli {
namespace {

namespace fs = std::filesystem;

int evaluate(const Args& args, Streams& io) {
  const std::string ckpt = args.get("checkpoint"), npz = args.get("dataset");
  HMR_CHECK(!ckpt.empty(), cli::UsageError, "hmr eval: --checkpoint FILE is required");
  HMR_CHECK(!npz.empty(), cli::UsageError, "hmr eval: --dataset NPZ is required (e.g. data/synth/synth_test.npz)");
  const int64_t batch = args.get_int("batch"), samples = args.get_int("samples"),
                workers = args.get_int("workers");
  HMR_CHECK(batch >= 1 && samples >= 0 && workers >= 0, cli::UsageError,
            "hmr eval: --batch must be >= 1, --samples and --workers >= 0");
  if (args.get_int("threads") > 0) set_num_threads(static_cast<int>(args.get_int("threads")));
  train::LoadedRegressor reg = train::load_regressor(ckpt, args.get("model"));
  body::BodyModel body(reg.body);
  std::string root = args.get("image-root");
  if (root.empty()) root = fs::path(npz).parent_path().string();
  data::DatasetOptions o;
  o.res = reg.img_res;
  o.train = false;
  auto dataset = std::make_shared<data::Dataset>(fs::path(npz).stem().string(),
                                                 data::load_dataset_npz(npz, root, true), root, o);
  train::EvalOptions eo;
  eo.batch_size = batch;
  eo.num_workers = static_cast<int>(workers);
  eo.max_samples = samples;
  const int64_t total = samples > 0 ? std::min(samples, dataset->size()) : dataset->size();
  ProgressBar bar(total, "img", io.err, io.err_is_terminal);
  eo.progress = [&](int64_t done, int64_t) { bar.update(done); };
  io.err << "evaluating " << reg.description << " on " << npz << "\n";
  train::EvalResult r = train::evaluate(*reg.model, body, dataset, eo);
  bar.finish();
  io.out << std::fixed << std::setprecision(1) << "samples " << r.samples << "\n"
         << "MPJPE     " << r.mpjpe << " mm   (mean pose " << r.baseline_mpjpe << " mm)\n"
         << "PA-MPJPE  " << r.pa_mpjpe << " mm   (mean pose " << r.baseline_pa_mpjpe << " mm)\n";
  return kExitOk;
}

}  // namespace

Command eval_command() {
  Command c;
  c.name = "eval";
  c.summary = "evaluate a regressor: MPJPE, PA-MPJPE (eval --checkpoint C --dataset NPZ)";
  c.description =
      "hmr eval --checkpoint C --dataset NPZ [--image-root DIR] [--samples N]\n"
      "    runs the regressor (our .safetensors checkpoint or SPIN's model_checkpoint.pt) on every\n"
      "    sample with 3D joints and reports MPJPE and PA-MPJPE in mm on the 14 LSP joints (both\n"
      "    pelvis-centred at the hips' mid-point; PA = after similarity Procrustes), beside the\n"
      "    mean-pose baseline (the regressor's starting estimate for every image).";
  c.options = {
      {"checkpoint", "FILE", "trained regressor", ""},
      {"dataset", "NPZ", "annotations in SPIN's layout", ""},
      {"image-root", "DIR", "image folder (default: the npz's folder)", ""},
      {"model", "M", "body model (default: the checkpoint's)", ""},
      {"batch", "B", "batch size", "32"},
      {"samples", "N", "evaluate the first N samples only (0: all)", "0"},
      {"workers", "N", "loader threads", "2"},
      {"threads", "T", "compute threads (0: all cores)", "0"},
  };
  c.run = evaluate;
  return c;
}

}  // namespace hmr::cli
