// The fused skinning op: argument checks, device dispatch to hmr/body/{cpu,cuda}/skinning.*,
// and its backward recorded beside it. A (B, J, 4, 4) input is narrowed to its top three rows
// first (a view op, so its gradient gets the zero bottom row from autograd, not from here).
#include "hmr/body/skinning.h"

#include "autograd/function.h"
#include "autograd/ops.h"
#include "tensor/error.h"

namespace hmr::body {
namespace {

constexpr const char* kOp = "skin";

void check_arguments(const Tensor& weights, const Tensor& A, const Tensor& v_posed) {
  HMR_CHECK(weights.defined() && A.defined() && v_posed.defined(), ValueError, kOp,
            ": weights, A and v_posed must all be defined");
  HMR_CHECK(weights.dim() == 2, ShapeError, kOp, ": expected weights of shape (V, J) but found ",
            weights.sizes());
  const int64_t V = weights.size(0), J = weights.size(1);
  HMR_CHECK(A.dim() == 4 && A.size(1) == J && (A.size(2) == 3 || A.size(2) == 4) && A.size(3) == 4,
            ShapeError, kOp, ": expected A of shape (B, ", J, ", 3, 4) or (B, ", J,
            ", 4, 4) (J from weights ", weights.sizes(), ") but found ", A.sizes());
  const int64_t B = A.size(0);
  HMR_CHECK(v_posed.dim() == 3 && v_posed.size(0) == B && v_posed.size(1) == V && v_posed.size(2) == 3,
            ShapeError, kOp, ": expected v_posed of shape (", B, ", ", V, ", 3) (B from A ", A.sizes(),
            ", V from weights ", weights.sizes(), ") but found ", v_posed.sizes());
  for (const Tensor* t : {&weights, &A, &v_posed}) {
    HMR_CHECK(t->dtype() == DType::F32 || t->dtype() == DType::F64, DTypeError, kOp,
              ": expected f32 or f64 tensors but found weights ", weights.dtype(), ", A ", A.dtype(),
              ", v_posed ", v_posed.dtype());
    HMR_CHECK(t->dtype() == A.dtype(), DTypeError, kOp, ": expected one dtype but found weights ",
              weights.dtype(), ", A ", A.dtype(), ", v_posed ", v_posed.dtype());
    HMR_CHECK(t->device() == A.device(), DeviceError, kOp, ": expected one device but found weights on ",
              weights.device(), ", A on ", A.device(), ", v_posed on ", v_posed.device());
  }
}

#ifdef HMR_WITH_CUDA
#define HMR_SKIN_DISPATCH(t, call) \
  do {                             \
    if ((t).is_cuda()) {           \
      skinning::cuda::call;        \
    } else {                       \
      skinning::cpu::call;         \
    }                              \
  } while (0)
#else
#define HMR_SKIN_DISPATCH(t, call)                                                        \
  do {                                                                                    \
    HMR_CHECK(!(t).is_cuda(), DeviceError, kOp, ": CUDA tensor in a build without CUDA"); \
    skinning::cpu::call;                                                                  \
  } while (0)
#endif

}  // namespace

Tensor skin(const Tensor& weights, const Tensor& A, const Tensor& v_posed) {
  check_arguments(weights, A, v_posed);
  Tensor A34 = A.size(2) == 4 ? narrow(A, 2, 0, 3) : A;
  // The kernels read raw contiguous memory; they never need the inputs' histories.
  Tensor w = weights.detach().contiguous(), a = A34.detach().contiguous(), p = v_posed.detach().contiguous();
  Tensor out = Tensor::empty(v_posed.sizes(), v_posed.dtype(), v_posed.device());
  if (out.numel() > 0) HMR_SKIN_DISPATCH(p, skin_forward(w, a, p, out));
  return record(kOp, {A34, v_posed}, out, [w, a, p](const Tensor& g) -> std::vector<Tensor> {
    Tensor grad_A = Tensor::empty(a.sizes(), a.dtype(), a.device());
    Tensor grad_p = Tensor::empty(p.sizes(), p.dtype(), p.device());
    if (p.numel() > 0) {
      HMR_SKIN_DISPATCH(p, skin_backward(w, a, p, g.contiguous(), grad_A, grad_p));
    } else {
      grad_A.zero_();
      grad_p.zero_();
    }
    return {grad_A, grad_p};
  });
}

}  // namespace hmr::body
