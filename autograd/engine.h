// The backward engine: runs the recorded graph from roots to leaves in reverse creation
// order (highest sequence number first among ready nodes), accumulating gradients per input.
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace hmr {

// gradients[i] seeds roots[i]; an undefined gradient means ones (roots[i] must be a scalar).
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& gradients,
                  bool retain_graph);

// The gradients of outputs w.r.t. inputs, without touching .grad (torch.autograd.grad).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false,
                         bool allow_unused = false);

}  // namespace hmr
