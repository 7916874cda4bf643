#include "autograd/function.h"

#include <atomic>

#include "autograd/ops.h"
#include "kernels/elementwise.h"

namespace hmr {

namespace {
thread_local bool grad_enabled = true;
}  // namespace

bool GradMode::is_enabled() { return grad_enabled; }
void GradMode::set_enabled(bool enabled) { grad_enabled = enabled; }

uint64_t Node::next_sequence_nr() {
  static std::atomic<uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed);
}

SavedTensor::SavedTensor(const Tensor& t, const char* what) : what_(what) {
  if (!t.defined()) return;
  // A detached alias: same storage and geometry, no autograd state (so no cycle through grad_fn).
  data_ = Tensor::make_view(t.storage(), t.sizes(), t.strides(), t.offset(), t.dtype());
  version_ = t.version();
}

Tensor SavedTensor::unpack() const {
  if (!data_.defined()) return data_;
  HMR_CHECK(data_.version() == version_, AutogradError,
            "backward: one of the tensors needed for gradient computation (", what_,
            ") has been modified by an in-place operation: it is at version ", data_.version(),
            ", expected version ", version_);
  return data_;
}

std::vector<Tensor> FunctionNode::apply(std::vector<Tensor>&& grads) {
  HMR_CHECK(fn_, AutogradError, "backward: trying to backward through ", name(),
            " a second time (its saved tensors were freed after the first backward; pass "
            "retain_graph=true the first time)");
  return fn_(grads);
}

bool any_requires_grad(std::initializer_list<Tensor> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined()) return {};
  refresh_view_history(t);
  AutogradMeta* meta = t.impl_ptr()->autograd.get();
  if (!meta || !meta->requires_grad) return {};
  if (meta->grad_fn) return {meta->grad_fn, meta->output_nr};
  std::shared_ptr<AccumulateGrad> acc = meta->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_shared());
    meta->grad_accumulator = acc;
  }
  return {acc, 0};
}

namespace {

AutogradMeta& meta_of(const Tensor& t) {
  auto& m = t.impl_ptr()->autograd;
  if (!m) m = std::make_shared<AutogradMeta>();
  return *m;
}

std::shared_ptr<Node> make_node(const char* name, const std::vector<Tensor>& inputs, BackwardFn fn) {
  auto node = std::make_shared<FunctionNode>(name, std::move(fn));
  node->next_edges().reserve(inputs.size());
  node->input_meta().reserve(inputs.size());
  for (const Tensor& t : inputs) {
    node->next_edges().push_back(gradient_edge(t));
    if (t.defined()) node->input_meta().push_back({t.sizes(), t.dtype(), t.device()});
    else node->input_meta().push_back({{}, DType::F32, Device::cpu()});
  }
  return node;
}

}  // namespace

Tensor record(const char* name, const std::vector<Tensor>& inputs, Tensor out,
              std::function<std::vector<Tensor>(const Tensor& grad)> backward) {
  if (!any_requires_grad(inputs)) return out;
  auto node = make_node(name, inputs, [backward = std::move(backward)](const std::vector<Tensor>& g) {
    return backward(g[0]);
  });
  AutogradMeta& m = meta_of(out);
  m.requires_grad = true;
  m.grad_fn = std::move(node);
  m.output_nr = 0;
  return out;
}

std::vector<Tensor> record_multi(const char* name, const std::vector<Tensor>& inputs,
                                 std::vector<Tensor> outputs, BackwardFn backward,
                                 const std::vector<bool>& differentiable) {
  if (!any_requires_grad(inputs)) return outputs;
  auto node = make_node(name, inputs, std::move(backward));
  node->set_num_outputs(static_cast<int>(outputs.size()));
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (!differentiable.empty() && !differentiable[i]) continue;
    AutogradMeta& m = meta_of(outputs[i]);
    m.requires_grad = true;
    m.grad_fn = node;
    m.output_nr = static_cast<int>(i);
  }
  return outputs;
}

