// The configuration of an HMR/SPIN training run: a JSON file (configs/*.json) plus command-line
// overrides "key=value". Unknown keys are errors naming the key and listing the known ones, so
// a typo never silently trains with a default. The defaults are SPIN's code defaults (methods
// doc §B2, §B3, §B5); configs/ documents where the paper's text differs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hmr/train/spin_losses.h"
#include "io/json.h"

namespace hmr::train {

// One training dataset in the mix: SPIN's preprocessed .npz and its image root.
struct DatasetSpec {
  std::string name;
  std::string npz;
  std::string image_root;  // "" = the npz's folder
  double probability = 1.0;
};

struct SmplifyConfig {
  bool run = true;             // SPIN (method "spin" only): fit in the loop (run_smplify)
  int64_t camera_iters = 100;  // SPIN's num_smplify_iters, both stages
  int64_t body_iters = 100;
  double threshold = 100.0;  // smplify_threshold: fits scoring above are not used
  std::string gmm = "";      // SMPLify's gmm_08.pkl or ours; "" = fit one to sampled poses at start
};

struct TrainConfig {
  std::string method = "spin";  // "spin" (fitting in the loop) or "hmr" (plain regression)
  std::string body_model = "generated";
  int backbone = 50;      // ResNet depth: 18 or 50
  int64_t img_res = 224;  // network input; the loss geometry always uses SPIN's 224 crop
  int64_t batch_size = 64;
  int64_t steps = 1000;
  double lr = 5e-5;  // SPIN code default (paper text: 3e-5)
  double weight_decay = 0.0;
  bool ignore_3d = false;  // "unpaired": no 3D joints and no GT SMPL
  bool augment = true;  // SPIN's crop augmentation (flip, rotation, scale, colour) on the training sets
  double grad_clip = 0.0;  // max global gradient norm; 0 = none (SPIN clips nothing)
  uint64_t seed = 0;
  int64_t num_workers = 2;
  int64_t threads = 0;  // compute threads; 0 = all cores
  int64_t log_every = 10;
  int64_t checkpoint_every = 200;
  int64_t eval_every = 200;
  int64_t eval_samples = 0;     // 0 = the whole eval set
  std::string device = "auto";  // "auto", "cpu", "cuda"
  std::vector<DatasetSpec> datasets;
  DatasetSpec eval_dataset;  // npz "" = no periodic evaluation
  SpinLossWeights loss;
  SmplifyConfig smplify;
  std::string init_checkpoint;  // optional: our checkpoint or SPIN's model_checkpoint.pt

  // ValueError naming the field for out-of-range values or missing datasets.
  void validate() const;
};

// Parses a config (JSON object). Relative dataset paths are resolved against base_dir.
TrainConfig parse_train_config(const io::Json& doc, const std::string& label,
                               const std::string& base_dir = "");
TrainConfig load_train_config(const std::string& path);
// Applies "key=value" (dotted keys: "loss.pose=2", "smplify.run=true", "datasets=a.npz,b.npz"
// is not supported: edit the file for the mix). ValueError for unknown keys or bad values.
void apply_override(TrainConfig& config, const std::string& assignment);
// The config as JSON (written into checkpoints and the run folder).
io::Json train_config_to_json(const TrainConfig& config);

}  // namespace hmr::train
