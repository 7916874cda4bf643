// The recorded graph. Each differentiable op that sees an input requiring grad makes one Node
// holding its backward function and an Edge to the node of every input (the input's grad_fn,
// or the AccumulateGrad of a leaf). Outputs point back at their Node via AutogradMeta.
//
// Saved tensors are SavedTensor: a detached alias plus the storage version at save time, so
// a node never owns its own output (no reference cycle) and an in-place write to anything it
// saved is detected when backward unpacks it, as PyTorch's version counter does.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hmr {

class Node;

struct Edge {
  std::shared_ptr<Node> fn;
  int input_nr = 0;  // which gradient slot of fn this edge feeds
  bool valid() const { return fn != nullptr; }
};

// What backward needs to know about an input to shape its gradient: gradients are summed to
// the input's shape (undoing broadcasting) and cast to its dtype by the engine.
struct InputMeta {
  Shape sizes;
  DType dtype;
  Device device;
};

using TensorHook = std::function<Tensor(const Tensor&)>;

class Node : public std::enable_shared_from_this<Node> {
 public:
  explicit Node(std::string name) : name_(std::move(name)), sequence_nr_(next_sequence_nr()) {}
  virtual ~Node() = default;

  // grads[i] is the gradient of output i (undefined when no path reached it); returns one
  // gradient per next edge (undefined where the input needs none).
  virtual std::vector<Tensor> apply(std::vector<Tensor>&& grads) = 0;
  // Drops saved state after backward unless retain_graph; a later apply() then throws.
  virtual void release() {}

  const std::string& name() const { return name_; }
  uint64_t sequence_nr() const { return sequence_nr_; }
  std::vector<Edge>& next_edges() { return next_edges_; }
  std::vector<InputMeta>& input_meta() { return input_meta_; }
  int num_outputs() const { return num_outputs_; }
  void set_num_outputs(int n) { num_outputs_ = n; }
  // Hooks on output i's gradient (registered through a non-leaf tensor's register_hook).
  std::vector<std::pair<int, TensorHook>>& pre_hooks() { return pre_hooks_; }

 private:
  static uint64_t next_sequence_nr();
  std::string name_;
  uint64_t sequence_nr_;
  int num_outputs_ = 1;
  std::vector<Edge> next_edges_;
  std::vector<InputMeta> input_meta_;
  std::vector<std::pair<int, TensorHook>> pre_hooks_;
};

// Ends every path at a leaf: adds the incoming gradient into leaf.grad.
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(std::weak_ptr<TensorImpl> leaf) : Node("AccumulateGrad"), leaf_(std::move(leaf)) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override;

 private:
  std::weak_ptr<TensorImpl> leaf_;
};

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;                 // null for leaves
  int output_nr = 0;                             // which output of grad_fn this is
  std::weak_ptr<AccumulateGrad> grad_accumulator;  // leaves only, made on demand
  std::vector<TensorHook> leaf_hooks;            // leaves: run before accumulation
  bool retains_grad = false;
  // Views: the tensor whose storage this one looks into (null when not a view).
  std::shared_ptr<TensorImpl> view_base;
  // The storage version this view's grad_fn was made at. A later in-place write anywhere in the
  // storage (through the base or another view) makes the history stale; it is regenerated
  // from the base's current history on next use (refresh_view_history), as PyTorch does.
  uint32_t view_version = 0;
};

// A tensor saved for backward. unpack() returns it, or throws AutogradError if its storage
// was written in place after it was saved.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, const char* what);
  Tensor unpack() const;
  void reset() { data_ = Tensor(); }
  bool defined() const { return data_.defined(); }

 private:
  Tensor data_;
  uint32_t version_ = 0;
  const char* what_ = "";
};

}  // namespace hmr
