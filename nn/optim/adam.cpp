// Adam (Kingma & Ba, with bias correction and optional AMSGrad) and AdamW (decoupled weight
// decay), as torch.optim.Adam / AdamW:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  vhat = amsgrad ? max(vhat, v) : v
//   p -= lr / (1 - b1^t) * m / (sqrt(vhat) / sqrt(1 - b2^t) + eps)
#include <cmath>

#include "autograd/ops.h"
#include "nn/optim/optimizer.h"

namespace hmr::optim {

namespace {
Options adam_options(const AdamOptions& o) {
  return {{"lr", o.lr},
          {"beta1", o.beta1},
          {"beta2", o.beta2},
          {"eps", o.eps},
          {"weight_decay", o.weight_decay},
          {"amsgrad", o.amsgrad ? 1.0 : 0.0}};
}
}  // namespace

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults, std::string name, bool decoupled)
    : Optimizer(std::move(groups), adam_options(defaults), name), decoupled_weight_decay_(decoupled) {
  for (const ParamGroup& g : param_groups()) {
    const Options& o = g.options;
    HMR_CHECK(option(o, "lr") >= 0, ValueError, name, ": invalid learning rate ", option(o, "lr"));
    HMR_CHECK(option(o, "eps") >= 0, ValueError, name, ": invalid epsilon ", option(o, "eps"));
    HMR_CHECK(option(o, "beta1") >= 0 && option(o, "beta1") < 1, ValueError, name, ": invalid beta1 ",
              option(o, "beta1"), " (expected [0, 1))");
    HMR_CHECK(option(o, "beta2") >= 0 && option(o, "beta2") < 1, ValueError, name, ": invalid beta2 ",
              option(o, "beta2"), " (expected [0, 1))");
    HMR_CHECK(option(o, "weight_decay") >= 0, ValueError, name, ": invalid weight_decay ",
              option(o, "weight_decay"));
  }
}

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults)
    : Adam(std::move(groups), defaults, "Adam", false) {}
Adam::Adam(std::vector<Tensor> params, const AdamOptions& defaults)
    : Adam(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}}, defaults, "Adam", false) {}
AdamW::AdamW(std::vector<ParamGroup> groups, const AdamOptions& defaults)
    : Adam(std::move(groups), defaults, "AdamW", true) {}
AdamW::AdamW(std::vector<Tensor> params, const AdamOptions& defaults)
    : Adam(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}}, defaults, "AdamW", true) {}

std::vector<Optimizer::StateField> Adam::state_fields(const Options& o) const {
  std::vector<StateField> fields = {{"step", true, false}, {"exp_avg"}, {"exp_avg_sq"}};
  if (option(o, "amsgrad") != 0) fields.push_back({"max_exp_avg_sq"});
  return fields;
}

// About eight passes over parameter-sized memory per step (each in-place op reads and writes,
// plus the temporaries g^2, sqrt and the quotient): the prime candidate for one fused kernel
// that reads p, g, m, v once and writes them once.
void Adam::update(const Options& o, Tensor& p, const Tensor& grad, ParamState& state) {
  const double lr = option(o, "lr"), beta1 = option(o, "beta1"), beta2 = option(o, "beta2");
  const double eps = option(o, "eps"), weight_decay = option(o, "weight_decay");
  const bool amsgrad = option(o, "amsgrad") != 0;
  if (state.empty()) {
    state.counters["step"] = 0;
    state.tensors["exp_avg"] = zeros_like(p);
    state.tensors["exp_avg_sq"] = zeros_like(p);
    if (amsgrad) state.tensors["max_exp_avg_sq"] = zeros_like(p);
  }
  const double step = ++state.counters["step"];
  Tensor g = grad;
  if (weight_decay != 0) {
    if (decoupled_weight_decay_) {
      p.mul_(1.0 - lr * weight_decay);
    } else {
      g = add(g, p, weight_decay);
    }
  }
  Tensor& m = state.tensors["exp_avg"];
  Tensor& v = state.tensors["exp_avg_sq"];
  m.mul_(beta1).add_(g, 1.0 - beta1);
  v.mul_(beta2).add_(g * g, 1.0 - beta2);
  const double bias_correction1 = 1.0 - std::pow(beta1, step);
  const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(beta2, step));
  Tensor second_moment = v;
  if (amsgrad) {
    Tensor& v_max = state.tensors["max_exp_avg_sq"];
    v_max.copy_(maximum(v_max, v));
    second_moment = v_max;
  }
  Tensor denominator = sqrt(second_moment) / bias_correction2_sqrt + eps;
  p.sub_(m / denominator, lr / bias_correction1);
}

}  // namespace hmr::optim
