// Adagrad (Duchi et al.) with learning-rate decay, as torch.optim.Adagrad:
//   clr = lr / (1 + (t - 1) lr_decay);  sum += g^2;  p -= clr g / (sqrt(sum) + eps).
// torch creates the accumulator at construction (filled with initial_accumulator_value), so
// its state dict has every parameter's state before the first step; so does this one.
#include "autograd/ops.h"
#include "nn/optim/optimizer.h"

namespace hmr::optim {

namespace {
Options adagrad_options(const AdagradOptions& o) {
  return {{"lr", o.lr},
          {"lr_decay", o.lr_decay},
          {"weight_decay", o.weight_decay},
          {"initial_accumulator_value", o.initial_accumulator_value},
          {"eps", o.eps}};
}
}  // namespace

Adagrad::Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& defaults)
    : Optimizer(std::move(groups), adagrad_options(defaults), "Adagrad") {
  size_t flat = 0;
  for (const ParamGroup& g : param_groups()) {
    for (const char* key : {"lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"})
      HMR_CHECK(option(g.options, key) >= 0, ValueError, "Adagrad: invalid ", key, " ",
                option(g.options, key));
    for (const Tensor& p : g.params) {
      ParamState& state = state_of(flat++);
      state.counters["step"] = 0;
      state.tensors["sum"] = full_like(p, option(g.options, "initial_accumulator_value"));
    }
  }
}
Adagrad::Adagrad(std::vector<Tensor> params, const AdagradOptions& defaults)
    : Adagrad(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}}, defaults) {}

std::vector<Optimizer::StateField> Adagrad::state_fields(const Options&) const {
  return {{"step", true, false}, {"sum"}};
}

void Adagrad::update(const Options& o, Tensor& p, const Tensor& grad, ParamState& state) {
  const double lr = option(o, "lr"), weight_decay = option(o, "weight_decay");
  if (state.empty()) {  // a group added after construction
    state.counters["step"] = 0;
    state.tensors["sum"] = full_like(p, option(o, "initial_accumulator_value"));
  }
  const double step = ++state.counters["step"];
  Tensor g = weight_decay != 0 ? add(grad, p, weight_decay) : grad;
  const double clr = lr / (1.0 + (step - 1.0) * option(o, "lr_decay"));
  Tensor& sum = state.tensors["sum"];
  sum.add_(g * g);
  p.sub_(g / (sqrt(sum) + option(o, "eps")), clr);
}

}  // namespace hmr::optim
