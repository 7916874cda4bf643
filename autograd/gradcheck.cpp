#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/engine.h"
#include "autograd/ops.h"
#include "kernels/elementwise.h"

namespace hmr {

namespace {

double weighted_sum(const Tensor& y, const Tensor& v) {
  NoGradGuard no_grad;
  return sum(mul(y.to(DType::F64), v)).item<double>();
}

}  // namespace

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  GradcheckResult result;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (t.defined() && t.requires_grad())
      HMR_CHECK(t.dtype() == DType::F64 && t.device().is_cpu(), ValueError, "gradcheck: input ", i,
                " must be a float64 CPU tensor, found ", t.dtype(), " on ", t.device());
  }
  // Analytical: backward of <f(x), v>.
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) {
    if (!t.defined() || !t.requires_grad()) {
      leaves.push_back(t);
      continue;
    }
    Tensor leaf = t.detach().clone();
    leaf.requires_grad_(true);
    leaves.push_back(leaf);
  }
  Tensor y = fn(leaves);
  Generator gen(opt.seed);
  Tensor v = randn(y.sizes(), DType::F64, &gen);
  std::vector<Tensor> wrt;
  std::vector<size_t> which;
  for (size_t i = 0; i < leaves.size(); ++i)
    if (leaves[i].defined() && leaves[i].requires_grad()) {
      wrt.push_back(leaves[i]);
      which.push_back(i);
    }
  HMR_CHECK(!wrt.empty(), ValueError, "gradcheck: no input requires grad");
  HMR_CHECK(y.requires_grad(), ValueError, "gradcheck: the output does not depend on any input requiring grad");
  std::vector<Tensor> analytic = grad({y}, wrt, {v.to(y.dtype())}, false, true);

  // Numerical: perturb one element at a time (on contiguous copies).
  NoGradGuard no_grad;
  std::vector<Tensor> work;
  for (const Tensor& t : leaves) work.push_back(t.defined() ? t.detach().clone() : t);
  for (size_t k = 0; k < wrt.size(); ++k) {
    size_t i = which[k];
    Tensor x = work[i];
    double* data = x.data<double>();
    std::vector<double> a = analytic[k].defined() ? analytic[k].contiguous().to_vector<double>()
                                                  : std::vector<double>(x.numel(), 0.0);
    for (int64_t e = 0; e < x.numel(); ++e) {
      double orig = data[e];
      data[e] = orig + opt.eps;
      double fp = weighted_sum(fn(work), v);
      data[e] = orig - opt.eps;
      double fm = weighted_sum(fn(work), v);
      data[e] = orig;
      double numeric = (fp - fm) / (2 * opt.eps);
      double err = std::fabs(numeric - a[e]);
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (result.ok && err > opt.atol + opt.rtol * std::fabs(numeric)) {
        result.ok = false;
        std::ostringstream os;
        os << "gradcheck: Jacobian mismatch for input " << i << " (shape " << str(x.sizes()) << "), element " << e
           << ": numerical " << numeric << ", analytical " << a[e];
        result.message = os.str();
      }
    }
  }
  return result;
}

}  // namespace hmr
