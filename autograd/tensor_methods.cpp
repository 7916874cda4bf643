// The op methods declared on Tensor (tensor/tensor.h): thin forwards to the free functions,
// plus the autograd accessors.
#include "autograd/engine.h"
#include "autograd/function.h"
#include "autograd/ops.h"
#include "kernels/elementwise.h"
#include "kernels/plan.h"

namespace hmr {

namespace {
AutogradMeta& meta(const Tensor& t) {
  auto& m = t.impl_ptr()->autograd;
  if (!m) m = std::make_shared<AutogradMeta>();
  return *m;
}
}  // namespace

bool Tensor::requires_grad() const {
  refresh_view_history(*this);
  const auto& m = impl().autograd;
  return m && m->requires_grad;
}

Tensor& Tensor::requires_grad_(bool requires) {
  HMR_CHECK(is_leaf() || requires, AutogradError,
            "requires_grad_: you can only change requires_grad flags of leaf tensors (use detach())");
  HMR_CHECK(!requires || is_floating_point(), AutogradError,
            "requires_grad_: only floating-point tensors can require gradients, found ", dtype());
  meta(*this).requires_grad = requires;
  return *this;
}

Tensor Tensor::grad() const {
  const auto& m = impl().autograd;
  return m ? m->grad : Tensor();
}

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined())
    HMR_CHECK(g.sizes() == sizes(), ShapeError, "set_grad: gradient of shape ", g.sizes(),
              " for a tensor of shape ", sizes());
  meta(*this).grad = g;
}

void Tensor::zero_grad() const {
  if (impl().autograd) impl().autograd->grad = Tensor();
}

bool Tensor::is_leaf() const {
  refresh_view_history(*this);
  const auto& m = impl().autograd;
  return !m || !m->grad_fn;
}

std::shared_ptr<Node> Tensor::grad_fn() const {
  refresh_view_history(*this);
  const auto& m = impl().autograd;
  return m ? m->grad_fn : nullptr;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  run_backward({*this}, {gradient}, retain_graph);
}

Tensor Tensor::detach() const {
  return Tensor::make_view(storage(), sizes(), strides(), offset(), dtype());
}

void Tensor::retain_grad() const {
  HMR_CHECK(requires_grad(), AutogradError, "retain_grad: the tensor does not require grad");
  if (is_leaf()) return;
  AutogradMeta& m = meta(*this);
  if (m.retains_grad) return;
  m.retains_grad = true;
  std::weak_ptr<TensorImpl> weak = impl_;
  m.grad_fn->pre_hooks().push_back({m.output_nr, [weak](const Tensor& g) {
                                      if (auto impl = weak.lock()) {
                                        Tensor self(impl);
                                        Tensor prev = self.grad();
                                        self.impl_ptr()->autograd->grad = prev.defined() ? add(prev, g) : g.clone();
                                      }
                                      return Tensor();
                                    }});
}

void Tensor::register_hook(std::function<Tensor(const Tensor&)> hook) const {
  HMR_CHECK(requires_grad(), AutogradError, "register_hook: cannot register a hook on a tensor that "
            "doesn't require gradient");
  AutogradMeta& m = meta(*this);
  if (is_leaf()) m.leaf_hooks.push_back(std::move(hook));
  else m.grad_fn->pre_hooks().push_back({m.output_nr, std::move(hook)});
}

Tensor Tensor::reshape(const Shape& shape) const { return hmr::reshape(*this, shape); }
Tensor Tensor::view(const Shape& shape) const { return hmr::view(*this, shape); }
Tensor Tensor::permute(const Shape& dims) const { return hmr::permute(*this, dims); }
Tensor Tensor::transpose(int64_t d0, int64_t d1) const { return hmr::transpose(*this, d0, d1); }
Tensor Tensor::t() const {
  HMR_CHECK(dim() <= 2, ShapeError, "t: expects a tensor with <= 2 dimensions, but self is ", dim(), "D");
  return dim() < 2 ? *this : hmr::transpose(*this, 0, 1);
}
Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const { return hmr::narrow(*this, d, start, length); }
Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  return hmr::slice(*this, d, start, end, step);
}
Tensor Tensor::select(int64_t d, int64_t index) const { return hmr::select(*this, d, index); }
Tensor Tensor::expand(const Shape& s) const { return hmr::expand(*this, s); }
Tensor Tensor::expand_as(const Tensor& other) const { return hmr::expand(*this, other.sizes()); }
Tensor Tensor::squeeze() const { return hmr::squeeze(*this); }
Tensor Tensor::squeeze(int64_t d) const { return hmr::squeeze(*this, d); }
Tensor Tensor::unsqueeze(int64_t d) const { return hmr::unsqueeze(*this, d); }
Tensor Tensor::flatten(int64_t s, int64_t e) const { return hmr::flatten(*this, s, e); }
Tensor Tensor::contiguous() const { return hmr::contiguous(*this); }
Tensor Tensor::clone() const { return hmr::clone(*this); }
Tensor Tensor::to(Device d) const { return hmr::to(*this, d, dtype()); }
Tensor Tensor::to(DType t) const { return hmr::to(*this, device(), t); }
Tensor Tensor::to(Device d, DType t) const { return hmr::to(*this, d, t); }

