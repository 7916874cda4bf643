// torch.nn.init's initialisers. The draw goes straight to the random kernel: a
// parameter is a leaf that requires grad, and initialising it is not part of any graph.
#include "nn/init.h"

#include <cmath>

#include "kernels/elementwise.h"

namespace hmr::nn::init {

std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor& weight) {
  HMR_CHECK(weight.dim() >= 2, ShapeError,
            "init: fan in and fan out need a tensor with at least 2 dims but found shape ", weight.sizes());
  int64_t receptive_field = 1;
  for (int64_t d = 2; d < weight.dim(); ++d) receptive_field *= weight.size(d);
  return {weight.size(1) * receptive_field, weight.size(0) * receptive_field};
}

double calculate_gain(const std::string& nonlinearity, double param) {
  if (nonlinearity == "linear" || nonlinearity == "sigmoid" || nonlinearity == "identity" ||
      nonlinearity == "conv1d" || nonlinearity == "conv2d" || nonlinearity == "conv3d" ||
      nonlinearity == "conv_transpose1d" || nonlinearity == "conv_transpose2d" ||
      nonlinearity == "conv_transpose3d")
    return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "selu") return 3.0 / 4.0;
  if (nonlinearity == "leaky_relu") {
    double slope = param < 0 ? 0.01 : param;
    return std::sqrt(2.0 / (1.0 + slope * slope));
  }
  throw ValueError(str("init.calculate_gain: unsupported nonlinearity '", nonlinearity, "'"));
}

Tensor& uniform_(Tensor& t, double low, double high, Generator* gen) {
  HMR_CHECK(t.is_floating_point(), DTypeError, "init.uniform_: expected a floating tensor but found ",
            t.dtype());
  HMR_CHECK(low <= high, ValueError, "init.uniform_: expected low <= high but found [", low, ", ", high, ")");
  kernels::uniform(t, low, high, gen ? *gen : default_generator());
  t.bump_version();
  return t;
}

Tensor& kaiming_uniform_(Tensor& t, double a, const std::string& mode, const std::string& nonlinearity,
                         Generator* gen) {
  HMR_CHECK(mode == "fan_in" || mode == "fan_out", ValueError,
            "init.kaiming_uniform_: mode must be 'fan_in' or 'fan_out' but found '", mode, "'");
  auto [fan_in, fan_out] = fan_in_and_fan_out(t);
  int64_t fan = mode == "fan_in" ? fan_in : fan_out;
  HMR_CHECK(fan > 0, ShapeError, "init.kaiming_uniform_: zero fan in a tensor of shape ", t.sizes());
  double bound = calculate_gain(nonlinearity, a) * std::sqrt(3.0 / static_cast<double>(fan));
  return uniform_(t, -bound, bound, gen);
}

Tensor& xavier_uniform_(Tensor& t, double gain, Generator* gen) {
  auto [fan_in, fan_out] = fan_in_and_fan_out(t);
  HMR_CHECK(fan_in + fan_out > 0, ShapeError, "init.xavier_uniform_: zero fans in a tensor of shape ",
            t.sizes());
  double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform_(t, -bound, bound, gen);
}

Tensor& normal_(Tensor& t, double mean, double std, Generator* gen) {
  HMR_CHECK(t.is_floating_point(), DTypeError, "init.normal_: expected a floating tensor but found ",
            t.dtype());
  HMR_CHECK(std >= 0, ValueError, "init.normal_: expected std >= 0 but found ", std);
  kernels::normal(t, mean, std, gen ? *gen : default_generator());
  t.bump_version();
  return t;
}

Tensor& kaiming_normal_(Tensor& t, double a, const std::string& mode, const std::string& nonlinearity,
                        Generator* gen) {
  HMR_CHECK(mode == "fan_in" || mode == "fan_out", ValueError,
            "init.kaiming_normal_: mode must be 'fan_in' or 'fan_out' but found '", mode, "'");
  auto [fan_in, fan_out] = fan_in_and_fan_out(t);
  int64_t fan = mode == "fan_in" ? fan_in : fan_out;
  HMR_CHECK(fan > 0, ShapeError, "init.kaiming_normal_: zero fan in a tensor of shape ", t.sizes());
  return normal_(t, 0.0, calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan)), gen);
}

Tensor& xavier_normal_(Tensor& t, double gain, Generator* gen) {
  auto [fan_in, fan_out] = fan_in_and_fan_out(t);
  HMR_CHECK(fan_in + fan_out > 0, ShapeError, "init.xavier_normal_: zero fans in a tensor of shape ",
            t.sizes());
  return normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)), gen);
}

Tensor& constant_(Tensor& t, double value) {
  kernels::fill(t, value);
  t.bump_version();
  return t;
}
Tensor& zeros_(Tensor& t) { return constant_(t, 0.0); }
Tensor& ones_(Tensor& t) { return constant_(t, 1.0); }

}  // namespace hmr::nn::init
