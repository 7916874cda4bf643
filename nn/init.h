// Parameter initialisers with the formulas of torch.nn.init, so a layer built here starts from
// the same distribution as its PyTorch twin. They write in place without recording history
// (as PyTorch runs them under no_grad) and draw from gen, or the default generator.
#pragma once

#include <string>
#include <utility>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace hmr::nn::init {

// (fan_in, fan_out) of a weight shaped (out, in, *kernel): in * prod(kernel), out * prod(kernel).
std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor& weight);

// The recommended gain for a nonlinearity: "linear", "conv{1,2,3}d", "sigmoid" -> 1,
// "tanh" -> 5/3, "relu" -> sqrt(2), "leaky_relu" -> sqrt(2 / (1 + slope^2)), "selu" -> 3/4.
// param is leaky_relu's negative slope (PyTorch's default 0.01 when negative, i.e. not given).
double calculate_gain(const std::string& nonlinearity, double param = -1.0);

// U(low, high).
Tensor& uniform_(Tensor& t, double low = 0.0, double high = 1.0, Generator* gen = nullptr);

// U(-b, b) with b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a);
// mode is "fan_in" or "fan_out". torch.nn.Linear's weights use a = sqrt(5).
Tensor& kaiming_uniform_(Tensor& t, double a = 0.0, const std::string& mode = "fan_in",
                         const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);

// U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).
Tensor& xavier_uniform_(Tensor& t, double gain = 1.0, Generator* gen = nullptr);

// N(mean, std^2).
Tensor& normal_(Tensor& t, double mean = 0.0, double std = 1.0, Generator* gen = nullptr);
// N(0, s^2) with s = gain / sqrt(fan): torchvision's ResNet convolutions use
// kaiming_normal_(w, mode="fan_out", nonlinearity="relu").
Tensor& kaiming_normal_(Tensor& t, double a = 0.0, const std::string& mode = "fan_in",
                        const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
// N(0, s^2) with s = gain * sqrt(2 / (fan_in + fan_out)).
Tensor& xavier_normal_(Tensor& t, double gain = 1.0, Generator* gen = nullptr);
Tensor& constant_(Tensor& t, double value);
Tensor& zeros_(Tensor& t);
Tensor& ones_(Tensor& t);

}  // namespace hmr::nn::init
