// Module: the unit networks are built from, as torch.nn.Module. A module owns named parameters
// (leaf tensors that require grad), named buffers (state that is saved but not trained, such as
// BatchNorm's running statistics) and named child modules. Names compose with dots
// ("layer1.0.conv1.weight"), so state dicts read exactly like PyTorch's and official
// checkpoints load as they are.
//
// Tensors are handles: a layer keeps its own handle to each parameter it registered, and
// Module::to() converts parameters in place (as PyTorch's `param.data = ...`), so those handles
// stay valid after moving a model to another device or dtype.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"
#include "tensor/tensor_dict.h"

namespace hmr::nn {

class Module : public std::enable_shared_from_this<Module> {
 public:
  explicit Module(std::string type_name = "Module") : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The single-tensor forward that Sequential chains. Modules with other signatures define
  // their own forward overloads; calling this one on them is a ValueError naming the type.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  const std::string& type_name() const { return type_name_; }

  // ---- registration (call from constructors) -------------------------------------------------
  // Registers t as a parameter (made a leaf that requires grad) and returns the stored handle.
  // An undefined t registers an absent parameter (e.g. bias=false): it is skipped everywhere.
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  // persistent = false keeps a buffer out of the state dict (PyTorch's persistent=False).
  Tensor register_buffer(const std::string& name, Tensor t, bool persistent = true);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }
  // Replaces the tensor held under an existing parameter or buffer name (e.g. a layer that
  // re-creates its weight); the caller's old handles no longer refer to the module's tensor.
  void replace_tensor(const std::string& name, Tensor t);

  // ---- traversal -------------------------------------------------------------------------------
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  // This module (named "") and every descendant, depth first, in registration order.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules();
  // The child registered under name (nested names with dots); ValueError when absent.
  std::shared_ptr<Module> child(const std::string& name) const;
  int64_t parameter_count() const;  // number of scalars in all parameters

  // ---- state ---------------------------------------------------------------------------------
  // Parameters and persistent buffers by dotted name, in registration order. The tensors are
  // the module's own (detached handles sharing storage), as PyTorch's state_dict().
  TensorDict state_dict() const;
  struct LoadResult {
    std::vector<std::string> missing, unexpected;
  };
  // Copies matching entries into the module's tensors (converting dtype and device). strict:
  // any missing or unexpected key, or any shape mismatch, is a ValueError that lists them all
  // and nothing is copied. Not strict: shape mismatches are still errors; missing and unexpected
  // keys are returned.
  LoadResult load_state_dict(const TensorDict& dict, bool strict = true);

  // ---- mode, placement, gradients ------------------------------------------------------------
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Moves/converts floating parameters and buffers (and their grads); integer buffers such as
  // num_batches_tracked keep their dtype and only change device, as in PyTorch.
  Module& to(Device device);
  Module& to(DType dtype);
  Module& to(Device device, DType dtype);
  void zero_grad(bool set_to_none = true);

  // Multi-line summary in PyTorch's repr style: type, extra_repr, children.
  std::string to_string() const;
  // One-line description of this module's settings ("in_features=3, out_features=4, bias=True").
  virtual std::string extra_repr() const { return ""; }

 protected:
  void add_child(const std::string& name, std::shared_ptr<Module> module);

 private:
  struct Slot {
    std::string name;
    Tensor tensor;
    bool persistent = true;
  };
  void visit(const std::string& prefix, bool recurse,
             const std::function<void(const std::string&, const Module&)>& f) const;
  Module& convert(std::optional<Device> device, std::optional<DType> dtype);
  void repr_into(std::string& out, int indent) const;
  Slot* find_slot(const std::string& name);

  std::string type_name_;
  bool training_ = true;
  std::vector<Slot> parameters_;
  std::vector<Slot> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

std::ostream& operator<<(std::ostream& os, const Module& m);

// Runs its children in order, feeding each one's output to the next.
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  explicit Sequential(std::vector<std::shared_ptr<Module>> modules);
  // Appends under the next index as name ("0", "1", ...), as nn.Sequential does.
  Sequential& push_back(std::shared_ptr<Module> module);
  Sequential& push_back(const std::string& name, std::shared_ptr<Module> module);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return modules_.size(); }
  std::shared_ptr<Module> operator[](size_t i) const { return modules_.at(i); }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

// Holds modules under "0", "1", ... without calling them (nn.ModuleList).
class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}
  explicit ModuleList(std::vector<std::shared_ptr<Module>> modules);
  ModuleList& push_back(std::shared_ptr<Module> module);
  size_t size() const { return modules_.size(); }
  std::shared_ptr<Module> operator[](size_t i) const { return modules_.at(i); }
  template <class M> std::shared_ptr<M> at(size_t i) const {
    return std::dynamic_pointer_cast<M>(modules_.at(i));
  }
  std::vector<std::shared_ptr<Module>>::const_iterator begin() const { return modules_.begin(); }
  std::vector<std::shared_ptr<Module>>::const_iterator end() const { return modules_.end(); }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace hmr::nn
