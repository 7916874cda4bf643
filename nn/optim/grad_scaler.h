// Loss scaling for float16 training, as torch.cuda.amp.GradScaler: the loss is multiplied by
// a large scale before backward so small f16 gradients do not flush to zero; before the
// optimizer step the gradients are divided back, and a step whose gradients hold inf/NaN is
// skipped and the scale lowered. The scale grows again after growth_interval clean steps.
// (bfloat16 has f32's range and needs no scaler.)
//
//   scaler.scale(loss).backward();
//   scaler.step(opt);      // unscales, checks, steps unless a gradient is not finite
//   scaler.update();
#pragma once

#include <cstdint>

#include "nn/optim/optimizer.h"

namespace hmr::optim {

struct GradScalerOptions {
  double init_scale = 65536.0;
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
  bool enabled = true;  // disabled: scale() returns the loss and step() just steps
};

class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions o = {});
  Tensor scale(const Tensor& loss) const;
  // Divides every gradient of the optimizer's parameters by the scale (once per step) and
  // records whether any is inf or NaN.
  void unscale_(Optimizer& opt);
  // Unscales if not done yet, then steps unless a non-finite gradient was found. Returns
  // whether the optimizer stepped.
  bool step(Optimizer& opt);
  // Backs the scale off after a skipped step, grows it after growth_interval clean ones.
  void update();
  double get_scale() const { return scale_; }
  int64_t growth_tracker() const { return growth_tracker_; }
  TensorDict state_dict() const;  // "scale", "growth_tracker"
  void load_state_dict(const TensorDict& d);

 private:
  GradScalerOptions o_;
  double scale_;
  int64_t growth_tracker_ = 0;
  bool unscaled_ = false;
  bool found_inf_ = false;
};

}  // namespace hmr::optim
