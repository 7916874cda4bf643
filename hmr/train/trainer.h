// SPIN's training loop (methods doc §B2–§B5) and plain HMR training: mixed datasets through the
// prefetching loader, the regressor, SPIN's losses, optionally SMPLify in the loop with the
// fits dictionary, Adam; atomic checkpoints with exact resume, a CSV log, periodic evaluation.
// Reports progress through a callback so the command decides how to show it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hmr/body/body_model.h"
#include "hmr/data/dataset.h"
#include "hmr/data/loader.h"
#include "hmr/fitting/smplify.h"
#include "hmr/models/hmr_regressor.h"
#include "hmr/train/config.h"
#include "hmr/train/evaluate.h"
#include "hmr/train/fits_dict.h"
#include "nn/optim/optimizer.h"

namespace hmr::train {

// The loss terms of one step (already weighted, before the overall multiplier) and their sum.
struct StepReport {
  int64_t step = 0;  // steps done after this one
  int64_t epoch = 0;
  double loss = 0;
  double keypoint_2d = 0, keypoint_3d = 0, pose = 0, betas = 0, vertices = 0, camera = 0;
  double fit_valid = 0;     // fraction of samples with a usable fit or GT SMPL
  double fits_updated = 0;  // fraction whose in-loop fit replaced the stored one (SPIN)
  double grad_norm = 0;     // global gradient norm before clipping
  double seconds = 0;       // wall time of this step
};

class Trainer {
 public:
  // Builds everything from the config (body model, datasets, model, optimizer); out_dir gets
  // config.json, log.csv, eval.csv, checkpoints and fits. log receives one-line notes.
  Trainer(TrainConfig config, std::string out_dir, std::ostream& log);
  ~Trainer();

  // Restores model, optimizer, step, RNG and fits from a checkpoint written by this trainer.
  void resume(const std::string& checkpoint);
  // Runs until config.steps. on_step after every step; on_eval after every evaluation.
  void run(const std::function<void(const StepReport&)>& on_step,
           const std::function<void(int64_t step, const EvalResult&)>& on_eval);
  // One step on the next batch (public for tests).
  StepReport step();
  EvalResult evaluate_now(const std::function<void(int64_t, int64_t)>& progress = {});
  void save_checkpoint(const std::string& path);

  int64_t steps_done() const { return step_; }
  const TrainConfig& config() const { return config_; }
  models::HMRRegressor& model() { return *model_; }
  const body::BodyModel& body() const { return *body_; }
  std::string latest_checkpoint_path() const;
  Device device() const { return device_; }

 private:
  data::Batch next_batch();

  TrainConfig config_;
  std::string out_dir_;
  std::ostream& log_;
  Device device_ = Device::cpu();
  std::unique_ptr<body::BodyModel> body_;
  std::shared_ptr<models::HMRRegressor> model_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  std::vector<std::shared_ptr<const data::Dataset>> train_sets_;
  std::shared_ptr<data::MixedDataset> train_source_;
  std::shared_ptr<const data::SampleSource> eval_source_;
  std::unique_ptr<data::DataLoader> loader_;
  std::unique_ptr<fitting::GmmPrior> prior_;
  std::unique_ptr<fitting::Smplify> smplify_;
  FitsDict fits_;
  int64_t step_ = 0;
  int64_t epoch_ = -1;  // the loader's current epoch
};

}  // namespace hmr::train
