#include "autograd/engine.h"

#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "autograd/function.h"
#include "autograd/ops.h"
#include "kernels/elementwise.h"

namespace hmr {

namespace {

// Makes a gradient fit the input it flows to: sum away broadcasting, cast to its dtype.
Tensor fit_gradient(Tensor g, const InputMeta& meta, const Node& node, size_t i) {
  if (g.sizes() != meta.sizes) {
    HMR_CHECK(g.numel() >= shape_numel(meta.sizes) || g.dim() < static_cast<int64_t>(meta.sizes.size()),
              AutogradError, "backward: ", node.name(), " returned a gradient of shape ", g.sizes(),
              " for input ", i, " of shape ", meta.sizes);
    g = sum_to(g, meta.sizes);
  }
  if (g.dtype() != meta.dtype) g = g.to(meta.dtype);
  HMR_INTERNAL_CHECK(g.device() == meta.device, "gradient device mismatch in ", node.name());
  return g;
}

void accumulate(Tensor& slot, const Tensor& g) {
  if (!slot.defined()) slot = g;
  else slot = add(slot, g);
}

struct GraphTask {
  std::unordered_map<Node*, int> dependencies;
  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  // For grad(): (node, slot) -> index of the requested input; such nodes are not executed
  // when they are leaf accumulators.
  std::unordered_map<Node*, std::vector<std::pair<int, size_t>>> captures;
  std::vector<Tensor> captured;
  bool accumulate_leaves = true;
};

void count_dependencies(GraphTask& task, const std::vector<Node*>& roots) {
  std::unordered_set<Node*> seen;
  std::vector<Node*> stack(roots.begin(), roots.end());
  for (Node* r : roots) seen.insert(r);
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (Edge& e : n->next_edges()) {
      if (!e.valid()) continue;
      ++task.dependencies[e.fn.get()];
      if (seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
    }
  }
}

struct BySequence {
  bool operator()(const std::shared_ptr<Node>& a, const std::shared_ptr<Node>& b) const {
    return a->sequence_nr() < b->sequence_nr();
  }
};

void execute(GraphTask& task, const std::vector<Edge>& root_edges, const std::vector<Tensor>& root_grads,
             bool retain_graph) {
  NoGradGuard no_grad;
  std::vector<Node*> roots;
  for (const Edge& e : root_edges) roots.push_back(e.fn.get());
  count_dependencies(task, roots);

  std::priority_queue<std::shared_ptr<Node>, std::vector<std::shared_ptr<Node>>, BySequence> ready;
  std::unordered_set<Node*> queued;
  for (size_t i = 0; i < root_edges.size(); ++i) {
    auto& buf = task.buffers[root_edges[i].fn.get()];
    buf.resize(root_edges[i].fn->num_outputs());
    accumulate(buf[root_edges[i].input_nr], root_grads[i]);
  }
  for (const Edge& e : root_edges)
    if (task.dependencies[e.fn.get()] == 0 && queued.insert(e.fn.get()).second) ready.push(e.fn);

  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.top();
    ready.pop();
    std::vector<Tensor> grads = std::move(task.buffers[node.get()]);
    task.buffers.erase(node.get());
    grads.resize(node->num_outputs());

    for (auto& [slot, hook] : node->pre_hooks())
      if (grads[slot].defined()) {
        Tensor r = hook(grads[slot]);
        if (r.defined()) grads[slot] = r;
      }
    auto cap = task.captures.find(node.get());
    bool is_leaf_acc = dynamic_cast<AccumulateGrad*>(node.get()) != nullptr;
    if (cap != task.captures.end()) {
      for (auto& [slot, index] : cap->second) task.captured[index] = grads[slot];
    }
    if (is_leaf_acc && !task.accumulate_leaves) continue;

    bool any = false;
    for (const Tensor& g : grads) any = any || g.defined();
    std::vector<Tensor> outs;
    if (any) outs = node->apply(std::move(grads));
    if (!retain_graph) node->release();
    auto& edges = node->next_edges();
    HMR_INTERNAL_CHECK(!any || outs.size() == edges.size(), node->name(), " returned ", outs.size(),
                       " gradients for ", edges.size(), " inputs");
    for (size_t i = 0; i < edges.size(); ++i) {
      const Edge& e = edges[i];
      if (!e.valid()) continue;
      if (any && outs[i].defined()) {
        auto& buf = task.buffers[e.fn.get()];
        buf.resize(e.fn->num_outputs());
        accumulate(buf[e.input_nr], fit_gradient(outs[i], node->input_meta()[i], *node, i));
      }
      if (--task.dependencies[e.fn.get()] == 0 && queued.insert(e.fn.get()).second) ready.push(e.fn);
    }
  }
}

std::vector<Tensor> seed_gradients(const std::vector<Tensor>& roots, const std::vector<Tensor>& gradients,
                                   std::vector<Edge>& edges) {
  std::vector<Tensor> seeds;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    Edge e = gradient_edge(r);
    HMR_CHECK(e.valid(), AutogradError, "backward: element ", i,
              " of the tensors does not require grad and does not have a grad_fn");
    Tensor g = i < gradients.size() ? gradients[i] : Tensor();
    if (!g.defined()) {
      HMR_CHECK(r.numel() == 1, AutogradError,
                "backward: grad can be implicitly created only for scalar outputs, found shape ", r.sizes());
      g = ones_like(r);
    } else {
      HMR_CHECK(g.sizes() == r.sizes(), ShapeError, "backward: gradient of shape ", g.sizes(),
                " given for a tensor of shape ", r.sizes());
    }
    edges.push_back(e);
    seeds.push_back(g.detach());
  }
  return seeds;
}

}  // namespace

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>&& grads) {
  std::shared_ptr<TensorImpl> impl = leaf_.lock();
  if (!impl || !grads[0].defined()) return {};
  Tensor leaf(impl);
  AutogradMeta& m = *impl->autograd;
  Tensor g = grads[0];
  for (auto& hook : m.leaf_hooks) {
    Tensor r = hook(g);
    if (r.defined()) g = r;
  }
  if (!m.grad.defined()) {
    // Keep the incoming buffer when nobody else can see it; otherwise own a copy.
    bool exclusive = g.is_contiguous() && g.impl_shared().use_count() <= 2 && g.storage().use_count() == 1;
    m.grad = exclusive ? g.detach() : g.clone();
  } else {
    kernels::binary(kernels::BinaryOp::Add, m.grad, g, m.grad);
  }
  return {};
}

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& gradients, bool retain_graph) {
  std::vector<Edge> edges;
  std::vector<Tensor> seeds = seed_gradients(roots, gradients, edges);
  GraphTask task;
  execute(task, edges, seeds, retain_graph);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph, bool allow_unused) {
  std::vector<Edge> edges;
  std::vector<Tensor> seeds = seed_gradients(outputs, grad_outputs, edges);
  GraphTask task;
  task.accumulate_leaves = false;
  task.captured.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    Edge e = gradient_edge(inputs[i]);
    HMR_CHECK(e.valid(), AutogradError, "grad: input ", i, " does not require grad");
    task.captures[e.fn.get()].push_back({e.input_nr, i});
  }
  execute(task, edges, seeds, retain_graph);
  for (size_t i = 0; i < inputs.size(); ++i)
    HMR_CHECK(allow_unused || task.captured[i].defined(), AutogradError, "grad: input ", i,
              " was not used in the graph (pass allow_unused=true to get an undefined gradient)");
  return task.captured;
}

}  // namespace hmr
