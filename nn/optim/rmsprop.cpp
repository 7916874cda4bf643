// RMSprop (Hinton), optionally centered (Graves) and with momentum, as torch.optim.RMSprop:
//   s = alpha s + (1 - alpha) g^2;  avg = sqrt(s - (centered ? gbar^2 : 0)) + eps
//   momentum: buf = momentum buf + g / avg, p -= lr buf;  else p -= lr g / avg.
#include "autograd/ops.h"
#include "nn/optim/optimizer.h"

namespace hmr::optim {

namespace {
Options rmsprop_options(const RMSpropOptions& o) {
  return {{"lr", o.lr},
          {"alpha", o.alpha},
          {"eps", o.eps},
          {"weight_decay", o.weight_decay},
          {"momentum", o.momentum},
          {"centered", o.centered ? 1.0 : 0.0}};
}
}  // namespace

RMSprop::RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults)
    : Optimizer(std::move(groups), rmsprop_options(defaults), "RMSprop") {
  for (const ParamGroup& g : param_groups()) {
    for (const char* key : {"lr", "alpha", "eps", "weight_decay", "momentum"})
      HMR_CHECK(option(g.options, key) >= 0, ValueError, "RMSprop: invalid ", key, " ",
                option(g.options, key));
  }
}
RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& defaults)
    : RMSprop(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}}, defaults) {}

std::vector<Optimizer::StateField> RMSprop::state_fields(const Options& o) const {
  std::vector<StateField> fields = {{"step", true, false}, {"square_avg"}};
  if (option(o, "momentum") > 0) fields.push_back({"momentum_buffer"});
  if (option(o, "centered") != 0) fields.push_back({"grad_avg"});
  return fields;
}

// Like Adam, several passes over parameter-sized memory where a fused kernel needs one.
void RMSprop::update(const Options& o, Tensor& p, const Tensor& grad, ParamState& state) {
  const double lr = option(o, "lr"), alpha = option(o, "alpha"), eps = option(o, "eps");
  const double weight_decay = option(o, "weight_decay"), momentum = option(o, "momentum");
  const bool centered = option(o, "centered") != 0;
  if (state.empty()) {
    state.counters["step"] = 0;
    state.tensors["square_avg"] = zeros_like(p);
    if (momentum > 0) state.tensors["momentum_buffer"] = zeros_like(p);
    if (centered) state.tensors["grad_avg"] = zeros_like(p);
  }
  state.counters["step"] += 1;
  Tensor g = weight_decay != 0 ? add(grad, p, weight_decay) : grad;
  Tensor& square_avg = state.tensors["square_avg"];
  square_avg.mul_(alpha).add_(g * g, 1.0 - alpha);
  Tensor avg;
  if (centered) {
    Tensor& grad_avg = state.tensors["grad_avg"];
    grad_avg.mul_(alpha).add_(g, 1.0 - alpha);
    avg = sqrt(square_avg - grad_avg * grad_avg) + eps;
  } else {
    avg = sqrt(square_avg) + eps;
  }
  if (momentum > 0) {
    Tensor& buf = state.tensors["momentum_buffer"];
    buf.mul_(momentum).add_(g / avg);
    p.sub_(buf, lr);
  } else {
    p.sub_(g / avg, lr);
  }
}

}  // namespace hmr::optim
