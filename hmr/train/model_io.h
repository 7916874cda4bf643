// Opening a trained HMR regressor for evaluation and inference: our training checkpoints
// (.safetensors, which record backbone, crop size and body model in their metadata) or SPIN's
// PyTorch model_checkpoint.pt (ResNet-50, 224 px, SMPL's mean parameters).
#pragma once

#include <memory>
#include <string>

#include "hmr/body/model_data.h"
#include "hmr/models/hmr_regressor.h"

namespace hmr::train {

struct LoadedRegressor {
  std::shared_ptr<models::HMRRegressor> model;  // in eval mode, on the CPU
  body::BodyModelData body;
  int64_t img_res = 224;
  std::string description;  // "ResNet-18, 96 px, step 300 of runs/hmr/checkpoint.safetensors"
};

// body_model: "" = the checkpoint's own (ours) or "generated" (SPIN's files); else a
// resolve_body_model spec. IOError naming the path when it does not exist.
LoadedRegressor load_regressor(const std::string& path, const std::string& body_model = "");

}  // namespace hmr::train
