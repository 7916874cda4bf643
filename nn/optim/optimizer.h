// Optimizers with torch.optim's update rules, defaults and state-dict layout: SGD, Adam, AdamW,
// RMSprop, Adagrad and LBFGS. Updates run under NoGradGuard with in-place tensor ops; per-parameter
// state is created on a parameter's first update (Adagrad's at construction, as torch does).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"
#include "tensor/tensor_dict.h"

namespace hmr::optim {

// Hyperparameters by name ("lr", "momentum", ...). Flags are stored as 0/1 so every option is a
// number and saves as a 0-dim f64 tensor; betas are "beta1" and "beta2".
using Options = std::map<std::string, double>;

struct ParamGroup {
  std::vector<Tensor> params;
  Options options;  // keys missing here take the optimizer's defaults
};

class Optimizer {
 public:
  // name is used in error messages ("SGD: ...").
  Optimizer(std::vector<ParamGroup> groups, Options defaults, std::string name);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient. closure (optional, required by LBFGS)
  // re-evaluates the loss with grad enabled; its result is returned (undefined without one).
  virtual Tensor step(std::function<Tensor()> closure = nullptr);
  // set_to_none drops .grad (torch's default); otherwise gradients are zeroed in place.
  void zero_grad(bool set_to_none = true);

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  // Adds a group; options it lacks take the defaults.
  void add_param_group(ParamGroup group);
  const std::string& name() const { return name_; }

  // "state.<flat param index>.<name>" for per-parameter state (counters as 0-dim f64) and
  // "param_groups.<g>.<option>" (0-dim f64) for the hyperparameters, as torch numbers them.
  TensorDict state_dict() const;
  // Strict: every option of every group must be present, every key must be known, and state
  // tensors shaped like their parameter must match it; one ValueError lists all problems.
  void load_state_dict(const TensorDict& dict);

 protected:
  // What an optimizer keeps per parameter: tensors (moments, buffers) and counters.
  struct ParamState {
    std::map<std::string, Tensor> tensors;
    std::map<std::string, double> counters;
    bool empty() const { return tensors.empty() && counters.empty(); }
  };
  // The fields a parameter's state holds once created (given its group's options), so loading
  // can tell missing and unexpected keys apart. like_param: the tensor has the parameter's shape.
  struct StateField {
    std::string name;
    bool is_counter = false;
    bool like_param = true;
  };
  virtual std::vector<StateField> state_fields(const Options& group_options) const = 0;
  // Updates one parameter p (which has gradient grad) in place; runs under NoGradGuard.
  virtual void update(const Options& group_options, Tensor& p, const Tensor& grad, ParamState& state) = 0;

  // The option key of a group; ValueError naming the optimizer when absent.
  double option(const Options& group_options, const std::string& key) const;
  ParamState& state_of(size_t flat_index) { return state_[flat_index]; }
  size_t num_params() const { return state_.size(); }

 private:
  std::vector<ParamGroup> groups_;
  Options defaults_;
  std::string name_;
  std::vector<ParamState> state_;  // by flat parameter index across groups
};

// ---- SGD ----------------------------------------------------------------------------------------
struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool maximize = false;
};
class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults);
  SGD(std::vector<Tensor> params, const SGDOptions& defaults);

 protected:
  std::vector<StateField> state_fields(const Options& o) const override;
  void update(const Options& o, Tensor& p, const Tensor& grad, ParamState& state) override;
};

// ---- Adam and AdamW -------------------------------------------------------------------------------
struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;  // Adam: L2 added to the gradient; AdamW: decoupled (default 1e-2)
  bool amsgrad = false;
};
class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults);
  Adam(std::vector<Tensor> params, const AdamOptions& defaults);

 protected:
  Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults, std::string name, bool decoupled);
  std::vector<StateField> state_fields(const Options& o) const override;
  void update(const Options& o, Tensor& p, const Tensor& grad, ParamState& state) override;

 private:
  bool decoupled_weight_decay_ = false;
};
// Loshchilov & Hutter: the decay shrinks the parameter directly (p *= 1 - lr * wd) instead of
// entering the moments. torch's default weight_decay is 1e-2 here.
class AdamW : public Adam {
 public:
  static AdamOptions default_options() {
    AdamOptions o;
    o.weight_decay = 1e-2;
    return o;
  }
  AdamW(std::vector<ParamGroup> groups, const AdamOptions& defaults = default_options());
  AdamW(std::vector<Tensor> params, const AdamOptions& defaults = default_options());
};

// ---- RMSprop ----------------------------------------------------------------------------------------
struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
};
class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults);
  RMSprop(std::vector<Tensor> params, const RMSpropOptions& defaults);

 protected:
  std::vector<StateField> state_fields(const Options& o) const override;
  void update(const Options& o, Tensor& p, const Tensor& grad, ParamState& state) override;
};

// ---- Adagrad ----------------------------------------------------------------------------------------
struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0;
  double weight_decay = 0;
  double initial_accumulator_value = 0;
  double eps = 1e-10;
};
class Adagrad : public Optimizer {
 public:
  Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& defaults);
  Adagrad(std::vector<Tensor> params, const AdagradOptions& defaults);

 protected:
  std::vector<StateField> state_fields(const Options& o) const override;
  void update(const Options& o, Tensor& p, const Tensor& grad, ParamState& state) override;
};

// ---- LBFGS ------------------------------------------------------------------------------------------
struct LBFGSOptions {
  double lr = 1;
  int64_t max_iter = 20;
  int64_t max_eval = -1;  // -1: max_iter * 5 / 4, as torch's None
  double tolerance_grad = 1e-7;
  double tolerance_change = 1e-9;
  int64_t history_size = 100;
  std::string line_search_fn;  // "" (fixed step lr) or "strong_wolfe"
};
// Limited-memory BFGS over all parameters flattened into one vector (one group only). step()
// needs a closure and runs up to max_iter iterations; its curvature history is optimizer
// state ("state.0.old_dirs" (k, n), "state.0.old_stps" (k, n), "state.0.ro" (k), ...).
class LBFGS : public Optimizer {
 public:
  LBFGS(std::vector<Tensor> params, const LBFGSOptions& defaults = {});
  Tensor step(std::function<Tensor()> closure = nullptr) override;

 protected:
  std::vector<StateField> state_fields(const Options& o) const override;
  void update(const Options& o, Tensor& p, const Tensor& grad, ParamState& state) override;

 private:
  struct Evaluation {
    double loss;
    Tensor flat_grad;
  };
  Tensor gather_flat_grad() const;
  void add_to_params(double step_size, const Tensor& direction);
  Evaluation evaluate_along(const std::function<Tensor()>& closure, const std::vector<Tensor>& x0, double t,
                            const Tensor& d);
  struct LineSearchResult {
    double loss;
    Tensor flat_grad;
    double t;
    int64_t evals;
  };
  LineSearchResult strong_wolfe(const std::function<Tensor()>& closure, const std::vector<Tensor>& x0,
                                double t, const Tensor& d, double loss, const Tensor& grad, double gtd,
                                double tolerance_change);
};

}  // namespace hmr::optim
