// Placeholder until the CUDA elementwise launcher lands: every entry throws.
#include "kernels/elementwise.h"

namespace hmr::kernels::cuda {
namespace {
[[noreturn]] void todo(const char* op) { throw CudaError(str(op, ": CUDA kernel not implemented yet")); }
}  // namespace
void unary(UnaryOp, const Tensor&, const Tensor&, UnaryParams) { todo("unary"); }
void binary(BinaryOp, const Tensor&, const Tensor&, const Tensor&) { todo("binary"); }
void binary_scalar(BinaryOp, const Tensor&, double, bool, const Tensor&) { todo("binary_scalar"); }
void where(const Tensor&, const Tensor&, const Tensor&, const Tensor&) { todo("where"); }
void copy_same_device(const Tensor&, const Tensor&) { todo("copy"); }
void fill(const Tensor&, double) { todo("fill"); }
void arange(const Tensor&, double, double) { todo("arange"); }
void uniform(const Tensor&, double, double, uint64_t, uint64_t) { todo("uniform"); }
void normal(const Tensor&, double, double, uint64_t, uint64_t) { todo("normal"); }
void randint(const Tensor&, int64_t, int64_t, uint64_t, uint64_t) { todo("randint"); }
void bernoulli(const Tensor&, double, uint64_t, uint64_t) { todo("bernoulli"); }
}  // namespace hmr::kernels::cuda
