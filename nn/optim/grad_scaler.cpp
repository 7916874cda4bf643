// GradScaler (nn/optim/grad_scaler.h), with torch's update rule and its f32 reciprocal.
#include "nn/optim/grad_scaler.h"

#include "autograd/grad_mode.h"
#include "autograd/ops.h"

namespace hmr::optim {

GradScaler::GradScaler(GradScalerOptions o) : o_(o), scale_(o.init_scale) {
  HMR_CHECK(o.init_scale > 0 && o.growth_factor > 1 && o.backoff_factor > 0 && o.backoff_factor < 1 &&
                o.growth_interval > 0,
            ValueError, "GradScaler: expected init_scale > 0, growth_factor > 1, 0 < backoff_factor < 1 and ",
            "growth_interval > 0 but found ", o.init_scale, ", ", o.growth_factor, ", ", o.backoff_factor, ", ",
            o.growth_interval);
}

Tensor GradScaler::scale(const Tensor& loss) const {
  if (!o_.enabled) return loss;
  return loss * scale_;
}

void GradScaler::unscale_(Optimizer& opt) {
  if (!o_.enabled) return;
  HMR_CHECK(!unscaled_, ValueError, "GradScaler.unscale_: already called since the last update()");
  // torch: inv_scale = float(1 / double(scale)).
  const double inv = static_cast<double>(static_cast<float>(1.0 / scale_));
  NoGradGuard no_grad;
  bool found = false;
  for (auto& group : opt.param_groups())
    for (auto& p : group.params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      if (!found) found = !all(isfinite(g)).item<bool>();
      g.mul_(inv);
    }
  found_inf_ = found;
  unscaled_ = true;
}

bool GradScaler::step(Optimizer& opt) {
  if (!o_.enabled) {
    opt.step();
    return true;
  }
  if (!unscaled_) unscale_(opt);
  if (found_inf_) return false;
  opt.step();
  return true;
}

void GradScaler::update() {
  if (!o_.enabled) return;
  if (found_inf_) {
    scale_ *= o_.backoff_factor;
    growth_tracker_ = 0;
  } else if (++growth_tracker_ == o_.growth_interval) {
    scale_ *= o_.growth_factor;
    growth_tracker_ = 0;
  }
  unscaled_ = false;
  found_inf_ = false;
}

TensorDict GradScaler::state_dict() const {
  TensorDict d;
  d.set("scale", scalar_tensor(scale_, DType::F64));
  d.set("growth_tracker", scalar_tensor(growth_tracker_, DType::I64));
  return d;
}

void GradScaler::load_state_dict(const TensorDict& d) {
  scale_ = d.at("scale").item<double>();
  growth_tracker_ = d.at("growth_tracker").item<int64_t>();
  HMR_CHECK(scale_ > 0, ValueError, "GradScaler.load_state_dict: scale must be > 0 but found ", scale_);
}

}  // namespace hmr::optim