Tensor Tensor::sum() const { return hmr::sum(*this); }
Tensor Tensor::sum(const Shape& dims, bool keepdim) const { return hmr::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return hmr::mean(*this); }
Tensor Tensor::mean(const Shape& dims, bool keepdim) const { return hmr::mean(*this, dims, keepdim); }
Tensor Tensor::abs() const { return hmr::abs(*this); }
Tensor Tensor::exp() const { return hmr::exp(*this); }
Tensor Tensor::log() const { return hmr::log(*this); }
Tensor Tensor::sqrt() const { return hmr::sqrt(*this); }
Tensor Tensor::pow(const Scalar& e) const { return hmr::pow(*this, e); }
Tensor Tensor::matmul(const Tensor& other) const { return hmr::matmul(*this, other); }

// ---- in-place ------------------------------------------------------------------------------
// Without history to keep, the kernel writes into self directly. With history, the op runs
// out of place (recording its backward), its value is copied into self, and self takes over
// the result's history (rebase_history).
namespace {
template <class F>
Tensor& inplace(Tensor& self, const char* op, const std::vector<Tensor>& others, F compute) {
  check_inplace(self, op);
  std::vector<Tensor> inputs = others;
  inputs.push_back(self);
  Tensor result = compute();
  HMR_CHECK(kernels::broadcast_shapes(self.sizes(), result.sizes(), op) == self.sizes(), ShapeError, op,
            ": output with shape ", self.sizes(), " doesn't match the broadcast shape ", result.sizes());
  kernels::copy(self, result);
  self.bump_version();
  if (any_requires_grad(inputs)) rebase_history(self, result.sizes() == self.sizes() ? result : expand(result, self.sizes()), op);
  return self;
}
}  // namespace

Tensor& Tensor::copy_(const Tensor& src) {
  return inplace(*this, "copy_", {src}, [&] {
    Tensor s = src.device() == device() ? src : src.to(device());
    // History: the gradient goes to src only (self is overwritten).
    Tensor y = hmr::to(s, device(), dtype());
    return y.is_same(src) ? hmr::clone(src) : y;
  });
}

Tensor& Tensor::fill_(const Scalar& value) {
  check_inplace(*this, "fill_");
  kernels::fill(*this, value.to_double());
  bump_version();
  if (requires_grad() && GradMode::is_enabled()) rebase_history(*this, hmr::zeros(sizes(), {dtype(), device()}), "fill_");
  return *this;
}

Tensor& Tensor::zero_() { return fill_(0); }

Tensor& Tensor::add_(const Tensor& other, const Scalar& alpha) {
  return inplace(*this, "add_", {other}, [&] { return hmr::add(*this, other, alpha); });
}
Tensor& Tensor::sub_(const Tensor& other, const Scalar& alpha) {
  return inplace(*this, "sub_", {other}, [&] { return hmr::sub(*this, other, alpha); });
}
Tensor& Tensor::mul_(const Tensor& other) {
  return inplace(*this, "mul_", {other}, [&] {
    // other's gradient needs self's value before the write: save a copy the write cannot reach.
    bool saves_self = GradMode::is_enabled() && other.requires_grad();
    return hmr::mul(saves_self ? hmr::clone(*this) : *this, other);
  });
}
Tensor& Tensor::mul_(const Scalar& other) {
  return inplace(*this, "mul_", {}, [&] { return hmr::mul(*this, other); });
}
Tensor& Tensor::div_(const Tensor& other) {
  return inplace(*this, "div_", {other}, [&] { return hmr::div(*this, other); });
}
Tensor& Tensor::div_(const Scalar& other) {
  return inplace(*this, "div_", {}, [&] { return hmr::div(*this, other); });
}

}  // namespace hmr
