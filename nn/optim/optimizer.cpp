// Optimizer base: parameter groups with defaulted options, the step loop that hands each
// parameter with a gradient to the algorithm, and torch-numbered state dicts with strict loading.
#include "nn/optim/optimizer.h"

#include <set>

#include "autograd/ops.h"

namespace hmr::optim {

Optimizer::Optimizer(std::vector<ParamGroup> groups, Options defaults, std::string name)
    : defaults_(std::move(defaults)), name_(std::move(name)) {
  HMR_CHECK(!groups.empty(), ValueError, name_, ": got an empty parameter list");
  for (ParamGroup& g : groups) add_param_group(std::move(g));
}

void Optimizer::add_param_group(ParamGroup group) {
  for (const auto& [key, value] : group.options)
    HMR_CHECK(defaults_.count(key), ValueError, name_, ": unknown option '", key, "' in parameter group ",
              groups_.size());
  for (const auto& [key, value] : defaults_) group.options.emplace(key, value);
  for (const Tensor& p : group.params) {
    HMR_CHECK(p.defined(), ValueError, name_, ": parameter group ", groups_.size(),
              " holds an undefined tensor");
    HMR_CHECK(p.is_floating_point(), DTypeError, name_, ": can only optimize floating-point tensors, got ",
              p.dtype(), " of shape ", p.sizes());
    for (const ParamGroup& other : groups_)
      for (const Tensor& q : other.params)
        HMR_CHECK(!q.is_same(p), ValueError, name_, ": a parameter of shape ", p.sizes(),
                  " appears in more than one parameter group");
  }
  state_.resize(state_.size() + group.params.size());
  groups_.push_back(std::move(group));
}

double Optimizer::option(const Options& group_options, const std::string& key) const {
  auto it = group_options.find(key);
  HMR_CHECK(it != group_options.end(), ValueError, name_, ": parameter group has no option '", key, "'");
  return it->second;
}

Tensor Optimizer::step(std::function<Tensor()> closure) {
  Tensor loss;
  if (closure) {
    EnableGradGuard grad_on;
    loss = closure();
  }
  NoGradGuard no_grad;
  size_t flat = 0;
  for (ParamGroup& group : groups_) {
    for (Tensor& p : group.params) {
      ParamState& state = state_[flat++];
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      update(group.options, p, grad, state);
    }
  }
  return loss;
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (ParamGroup& group : groups_) {
    for (Tensor& p : group.params) {
      if (set_to_none) {
        p.zero_grad();
        continue;
      }
      Tensor g = p.grad();
      if (g.defined()) g.zero_();
    }
  }
}

TensorDict Optimizer::state_dict() const {
  TensorDict dict;
  const TensorOptions f64(DType::F64);
  for (size_t i = 0; i < state_.size(); ++i) {
    const std::string prefix = "state." + std::to_string(i) + ".";
    for (const auto& [name, t] : state_[i].tensors) dict.set(prefix + name, t.clone());
    for (const auto& [name, v] : state_[i].counters) dict.set(prefix + name, scalar_tensor(v, f64));
  }
  for (size_t g = 0; g < groups_.size(); ++g)
    for (const auto& [key, value] : groups_[g].options)
      dict.set("param_groups." + std::to_string(g) + "." + key, scalar_tensor(value, f64));
  return dict;
}

namespace {

// "state.3.exp_avg" -> (3, "exp_avg"); false when key is not of that form.
bool parse_indexed_key(const std::string& key, const std::string& head, size_t& index, std::string& name) {
  if (key.compare(0, head.size(), head) != 0) return false;
  size_t dot = key.find('.', head.size());
  if (dot == std::string::npos || dot == head.size()) return false;
  const std::string digits = key.substr(head.size(), dot - head.size());
  if (digits.find_first_not_of("0123456789") != std::string::npos) return false;
  index = std::stoul(digits);
  name = key.substr(dot + 1);
  return !name.empty();
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out;
}

}  // namespace

void Optimizer::load_state_dict(const TensorDict& dict) {
  std::vector<std::string> unexpected, missing, misshaped;
  std::vector<const Tensor*> param_of;  // by flat index
  std::vector<const Options*> options_of;
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) {
      param_of.push_back(&p);
      options_of.push_back(&g.options);
    }

  std::vector<Options> new_options(groups_.size());
  std::vector<ParamState> new_state(state_.size());
  for (const auto& [key, t] : dict) {
    size_t index = 0;
    std::string name;
    if (parse_indexed_key(key, "param_groups.", index, name)) {
      if (index >= groups_.size() || !groups_[index].options.count(name) || t.numel() != 1) {
        unexpected.push_back(key);
        continue;
      }
      new_options[index][name] = t.item<double>();
      continue;
    }
    if (!parse_indexed_key(key, "state.", index, name) || index >= state_.size()) {
      unexpected.push_back(key);
      continue;
    }
    const Tensor& p = *param_of[index];
    bool known = false;
    for (const StateField& field : state_fields(*options_of[index])) {
      if (field.name != name) continue;
      known = true;
      if (field.is_counter) {
        if (t.numel() != 1) {
          misshaped.push_back(str(key, " (expected one element, got shape ", t.sizes(), ")"));
          break;
        }
        new_state[index].counters[name] = t.item<double>();
        break;
      }
      if (field.like_param && t.sizes() != p.sizes()) {
        misshaped.push_back(str(key, " (expected ", p.sizes(), ", got ", t.sizes(), ")"));
        break;
      }
      new_state[index].tensors[name] = t.to(p.device(), p.dtype()).clone();
      break;
    }
    if (!known) unexpected.push_back(key);
  }
  for (size_t g = 0; g < groups_.size(); ++g)
    for (const auto& [option_name, value] : groups_[g].options)
      if (!new_options[g].count(option_name)) missing.push_back(str("param_groups.", g, ".", option_name));
  // A parameter's state is all or nothing: none before its first update, every field after.
  for (size_t i = 0; i < new_state.size(); ++i) {
    if (new_state[i].empty()) continue;
    for (const StateField& field : state_fields(*options_of[i])) {
      bool present = field.is_counter ? new_state[i].counters.count(field.name) != 0
                                      : new_state[i].tensors.count(field.name) != 0;
      if (!present) missing.push_back(str("state.", i, ".", field.name));
    }
  }
  HMR_CHECK(unexpected.empty() && missing.empty() && misshaped.empty(), ValueError, name_,
            ".load_state_dict: the state dict does not fit this optimizer (", groups_.size(), " groups, ",
            state_.size(), " parameters). missing: [", join(missing), "]; unexpected: [", join(unexpected),
            "]; mis-shaped: [", join(misshaped), "]");
  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].options = new_options[g];
  state_ = std::move(new_state);
}

}  // namespace hmr::optim
