// Learning-rate schedulers: torch's chainable (recursive) formulas, each derived from the lr the
// groups hold now, so results agree with torch to the last bit where the arithmetic is the same.
#include "nn/optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>

#include "autograd/ops.h"

namespace hmr::optim {

LRScheduler::LRScheduler(Optimizer& optimizer, const char* name) : optimizer_(optimizer), name_(name) {
  for (ParamGroup& g : optimizer_.param_groups()) {
    HMR_CHECK(g.options.count("lr"), ValueError, name_, ": the optimizer's groups have no 'lr' option");
    // The base lr is the group's lr now. torch records it as the group's "initial_lr" so a second
    // scheduler on the same optimizer starts from the same base; here it stays out of the
    // group's options so the optimizer's strict state dict keeps its own keys.
    base_lrs_.push_back(g.options.at("lr"));
  }
}

std::vector<double> LRScheduler::current_lrs() const {
  std::vector<double> lrs;
  for (const ParamGroup& g : optimizer_.param_groups()) lrs.push_back(g.options.at("lr"));
  return lrs;
}

void LRScheduler::step() {
  ++last_epoch_;
  std::vector<double> lrs = compute_lr();
  std::vector<ParamGroup>& groups = optimizer_.param_groups();
  HMR_INTERNAL_CHECK(lrs.size() == groups.size());
  for (size_t i = 0; i < groups.size(); ++i) groups[i].options["lr"] = lrs[i];
  last_lr_ = lrs;
}

TensorDict LRScheduler::state_dict() const {
  TensorDict dict;
  const auto n = static_cast<int64_t>(base_lrs_.size());
  dict.set("last_epoch", scalar_tensor(static_cast<double>(last_epoch_), DType::F64));
  dict.set("base_lrs", tensor(base_lrs_, {n}, DType::F64));
  dict.set("last_lr", tensor(last_lr_, {n}, DType::F64));
  return dict;
}

void LRScheduler::load_state_dict(const TensorDict& dict) {
  const auto n = static_cast<int64_t>(base_lrs_.size());
  for (const char* key : {"last_epoch", "base_lrs", "last_lr"})
    HMR_CHECK(dict.contains(key), ValueError, name_, ".load_state_dict: missing '", key, "'");
  for (const auto& [key, t] : dict)
    HMR_CHECK(key == "last_epoch" || key == "base_lrs" || key == "last_lr", ValueError, name_,
              ".load_state_dict: unexpected key '", key, "'");
  HMR_CHECK(dict.at("base_lrs").sizes() == Shape{n} && dict.at("last_lr").sizes() == Shape{n}, ValueError,
            name_, ".load_state_dict: expected base_lrs and last_lr of shape ", Shape{n},
            " (one per group), got ", dict.at("base_lrs").sizes(), " and ", dict.at("last_lr").sizes());
  last_epoch_ = static_cast<int64_t>(dict.at("last_epoch").item<double>());
  base_lrs_ = dict.at("base_lrs").to_vector<double>();
  last_lr_ = dict.at("last_lr").to_vector<double>();
}

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer, "StepLR"), step_size_(step_size), gamma_(gamma) {
  HMR_CHECK(step_size > 0, ValueError, "StepLR: step_size must be positive, got ", step_size);
  initialize();
}
std::vector<double> StepLR::compute_lr() const {
  std::vector<double> lrs = current_lrs();
  if (last_epoch() == 0 || last_epoch() % step_size_ != 0) return lrs;
  for (double& lr : lrs) lr *= gamma_;
  return lrs;
}

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(optimizer, "MultiStepLR"), milestones_(std::move(milestones)), gamma_(gamma) {
  initialize();
}
std::vector<double> MultiStepLR::compute_lr() const {
  std::vector<double> lrs = current_lrs();
  const auto hits = std::count(milestones_.begin(), milestones_.end(), last_epoch());
  if (hits == 0) return lrs;
  for (double& lr : lrs) lr *= std::pow(gamma_, static_cast<double>(hits));
  return lrs;
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma)
    : LRScheduler(optimizer, "ExponentialLR"), gamma_(gamma) {
  initialize();
}
std::vector<double> ExponentialLR::compute_lr() const {
  std::vector<double> lrs = current_lrs();
  if (last_epoch() == 0) return lrs;
  for (double& lr : lrs) lr *= gamma_;
  return lrs;
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)
    : LRScheduler(optimizer, "CosineAnnealingLR"), T_max_(T_max), eta_min_(eta_min) {
  HMR_CHECK(T_max > 0, ValueError, "CosineAnnealingLR: T_max must be positive, got ", T_max);
  initialize();
}
std::vector<double> CosineAnnealingLR::compute_lr() const {
  std::vector<double> lrs = current_lrs();
  const int64_t epoch = last_epoch();
  if (epoch == 0) return lrs;
  const double pi = std::acos(-1.0), T = static_cast<double>(T_max_);
  const int64_t period = 2 * T_max_;
  // Python's modulo (non-negative) of epoch - 1 - T_max: the first epoch of a rising half.
  if ((((epoch - 1 - T_max_) % period) + period) % period == 0) {
    for (size_t i = 0; i < lrs.size(); ++i)
      lrs[i] = lrs[i] + (base_lrs()[i] - eta_min_) * (1 - std::cos(pi / T)) / 2;
    return lrs;
  }
  const double e = static_cast<double>(epoch);
  const double ratio = (1 + std::cos(pi * e / T)) / (1 + std::cos(pi * (e - 1) / T));
  for (double& lr : lrs) lr = ratio * (lr - eta_min_) + eta_min_;
  return lrs;
}

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, int64_t total_iters)
    : LRScheduler(optimizer, "LinearLR"),
      start_factor_(start_factor),
      end_factor_(end_factor),
      total_iters_(total_iters) {
  HMR_CHECK(start_factor > 0 && start_factor <= 1 && end_factor >= 0 && end_factor <= 1, ValueError,
            "LinearLR: expected 0 < start_factor <= 1 and 0 <= end_factor <= 1, got ", start_factor, " and ",
            end_factor);
  initialize();
}
std::vector<double> LinearLR::compute_lr() const {
  std::vector<double> lrs = current_lrs();
  const int64_t epoch = last_epoch();
  if (epoch == 0) {
    for (double& lr : lrs) lr *= start_factor_;
    return lrs;
  }
  if (epoch > total_iters_) return lrs;
  const double delta = end_factor_ - start_factor_;
  const double factor = 1.0 + delta / (static_cast<double>(total_iters_) * start_factor_ +
                                       static_cast<double>(epoch - 1) * delta);
  for (double& lr : lrs) lr *= factor;
  return lrs;
}

LambdaLR::LambdaLR(Optimizer& optimizer, Lambda lambda)
    : LambdaLR(optimizer, std::vector<Lambda>(optimizer.param_groups().size(), lambda)) {}
LambdaLR::LambdaLR(Optimizer& optimizer, std::vector<Lambda> lambdas)
    : LRScheduler(optimizer, "LambdaLR"), lambdas_(std::move(lambdas)) {
  HMR_CHECK(lambdas_.size() == optimizer.param_groups().size(), ValueError, "LambdaLR: expected ",
            optimizer.param_groups().size(), " lambdas (one per group), got ", lambdas_.size());
  initialize();
}
std::vector<double> LambdaLR::compute_lr() const {
  std::vector<double> lrs(base_lrs().size());
  for (size_t i = 0; i < lrs.size(); ++i) lrs[i] = base_lrs()[i] * lambdas_[i](last_epoch());
  return lrs;
}

}  // namespace hmr::optim
