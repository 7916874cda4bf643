// Convolution and pooling ops (PyTorch's torch.nn.functional semantics, NCHW): declared here,
// defined with their backward in autograd/ops/conv.cpp. Included by autograd/ops.h.
#pragma once

#include "tensor/tensor.h"

namespace hmr {
}  // namespace hmr
