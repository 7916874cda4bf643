// SGD with momentum, dampening, Nesterov momentum, L2 weight decay and maximize, as torch.optim.SGD:
//   g = ±grad + wd p;  buf = g (first step) else momentum buf + (1 - dampening) g;
//   p -= lr (nesterov ? g + momentum buf : buf).
#include "autograd/ops.h"
#include "nn/optim/optimizer.h"

namespace hmr::optim {

namespace {
Options sgd_options(const SGDOptions& o) {
  return {{"lr", o.lr},
          {"momentum", o.momentum},
          {"dampening", o.dampening},
          {"weight_decay", o.weight_decay},
          {"nesterov", o.nesterov ? 1.0 : 0.0},
          {"maximize", o.maximize ? 1.0 : 0.0}};
}
}  // namespace

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults)
    : Optimizer(std::move(groups), sgd_options(defaults), "SGD") {
  for (const ParamGroup& g : param_groups()) {
    const Options& o = g.options;
    HMR_CHECK(option(o, "lr") >= 0, ValueError, "SGD: invalid learning rate ", option(o, "lr"));
    HMR_CHECK(option(o, "momentum") >= 0, ValueError, "SGD: invalid momentum ", option(o, "momentum"));
    HMR_CHECK(option(o, "weight_decay") >= 0, ValueError, "SGD: invalid weight_decay ",
              option(o, "weight_decay"));
    HMR_CHECK(option(o, "nesterov") == 0 || (option(o, "momentum") > 0 && option(o, "dampening") == 0),
              ValueError, "SGD: Nesterov momentum requires a momentum and zero dampening (got momentum ",
              option(o, "momentum"), ", dampening ", option(o, "dampening"), ")");
  }
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& defaults)
    : SGD(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}}, defaults) {}

std::vector<Optimizer::StateField> SGD::state_fields(const Options& o) const {
  if (option(o, "momentum") == 0) return {};
  return {{"momentum_buffer"}};
}

// Up to four passes over the parameter's memory; a fused kernel reading p, grad and buf once
// and writing p and buf once would halve the traffic.
void SGD::update(const Options& o, Tensor& p, const Tensor& grad, ParamState& state) {
  const double lr = option(o, "lr"), momentum = option(o, "momentum");
  const double weight_decay = option(o, "weight_decay");
  Tensor g = option(o, "maximize") != 0 ? neg(grad) : grad;
  if (weight_decay != 0) g = add(g, p, weight_decay);
  if (momentum != 0) {
    auto it = state.tensors.find("momentum_buffer");
    if (it == state.tensors.end()) {
      it = state.tensors.emplace("momentum_buffer", clone(g)).first;
    } else {
      it->second.mul_(momentum).add_(g, 1.0 - option(o, "dampening"));
    }
    g = option(o, "nesterov") != 0 ? add(g, it->second, momentum) : it->second;
  }
  p.sub_(g, lr);
}

}  // namespace hmr::optim
