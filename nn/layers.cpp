// Linear, shape helpers and activation modules (nn/layers.h).
#include "nn/layers.h"

#include <cmath>
#include <sstream>

#include "autograd/grad_mode.h"
#include "nn/init.h"

namespace hmr::nn {

namespace {
std::string py_bool(bool b) { return b ? "True" : "False"; }
std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace

Linear::Linear(int64_t in, int64_t out, bool with_bias, TensorOptions opts)
    : Module("Linear"), in_features(in), out_features(out) {
  HMR_CHECK(in >= 0 && out >= 0, ValueError, "Linear: feature counts must be >= 0, found in=", in,
            " out=", out);
  opts.requires_grad = false;
  weight = register_parameter("weight", empty({out, in}, opts));
  bias = register_parameter("bias", with_bias ? empty({out}, opts) : Tensor());
  reset_parameters();
}

void Linear::reset_parameters(Generator* gen) {
  NoGradGuard no_grad;
  if (in_features > 0) init::kaiming_uniform_(weight, std::sqrt(5.0), "fan_in", "leaky_relu", gen);
  if (bias.defined()) {
    double bound = in_features > 0 ? 1.0 / std::sqrt(static_cast<double>(in_features)) : 0.0;
    init::uniform_(bias, -bound, bound, gen);
  }
}

Tensor Linear::forward(const Tensor& x) {
  HMR_CHECK(x.dim() >= 1 && x.size(-1) == in_features, ShapeError, "Linear: expected input (..., ",
            in_features, ") but found ", x.sizes());
  Tensor y = matmul(x, weight.t());
  return bias.defined() ? y + bias : y;
}

std::string Linear::extra_repr() const {
  return str("in_features=", in_features, ", out_features=", out_features, ", bias=", py_bool(bias.defined()));
}

Tensor Flatten::forward(const Tensor& x) { return flatten(x, start_dim, end_dim); }
std::string Flatten::extra_repr() const { return str("start_dim=", start_dim, ", end_dim=", end_dim); }

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor LeakyReLU::forward(const Tensor& x) { return leaky_relu(x, negative_slope); }
std::string LeakyReLU::extra_repr() const { return "negative_slope=" + num(negative_slope); }
Tensor GELU::forward(const Tensor& x) { return gelu(x); }
Tensor SiLU::forward(const Tensor& x) { return silu(x); }
Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x); }
Tensor Tanh::forward(const Tensor& x) { return tanh(x); }
Tensor Softplus::forward(const Tensor& x) {
  if (beta == 1.0) return softplus(x, threshold);
  return softplus(x * beta, threshold) / beta;
}
std::string Softplus::extra_repr() const { return "beta=" + num(beta) + ", threshold=" + num(threshold); }
Tensor ELU::forward(const Tensor& x) { return elu(x, alpha); }
std::string ELU::extra_repr() const { return "alpha=" + num(alpha); }

}  // namespace hmr::nn
