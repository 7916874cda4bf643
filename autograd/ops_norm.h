// Normalization, dropout and embedding ops (PyTorch's torch.nn.functional semantics): declared
// here, defined with their backward in autograd/ops/norm.cpp. Included by autograd/ops.h.
#pragma once

#include "tensor/tensor.h"

namespace hmr {
}  // namespace hmr
