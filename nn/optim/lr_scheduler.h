// Learning-rate schedulers with torch.optim.lr_scheduler's update rules: each step() (called
// after optimizer.step()) advances last_epoch and rewrites every group's "lr" option. Like
// torch, construction performs the first step (last_epoch 0); base lrs are the lrs at construction.
#pragma once

#include <functional>
#include <vector>

#include "nn/optim/optimizer.h"
#include "tensor/tensor_dict.h"

namespace hmr::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  void step();
  // The lr of every group after the latest step().
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }

  // "last_epoch" (0-dim f64), "base_lrs" and "last_lr" (1-D f64, one per group).
  TensorDict state_dict() const;
  // Strict: the three keys must be present with one value per group. Group lrs are left as
  // they are (they travel in the optimizer's own state dict), as in torch.
  void load_state_dict(const TensorDict& dict);

 protected:
  LRScheduler(Optimizer& optimizer, const char* name);
  // Call at the end of a derived constructor: the initial step, as torch does.
  void initialize() { step(); }
  // The new lr of each group for last_epoch() (already advanced), given the groups' current lrs.
  virtual std::vector<double> compute_lr() const = 0;
  std::vector<double> current_lrs() const;

  Optimizer& optimizer_;
  const char* name_;

 private:
  int64_t last_epoch_ = -1;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
};

// lr *= gamma every step_size epochs.
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 protected:
  std::vector<double> compute_lr() const override;

 private:
  int64_t step_size_;
  double gamma_;
};

// lr *= gamma at each milestone (a milestone listed twice multiplies twice).
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);

 protected:
  std::vector<double> compute_lr() const override;

 private:
  std::vector<int64_t> milestones_;
  double gamma_;
};

// lr *= gamma every epoch.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);

 protected:
  std::vector<double> compute_lr() const override;

 private:
  double gamma_;
};

// Cosine annealing from the base lr to eta_min over T_max epochs (SGDR without restarts), in
// torch's recursive form so the printed values agree; past T_max it rises again (period 2 T_max).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0);

 protected:
  std::vector<double> compute_lr() const override;

 private:
  int64_t T_max_;
  double eta_min_;
};

// Warm-up: the factor on the base lr moves linearly from start_factor to end_factor over
// total_iters epochs and then stays.
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0,
           int64_t total_iters = 5);

 protected:
  std::vector<double> compute_lr() const override;

 private:
  double start_factor_, end_factor_;
  int64_t total_iters_;
};

// lr = base_lr * lambda(epoch), one lambda for all groups or one per group.
class LambdaLR : public LRScheduler {
 public:
  using Lambda = std::function<double(int64_t)>;
  LambdaLR(Optimizer& optimizer, Lambda lambda);
  LambdaLR(Optimizer& optimizer, std::vector<Lambda> lambdas);

 protected:
  std::vector<double> compute_lr() const override;

 private:
  std::vector<Lambda> lambdas_;
};

}  // namespace hmr::optim
