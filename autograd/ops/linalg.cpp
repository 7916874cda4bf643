// Placeholder until the linear-algebra ops land.
#include "autograd/ops.h"

namespace hmr {
Tensor matmul(const Tensor&, const Tensor&) { throw Error("matmul: not implemented yet"); }
}  // namespace hmr
