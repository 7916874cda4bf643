// Placeholder until the CUDA reduction kernels land.
#include "kernels/reduce.h"

namespace hmr::kernels::cuda {
void reduce_rows(ReduceOp, const Tensor&, const Tensor&) {
  throw CudaError("reduce: CUDA kernel not implemented yet");
}
}  // namespace hmr::kernels::cuda
