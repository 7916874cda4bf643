// `hmr mlp`: the smallest end-to-end training run. A 1 -> H -> H -> 1 tanh MLP learns
// y = sin(3x) + 0.3 x^2 on x in [-2, 2] with full-batch Adam, written over the autograd ops
// (until nn/optim exists), on the CPU or a CUDA device. It exercises the whole stack:
// random init, matmul and elementwise kernels, broadcasting, backward, in-place updates.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "autograd/ops.h"
#include "hmr/commands/commands.h"
#include "nn/init.h"
#include "tensor/cuda_context.h"
#include "tensor/parallel.h"

namespace hmr::cli {

namespace {

struct DemoConfig {
  int64_t steps;
  int64_t hidden;
  int64_t samples;
  int64_t log_every;
  int threads;  // 0: leave the default (all cores)
  double lr;
  uint64_t seed;
  Device device;
};

// torch.nn.Linear: weight (out, in), bias (out), both U(-1/sqrt(in), 1/sqrt(in)).
struct Linear {
  Tensor weight;
  Tensor bias;

  Linear(int64_t in, int64_t out, Device device, Generator& gen) {
    weight = empty({out, in}, device);
    bias = empty({out}, device);
    nn::init::kaiming_uniform_(weight, std::sqrt(5.0), "fan_in", "leaky_relu", &gen);
    double bound = 1.0 / std::sqrt(static_cast<double>(in));
    nn::init::uniform_(bias, -bound, bound, &gen);
    weight.requires_grad_();
    bias.requires_grad_();
  }
  Tensor forward(const Tensor& x) const { return matmul(x, weight.t()) + bias; }  // (N, in) -> (N, out)
};

// Adam (Kingma & Ba) with bias correction, as torch.optim.Adam without weight decay.
class Adam {
 public:
  Adam(std::vector<Tensor> params, double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
      : params_(std::move(params)), lr_(lr), beta1_(beta1), beta2_(beta2), eps_(eps) {
    for (const Tensor& p : params_) {
      m_.push_back(zeros_like(p));
      v_.push_back(zeros_like(p));
    }
  }

  void step() {
    NoGradGuard no_grad;
    ++t_;
    double correction1 = 1.0 - std::pow(beta1_, static_cast<double>(t_));
    double correction2 = 1.0 - std::pow(beta2_, static_cast<double>(t_));
    for (size_t i = 0; i < params_.size(); ++i) {
      Tensor g = params_[i].grad();
      if (!g.defined()) continue;
      m_[i].mul_(beta1_).add_(g, 1.0 - beta1_);      // m = b1 m + (1 - b1) g
      v_[i].mul_(beta2_).add_(g * g, 1.0 - beta2_);  // v = b2 v + (1 - b2) g^2
      Tensor denominator = sqrt(v_[i] / correction2) + eps_;
      params_[i].sub_(m_[i] / denominator, lr_ / correction1);
    }
  }

  void zero_grad() {
    for (const Tensor& p : params_) p.zero_grad();
  }

 private:
  std::vector<Tensor> params_, m_, v_;
  double lr_, beta1_, beta2_, eps_;
  int64_t t_ = 0;
};

std::string format_loss(double loss) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", loss);
  return buf;
}

std::string format_ratio(double ratio) {
  char buf[32];
  std::snprintf(buf, sizeof buf, ratio >= 10 ? "%.0fx" : "%.2fx", ratio);
  return buf;
}

double loss_value(const Tensor& loss, int64_t step) {
  double v = loss.item();
  HMR_CHECK(std::isfinite(v), ValueError, "mlp: the loss became ", v, " at step ", step,
            " (try a smaller --lr)");
  return v;
}

DemoConfig read_config(const Args& args) {
  DemoConfig c;
  c.steps = args.get_int("steps");
  c.hidden = args.get_int("hidden");
  c.samples = args.get_int("samples");
  c.log_every = args.get_int("log-every");
  c.lr = args.get_double("lr");
  int64_t seed = args.get_int("seed");
  int64_t threads = args.get_int("threads");
  if (threads < 0) throw UsageError(str("hmr mlp: --threads must be non-negative but found ", threads));
  c.threads = static_cast<int>(threads);
  if (c.steps < 1) throw UsageError(str("hmr mlp: --steps must be at least 1 but found ", c.steps));
  if (c.hidden < 1) throw UsageError(str("hmr mlp: --hidden must be at least 1 but found ", c.hidden));
  if (c.samples < 1) throw UsageError(str("hmr mlp: --samples must be at least 1 but found ", c.samples));
  if (!(c.lr > 0)) throw UsageError(str("hmr mlp: --lr must be positive but found ", c.lr));
  if (seed < 0) throw UsageError(str("hmr mlp: --seed must be non-negative but found ", seed));
  c.seed = static_cast<uint64_t>(seed);
  if (c.log_every <= 0) c.log_every = std::max<int64_t>(1, c.steps / 10);
  try {
    c.device = Device::parse(args.get("device"));
  } catch (const Error&) {
    throw UsageError(str("hmr mlp: --device expects cpu or cuda[:N] but found '", args.get("device"), "'"));
  }
  return c;
}

void check_device(const Device& device) {
  if (device.is_cpu()) return;
  HMR_CHECK(cuda::device_count() > 0, DeviceError, "mlp: --device ", device, " needs a CUDA device, but ",
            cuda::unavailable_reason());
  HMR_CHECK(device.index < cuda::device_count(), DeviceError, "mlp: --device ", device, " but only ",
            cuda::device_count(), " CUDA device(s) found");
}

int run_demo(const Args& args, Streams& s) {
  DemoConfig c = read_config(args);
  check_device(c.device);
  if (c.threads > 0) set_num_threads(c.threads);
  Generator gen(c.seed);

  // Data: N samples of the target on [-2, 2], as (N, 1) columns.
  Tensor x = rand({c.samples, 1}, c.device, &gen) * 4.0 - 2.0;
  Tensor y = sin(x * 3.0) + square(x) * 0.3;

  Linear l1(1, c.hidden, c.device, gen), l2(c.hidden, c.hidden, c.device, gen),
      l3(c.hidden, 1, c.device, gen);
  auto model = [&](const Tensor& input) { return l3.forward(tanh(l2.forward(tanh(l1.forward(input))))); };
  Adam adam({l1.weight, l1.bias, l2.weight, l2.bias, l3.weight, l3.bias}, c.lr);

  s.out << "hmr mlp: MLP 1-" << c.hidden << "-" << c.hidden << "-1 (tanh) on y = sin(3x) + 0.3x^2, "
        << c.samples << " samples, Adam lr " << c.lr << ", " << c.steps << " steps on " << c.device << "\n";
  ProgressBar bar(c.steps, "step", s.err, s.err_is_terminal);
  double initial = 0, last = 0;
  for (int64_t step = 1; step <= c.steps; ++step) {
    Tensor loss = mean(square(model(x) - y));
    adam.zero_grad();
    loss.backward();
    adam.step();
    // Reading the loss synchronises a CUDA device, so only log steps (and the first) pay it.
    bool log = step == 1 || step % c.log_every == 0 || step == c.steps;
    if (log) {
      last = loss_value(loss, step);
      if (step == 1) initial = last;
    }
    bar.update(step);
    if (log) {
      bar.clear();
      s.out << "step " << step << "/" << c.steps << "  loss " << format_loss(last) << "  " << bar.status()
            << "\n";
      s.out.flush();
    }
  }
  bar.finish();
  // The loss of the trained model, after the last update.
  double final_loss;
  {
    NoGradGuard no_grad;
    final_loss = loss_value(mean(square(model(x) - y)), c.steps);
  }
  s.out << "initial loss " << format_loss(initial) << ", final loss " << format_loss(final_loss) << " ("
        << format_ratio(initial / final_loss) << " lower) in " << format_duration(bar.elapsed_seconds())
        << "\n";
  return kExitOk;
}

}  // namespace

Command mlp_command() {
  return {"mlp",
          "train a small MLP on a synthetic function (CPU or CUDA)",
          "Train a 1-H-H-1 tanh MLP on y = sin(3x) + 0.3x^2 (x uniform in [-2, 2]) with full-batch Adam,\n"
          "printing the loss as it falls. A quick check that kernels, autograd and the device work.",
          {{"steps", "N", "training steps", "300"},
           {"lr", "LR", "Adam learning rate", "0.01"},
           {"hidden", "H", "width of the two hidden layers", "64"},
           {"samples", "N", "training samples", "4096"},
           {"seed", "S", "random seed (data and initial weights)", "0"},
           {"device", "D", "cpu or cuda[:N]", "cpu"},
           {"threads", "T", "CPU threads (0: all cores; 1 is faster on a busy machine)", "0"},
           {"log-every", "N", "print the loss every N steps (0: ten times per run)", "0"}},
          false,
          run_demo};
}

}  // namespace hmr::cli
