// How an op records itself for backward. An op computes its forward with kernels, then calls
// record() with its inputs, its output and a lambda that maps the output's gradient to one
// gradient per input (undefined for inputs without one). The engine sums gradients to each
// input's shape (undoing broadcasting) and casts them to its dtype, so formulas may return
// broadcast-shaped or promoted gradients.
//
//   Tensor sigmoid(const Tensor& x) {
//     Tensor y = ...forward...;
//     SavedTensor sy(y, "sigmoid result");
//     return record("sigmoid", {x}, y, [sy](const Tensor& g) { ... });
//   }
#pragma once

#include <functional>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace hmr {

using BackwardFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& grads)>;

class FunctionNode : public Node {
 public:
  FunctionNode(std::string name, BackwardFn fn) : Node(std::move(name)), fn_(std::move(fn)) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override;
  void release() override { fn_ = nullptr; }

 private:
  BackwardFn fn_;
};

// True when grad mode is on and some input requires grad: only then is anything recorded.
bool any_requires_grad(std::initializer_list<Tensor> inputs);
bool any_requires_grad(const std::vector<Tensor>& inputs);

// The edge a gradient for t flows along: its grad_fn, or its leaf accumulator, or none.
Edge gradient_edge(const Tensor& t);

// Records a one-output op (no-op when nothing requires grad). Returns out.
Tensor record(const char* name, const std::vector<Tensor>& inputs, Tensor out,
              std::function<std::vector<Tensor>(const Tensor& grad)> backward);

// Records an op with several outputs; backward receives one gradient per output (undefined
// for outputs no path used). Outputs that are not differentiable (indices) stay untouched
// when differentiable[i] is false.
std::vector<Tensor> record_multi(const char* name, const std::vector<Tensor>& inputs,
                                 std::vector<Tensor> outputs, BackwardFn backward,
                                 const std::vector<bool>& differentiable = {});

// Marks out as a view of base for autograd (in-place writes through the view then update the
// base's history). Called by the view ops after record().
void mark_view(const Tensor& out, const Tensor& base);

// A view whose storage was written in place since its history was made gets its history
// regenerated as a strided view of the base's current history. Called wherever a tensor's
// grad_fn is read (gradient edges, Tensor::grad_fn/requires_grad/is_leaf); cheap when fresh.
void refresh_view_history(const Tensor& t);

// For in-place ops: checks that self may be written (not a leaf requiring grad), then, after
// the op computed `result` (out of place, with history) and its data was written into self,
// moves result's history onto self — through the view base when self is a view.
void check_inplace(const Tensor& self, const char* op);
void rebase_history(const Tensor& self, const Tensor& result, const char* op);

}  // namespace hmr
