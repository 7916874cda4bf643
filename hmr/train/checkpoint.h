// The native training checkpoint (hmr/train: it joins nn/ state and io/ formats): one safetensors file holding everything needed to resume a
// run exactly — model parameters and buffers, optimizer state, LR-scheduler state, loss-scaler
// state, the step counter and the random generator's position. Written atomically (temporary
// file, fsync, rename), so a crash mid-save leaves the previous checkpoint intact. Any
// safetensors reader can open it; `hmr inspect` lists it.
//
// Keys: "model.<name>", "optimizer.<key>", "scheduler.<key>", "scaler.<key>"; metadata:
// "format" = "hmr-checkpoint-1", "step", "rng.seed", "rng.offset", plus the caller's own.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "nn/module.h"
#include "nn/optim/grad_scaler.h"
#include "nn/optim/lr_scheduler.h"
#include "nn/optim/optimizer.h"
#include "tensor/generator.h"

namespace hmr::train {

// What a checkpoint covers; null parts are left out on save and left alone on load.
struct TrainingState {
  using Module = nn::Module;
  Module* model = nullptr;
  optim::Optimizer* optimizer = nullptr;
  optim::LRScheduler* scheduler = nullptr;
  optim::GradScaler* scaler = nullptr;
  Generator* generator = nullptr;  // null: the default generator
  int64_t step = 0;
  std::map<std::string, std::string> metadata;  // e.g. the run's configuration
};

void save_checkpoint(const std::string& path, const TrainingState& state);

// Restores every part that is non-null in state (strictly: a part missing from the file or
// not matching is a ValueError naming it), then sets state.step and state.metadata.
void load_checkpoint(const std::string& path, TrainingState& state);

}  // namespace hmr::train
