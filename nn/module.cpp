// Module bookkeeping: registration, dotted-name traversal, state dicts, placement and repr.
#include "nn/module.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <sstream>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "kernels/elementwise.h"

namespace hmr::nn {

namespace {

void check_name(const Module& m, const std::string& name, const char* what) {
  HMR_CHECK(!name.empty() && name.find('.') == std::string::npos, ValueError, m.type_name(),
            ": a ", what, " name must be non-empty and contain no '.', found '", name, "'");
}

// Points dst's handle at src's data (same TensorImpl, new storage/geometry/dtype), keeping dst's
// autograd identity: what PyTorch's `param.data = src` does.
void set_data(const Tensor& dst, const Tensor& src) {
  TensorImpl* d = dst.impl_ptr();
  const TensorImpl* s = src.impl_ptr();
  d->storage = s->storage;
  d->sizes = s->sizes;
  d->strides = s->strides;
  d->offset = s->offset;
  d->dtype = s->dtype;
}

Tensor converted(const Tensor& t, std::optional<Device> device, std::optional<DType> dtype) {
  DType target = t.dtype();
  // Integer and bool tensors (num_batches_tracked, index buffers) keep their dtype.
  if (dtype && is_floating(t.dtype())) target = *dtype;
  Device dev = device ? *device : t.device();
  if (target == t.dtype() && dev == t.device()) return Tensor();
  NoGradGuard no_grad;
  return t.detach().to(dev, target);
}

}  // namespace

Tensor Module::forward(const Tensor&) {
  throw ValueError(str(type_name_, ": this module has no single-tensor forward(x); call its own "
                                   "forward overload"));
}

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  check_name(*this, name, "parameter");
  HMR_CHECK(!find_slot(name), ValueError, type_name_, ": '", name, "' is already registered");
  if (t.defined()) {
    HMR_CHECK(t.is_leaf(), ValueError, type_name_, ": parameter '", name,
              "' must be a leaf tensor (detach() it first)");
    if (requires_grad) {
      HMR_CHECK(t.is_floating_point(), DTypeError, type_name_, ": parameter '", name,
                "' must be floating point to require grad, found ", t.dtype());
      t.requires_grad_(true);
    }
  }
  parameters_.push_back({name, t, true});
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t, bool persistent) {
  check_name(*this, name, "buffer");
  HMR_CHECK(!find_slot(name), ValueError, type_name_, ": '", name, "' is already registered");
  buffers_.push_back({name, t, persistent});
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_name(*this, name, "child module");
  HMR_CHECK(module != nullptr, ValueError, type_name_, ": child module '", name, "' is null");
  HMR_CHECK(!find_slot(name), ValueError, type_name_, ": '", name, "' is already registered");
  for (const auto& [n, m] : children_)
    HMR_CHECK(n != name, ValueError, type_name_, ": child module '", name, "' is already registered");
  children_.emplace_back(name, std::move(module));
}

Module::Slot* Module::find_slot(const std::string& name) {
  for (auto& s : parameters_)
    if (s.name == name) return &s;
  for (auto& s : buffers_)
    if (s.name == name) return &s;
  return nullptr;
}

void Module::replace_tensor(const std::string& name, Tensor t) {
  Slot* s = find_slot(name);
  HMR_CHECK(s, ValueError, type_name_, ": no parameter or buffer named '", name, "'");
  s->tensor = std::move(t);
}

void Module::visit(const std::string& prefix, bool recurse,
                   const std::function<void(const std::string&, const Module&)>& f) const {
  f(prefix, *this);
  if (!recurse) return;
  for (const auto& [name, child] : children_) child->visit(prefix + name + ".", true, f);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  // A parameter shared by two modules (tied weights) is listed once, as PyTorch does.
  std::set<const TensorImpl*> seen;
  visit("", recurse, [&](const std::string& prefix, const Module& m) {
    for (const auto& s : m.parameters_)
      if (s.tensor.defined() && seen.insert(s.tensor.impl_ptr()).second)
        out.emplace_back(prefix + s.name, s.tensor);
  });
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  visit("", recurse, [&](const std::string& prefix, const Module& m) {
    for (const auto& s : m.buffers_)
      if (s.tensor.defined()) out.emplace_back(prefix + s.name, s.tensor);
  });
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  return children_;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  std::function<void(const std::string&, const std::shared_ptr<Module>&)> walk =
      [&](const std::string& name, const std::shared_ptr<Module>& m) {
        out.emplace_back(name, m);
        for (const auto& [n, c] : m->children_) walk(name.empty() ? n : name + "." + n, c);
      };
  // A module held by value (not through shared_ptr) still lists itself, without ownership.
  std::shared_ptr<Module> self(std::shared_ptr<Module>{}, this);
  walk("", self);
  return out;
}

std::shared_ptr<Module> Module::child(const std::string& name) const {
  const Module* m = this;
  std::shared_ptr<Module> found;
  std::string rest = name;
  while (true) {
    size_t dot = rest.find('.');
    std::string head = rest.substr(0, dot);
    found = nullptr;
    for (const auto& [n, c] : m->children_)
      if (n == head) found = c;
    HMR_CHECK(found, ValueError, type_name_, ": no child module named '", name, "'");
    if (dot == std::string::npos) return found;
    m = found.get();
    rest = rest.substr(dot + 1);
  }
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (const auto& t : parameters()) n += t.numel();
  return n;
}

