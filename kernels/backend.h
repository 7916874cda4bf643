// Device dispatch shared by the kernel families: HMR_DISPATCH_DEVICE(t, fn(args...)) calls
// cuda::fn when t lives on a GPU and cpu::fn otherwise. In a build without CUDA the CUDA
// branch throws (a CUDA tensor cannot exist there anyway).
#pragma once

#include "tensor/error.h"
#include "tensor/tensor.h"

#ifdef HMR_WITH_CUDA
#define HMR_DISPATCH_DEVICE(t, call) \
  do {                               \
    if ((t).is_cuda()) {             \
      ::hmr::kernels::cuda::call;    \
    } else {                         \
      ::hmr::kernels::cpu::call;     \
    }                                \
  } while (0)
#else
#define HMR_DISPATCH_DEVICE(t, call)                                                   \
  do {                                                                                 \
    HMR_CHECK(!(t).is_cuda(), DeviceError, "CUDA tensor in a build without CUDA");     \
    ::hmr::kernels::cpu::call;                                                         \
  } while (0)
#endif

namespace hmr::kernels {

// Every operand on out's device, else DeviceError naming op and both devices.
void check_same_device(const char* op, const Tensor& out, std::initializer_list<const Tensor*> ins);
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);

}  // namespace hmr::kernels
