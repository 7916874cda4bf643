// `hmr eval --checkpoint C --dataset NPZ`: MPJPE and PA-MPJPE (mm) of a trained regressor on the
// 14 LSP joints or MPI-INF-3DHP's 17 (with PCK and AUC), PVE where GT SMPL exists, and with
// --segmentation LSP's silhouette and part scores; beside the mean-pose baseline.
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
  HMR_CHECK(!npz.empty(), cli::UsageError,
            "hmr eval: --dataset NPZ is required (e.g. data/synth/synth_test.npz)");
  const int64_t batch = args.get_int("batch"), samples = args.get_int("samples"),
                workers = args.get_int("workers");
  HMR_CHECK(batch >= 1 && samples >= 0 && workers >= 0, cli::UsageError,
            "hmr eval: --batch must be >= 1, --samples and --workers >= 0");
  const std::string protocol = args.get("protocol"), part_labels = args.get("part-labels");
  HMR_CHECK(protocol == "lsp14" || protocol == "mpi17", cli::UsageError,
            "hmr eval: --protocol must be lsp14 or mpi17, found '", protocol, "'");
  HMR_CHECK(part_labels == "smpl24" || part_labels == "six", cli::UsageError,
            "hmr eval: --part-labels must be smpl24 or six, found '", part_labels, "'");
  if (args.get_int("threads") > 0) set_num_threads(static_cast<int>(args.get_int("threads")));
  train::LoadedRegressor reg = train::load_regressor(ckpt, args.get("model"));
  body::BodyModel body(reg.body);
  std::string root = args.get("image-root");
  if (root.empty()) root = fs::path(npz).parent_path().string();
  data::DatasetOptions o;
  o.res = reg.img_res;
  o.train = false;
  data::DatasetAnnotations annotations = data::load_dataset_npz(npz, root, true);
  train::EvalOptions eo;
  eo.protocol = protocol;
  eo.segmentation = args.flag("segmentation");
  eo.part_labels = part_labels == "six" ? train::PartLabels::Six : train::PartLabels::Smpl24;
  if (eo.segmentation) {
    HMR_CHECK(!annotations.maskname.empty() || !annotations.partname.empty(), ValueError, "hmr eval: ", npz,
              " has neither maskname nor partname, so --segmentation has nothing to score");
    auto full_paths = [&](const std::vector<std::string>& names) {
      std::vector<std::string> paths;
      for (const std::string& name : names)
        paths.push_back(name.empty() ? "" : (fs::path(root) / name).string());
      return paths;
    };
    eo.mask_paths = full_paths(annotations.maskname);
    eo.part_paths = full_paths(annotations.partname);
  }
  auto dataset =
      std::make_shared<data::Dataset>(fs::path(npz).stem().string(), std::move(annotations), root, o);
  eo.batch_size = batch;
  eo.num_workers = static_cast<int>(workers);
  eo.max_samples = samples;
  const int64_t total = samples > 0 ? std::min(samples, dataset->size()) : dataset->size();
  ProgressBar bar(total, "img", io.err, io.err_is_terminal);
  eo.progress = [&](int64_t done, int64_t) { bar.update(done); };
  io.err << "evaluating " << reg.description << " on " << npz << "\n";
  train::EvalResult r = train::evaluate(*reg.model, body, dataset, eo);
  bar.finish();
  io.out << std::fixed << std::setprecision(1) << "protocol " << protocol << ", samples " << r.samples << "\n"
         << "MPJPE     " << r.mpjpe << " mm   (mean pose " << r.baseline_mpjpe << " mm)\n"
         << "PA-MPJPE  " << r.pa_mpjpe << " mm   (mean pose " << r.baseline_pa_mpjpe << " mm)\n";
  if (protocol == "mpi17")
    io.out << std::setprecision(3) << "PCK@150mm " << r.pck << "   (after Procrustes " << r.pa_pck << ")\n"
           << "AUC       " << r.auc << "   (after Procrustes " << r.pa_auc << ")\n";
  if (r.shape_samples > 0)
    io.out << std::setprecision(1) << "PVE       " << r.pve << " mm   (" << r.shape_samples
           << " samples with SMPL)\n";
  if (eo.segmentation)
    io.out << std::setprecision(4) << "segmentation samples " << r.segmentation_samples << "\n"
           << "FB accuracy     " << r.fb_accuracy << "   F1 " << r.fb_f1 << "\n"
           << "parts accuracy  " << r.parts_accuracy << "   F1 " << r.parts_f1 << "\n";
  return kExitOk;
}

}  // namespace

Command eval_command() {
  Command c;
  c.name = "eval";
  c.summary = "evaluate a regressor: MPJPE, PA-MPJPE (eval --checkpoint C --dataset NPZ)";
  c.description =
      "hmr eval --checkpoint C --dataset NPZ [--protocol lsp14|mpi17] [--segmentation] [--samples N]\n"
      "    runs the regressor (our .safetensors checkpoint or SPIN's model_checkpoint.pt) on every\n"
      "    sample with 3D joints and reports MPJPE and PA-MPJPE in mm (PA = after similarity\n"
      "    Procrustes), beside the mean-pose baseline (the regressor's starting estimate for every\n"
      "    image). lsp14: the 14 LSP joints centred at the hips' mid-point; mpi17: MPI-INF-3DHP's 17\n"
      "    joints centred at the pelvis, plus PCK@150mm and AUC (0..150 mm, step 5) before and after\n"
      "    Procrustes. PVE (mm, no alignment) where the dataset has SMPL. --segmentation renders the\n"
      "    prediction into each original image and scores it against maskname/partname: accuracy and\n"
      "    macro F1 of foreground/background and of 6 parts + background (head, torso, left/right\n"
      "    arm, left/right leg), GT label 255 ignored.";
  c.options = {
      {"checkpoint", "FILE", "trained regressor", ""},
      {"dataset", "NPZ", "annotations in SPIN's layout", ""},
      {"image-root", "DIR", "image folder (default: the npz's folder)", ""},
      {"model", "M", "body model (default: the checkpoint's)", ""},
      {"protocol", "P", "joints: lsp14 (14 LSP) or mpi17 (MPI-INF-3DHP's 17, with PCK/AUC)", "lsp14"},
      {"segmentation", "", "score silhouettes and parts against the dataset's mask/part images", ""},
      {"part-labels", "K", "GT part images hold smpl24 (1 + SMPL part, hmr data synth) or six (UP-3D)",
       "smpl24"},
      {"batch", "B", "batch size", "32"},
      {"samples", "N", "evaluate the first N samples only (0: all)", "0"},
      {"workers", "N", "loader threads", "2"},
      {"threads", "T", "compute threads (0: all cores)", "0"},
  };
  c.run = evaluate;
  return c;
}

}  // namespace hmr::cli