TensorDict Module::state_dict() const {
  TensorDict d;
  visit("", true, [&](const std::string& prefix, const Module& m) {
    for (const auto& s : m.parameters_)
      if (s.tensor.defined()) d.set(prefix + s.name, s.tensor.detach());
    for (const auto& s : m.buffers_)
      if (s.tensor.defined() && s.persistent) d.set(prefix + s.name, s.tensor.detach());
  });
  return d;
}

Module::LoadResult Module::load_state_dict(const TensorDict& dict, bool strict) {
  // The module's own tensors under their dotted names (undetached: we write into them).
  std::vector<std::pair<std::string, Tensor>> targets;
  visit("", true, [&](const std::string& prefix, const Module& m) {
    for (const auto& s : m.parameters_)
      if (s.tensor.defined()) targets.emplace_back(prefix + s.name, s.tensor);
    for (const auto& s : m.buffers_)
      if (s.tensor.defined() && s.persistent) targets.emplace_back(prefix + s.name, s.tensor);
  });

  LoadResult result;
  std::vector<std::string> mis_shaped;
  std::set<std::string> wanted;
  for (const auto& [name, t] : targets) {
    wanted.insert(name);
    const Tensor* src = dict.find(name);
    if (!src) {
      result.missing.push_back(name);
    } else if (src->sizes() != t.sizes()) {
      mis_shaped.push_back(str(name, " (checkpoint ", src->sizes(), ", model ", t.sizes(), ")"));
    }
  }
  for (const auto& [name, t] : dict)
    if (!wanted.count(name)) result.unexpected.push_back(name);

  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s;
  };
  bool fail = !mis_shaped.empty() || (strict && (!result.missing.empty() || !result.unexpected.empty()));
  if (fail) {
    std::string msg = type_name_ + ".load_state_dict: the state dict does not match the model";
    if (!result.missing.empty()) msg += str("\n  missing keys (", result.missing.size(), "): ", list(result.missing));
    if (!result.unexpected.empty())
      msg += str("\n  unexpected keys (", result.unexpected.size(), "): ", list(result.unexpected));
    if (!mis_shaped.empty()) msg += str("\n  shape mismatches (", mis_shaped.size(), "): ", list(mis_shaped));
    throw ValueError(msg);
  }
  for (const auto& [name, t] : targets) {
    const Tensor* src = dict.find(name);
    if (!src) continue;
    kernels::copy(t, *src);  // converts dtype and crosses devices
    t.bump_version();
  }
  return result;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

Module& Module::convert(std::optional<Device> device, std::optional<DType> dtype) {
  visit("", true, [&](const std::string&, const Module& m) {
    auto move = [&](const Tensor& t) {
      if (!t.defined()) return;
      Tensor c = converted(t, device, dtype);
      if (c.defined()) set_data(t, c);
      Tensor g = t.grad();
      if (g.defined()) {
        Tensor gc = converted(g, device, dtype);
        if (gc.defined()) t.set_grad(gc);
      }
    };
    for (const auto& s : m.parameters_) move(s.tensor);
    for (const auto& s : m.buffers_) move(s.tensor);
  });
  return *this;
}

Module& Module::to(Device device) { return convert(device, std::nullopt); }
Module& Module::to(DType dtype) {
  HMR_CHECK(is_floating(dtype), DTypeError, type_name_, ".to: expected a floating dtype but found ", dtype);
  return convert(std::nullopt, dtype);
}
Module& Module::to(Device device, DType dtype) {
  HMR_CHECK(is_floating(dtype), DTypeError, type_name_, ".to: expected a floating dtype but found ", dtype);
  return convert(device, dtype);
}

void Module::zero_grad(bool set_to_none) {
  for (auto& p : parameters()) {
    if (set_to_none) {
      p.zero_grad();
    } else if (p.grad().defined()) {
      Tensor g = p.grad();
      kernels::fill(g, 0.0);
      g.bump_version();
    }
  }
}

void Module::repr_into(std::string& out, int indent) const {
  out += type_name_ + "(" + extra_repr();
  if (children_.empty()) {
    out += ")";
    return;
  }
  out += "\n";
  for (const auto& [name, child] : children_) {
    out += std::string(static_cast<size_t>(indent + 2), ' ') + "(" + name + "): ";
    child->repr_into(out, indent + 2);
    out += "\n";
  }
  out += std::string(static_cast<size_t>(indent), ' ') + ")";
}

std::string Module::to_string() const {
  std::string s;
  repr_into(s, 0);
  return s;
}

std::ostream& operator<<(std::ostream& os, const Module& m) { return os << m.to_string(); }

// ---- containers ----------------------------------------------------------------------------------

Sequential::Sequential(std::vector<std::shared_ptr<Module>> modules) : Module("Sequential") {
  for (auto& m : modules) push_back(std::move(m));
}

Sequential& Sequential::push_back(std::shared_ptr<Module> module) {
  return push_back(std::to_string(modules_.size()), std::move(module));
}

Sequential& Sequential::push_back(const std::string& name, std::shared_ptr<Module> module) {
  add_child(name, module);
  modules_.push_back(std::move(module));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& m : modules_) y = m->forward(y);
  return y;
}

ModuleList::ModuleList(std::vector<std::shared_ptr<Module>> modules) : Module("ModuleList") {
  for (auto& m : modules) push_back(std::move(m));
}

ModuleList& ModuleList::push_back(std::shared_ptr<Module> module) {
  add_child(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
  return *this;
}

}  // namespace hmr::nn
