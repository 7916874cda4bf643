// Reductions over any set of dims, device-dispatched. The input is viewed as (outer, reduced)
// after moving the reduced dims last; each output element folds one row with the op's
// combine step, accumulating 16-bit floats in float and the rest in their own type
// (integers sum in int64).
#pragma once

#include "tensor/tensor.h"

namespace hmr::kernels {

enum class ReduceOp : uint8_t { Sum, Prod, Max, Min, Any, All };

// out has the shape of x with `dims` removed (or kept as 1 when out has x's rank); out's dtype
// is the result dtype (Sum/Prod of integers: int64; Any/All: bool; otherwise x's dtype).
void reduce(ReduceOp op, const Tensor& x, const Shape& dims, const Tensor& out);

#define HMR_REDUCE_BACKEND void reduce_rows(ReduceOp op, const Tensor& rows, const Tensor& out);
namespace cpu { HMR_REDUCE_BACKEND }
namespace cuda { HMR_REDUCE_BACKEND }

}  // namespace hmr::kernels