void mark_view(const Tensor& out, const Tensor& base) {
  // Also when base needs no grad: writing a tensor that does into the view must give base history.
  if (!GradMode::is_enabled()) return;
  const auto& bm = base.impl_ptr()->autograd;
  AutogradMeta& m = meta_of(out);
  m.view_base = bm && bm->view_base ? bm->view_base : base.impl_shared();
  m.view_version = out.version();
}

void refresh_view_history(const Tensor& t) {
  AutogradMeta* m = t.impl_ptr()->autograd.get();
  if (!m || !m->view_base || m->view_version == t.version()) return;
  m->view_version = t.version();  // first, so the regeneration below cannot recurse here
  Tensor base(m->view_base);
  // A base without history has nothing to replay; writes into a non-contiguous base with
  // autograd are refused in rebase_history, so only a no-grad write could reach here.
  if (!base.requires_grad() || !base.is_contiguous()) return;
  EnableGradGuard grad_on;
  Tensor again = as_strided(base, t.sizes(), t.strides(), t.offset());
  m->requires_grad = true;
  m->grad_fn = again.grad_fn();
  m->output_nr = 0;
}

void check_inplace(const Tensor& self, const char* op) {
  if (!GradMode::is_enabled()) return;
  HMR_CHECK(!(self.requires_grad() && self.is_leaf()), AutogradError, op,
            ": a leaf tensor that requires grad is being used in an in-place operation "
            "(wrap the update in NoGradGuard, as optimizers do)");
  const auto& m = self.impl_ptr()->autograd;
  if (m && m->view_base) {
    Tensor base(m->view_base);
    HMR_CHECK(!(base.requires_grad() && base.is_leaf()), AutogradError, op,
              ": an in-place operation on a view of a leaf tensor that requires grad");
  }
}

void rebase_history(const Tensor& self, const Tensor& result, const char* op) {
  AutogradMeta& m = meta_of(self);
  if (!m.view_base && !result.requires_grad()) {
    // Overwritten by a constant: earlier history no longer reaches self.
    m.grad_fn = nullptr;
    m.requires_grad = false;
    return;
  }
  if (!m.view_base) {
    m.requires_grad = true;
    m.grad_fn = result.grad_fn();
    m.output_nr = result.impl_ptr()->autograd->output_nr;
    return;
  }
  // self is a view of base: base's new history takes base's old gradient everywhere outside
  // the view's region, and result's gradient inside it (PyTorch's CopySlices). A constant
  // result still needs this, to cut base's old gradient off inside the region.
  Tensor base(m.view_base);
  if (!base.requires_grad() && !result.requires_grad()) return;
  Shape sizes = self.sizes(), strides = self.strides();
  int64_t offset = self.offset() - base.offset();
  HMR_CHECK(base.is_contiguous(), AutogradError, op, ": in-place write through a view of a "
            "non-contiguous tensor is not supported with autograd");
  Tensor base_alias = Tensor::make_view(base.storage(), base.sizes(), base.strides(), base.offset(), base.dtype());
  std::vector<Tensor> inputs = {base_alias, result};
  // The edge for the base must be its *old* history, so build inputs from the old metadata.
  if (base.impl_ptr()->autograd) base_alias.impl_ptr()->autograd = std::make_shared<AutogradMeta>(*base.impl_ptr()->autograd);
  Tensor new_base = record("CopySlices", inputs, Tensor::make_view(base.storage(), base.sizes(), base.strides(), base.offset(), base.dtype()),
                           [sizes, strides, offset](const Tensor& g) -> std::vector<Tensor> {
                             Tensor g_base = g.contiguous().clone();
                             Tensor region = as_strided(g_base, sizes, strides, offset);
                             Tensor g_result = region.clone();
                             kernels::fill(region, 0.0);
                             return {g_base, g_result};
                           });
  AutogradMeta& bm = meta_of(base);
  bm.requires_grad = true;
  bm.grad_fn = new_base.grad_fn();
  bm.output_nr = 0;
  // The view's own history now reads its region out of the new base.
  Tensor view_again = as_strided(base, sizes, strides, self.offset());
  m.requires_grad = true;
  m.grad_fn = view_again.grad_fn();
  m.output_nr = 0;
  m.view_version = self.version();
}

}  // namespace hmr
