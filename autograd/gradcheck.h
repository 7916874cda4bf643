// Finite-difference gradient checking in f64, for every differentiable op and every layer.
//
//   auto f = [](const std::vector<Tensor>& in) { return hmr::sigmoid(in[0]) * in[1]; };
//   GradcheckResult r = gradcheck(f, {x, y});   // x, y: f64 tensors with requires_grad
//   EXPECT_TRUE(r.ok) << r.message;
//
// For each input requiring grad and each element, the central difference
// (f(x + eps) - f(x - eps)) / 2eps of <f(x), v> for a fixed random v is compared with the
// analytical vector-Jacobian product from backward().
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hmr {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  uint64_t seed = 1234;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // first mismatch: input, element, numerical and analytical values
  double max_abs_error = 0;
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace hmr
