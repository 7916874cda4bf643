// Automatic mixed precision, as torch.autocast: inside an AutocastGuard for a device type, the
// ops that are safe and fast in 16 bits (matmul, mm, bmm, and on CUDA conv2d/conv_transpose2d)
// cast their floating inputs to the autocast dtype (bf16 by default, or f16), and the ops that
// need range or accumulate error (softmax, log_softmax, layer_norm, group_norm) run in f32.
// Everything else runs in the dtype of its inputs, with the usual promotion. Parameters stay
// f32 ("master weights"): the casts are recorded ops, so gradients flow back to f32 leaves.
//
// State is thread-local and per device type, so a CUDA autocast region leaves CPU tensors alone.
// On the CPU only the matmul family is cast (the CPU convolution is f32/f64); use CPU autocast
// to test mixed-precision code paths without a GPU. f64 tensors are never cast, as in PyTorch.
#pragma once

#include "tensor/tensor.h"

namespace hmr {

class AutocastGuard {
 public:
  explicit AutocastGuard(DeviceType device, DType dtype = DType::BF16, bool enabled = true);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  DeviceType device_;
  bool prev_enabled_;
  DType prev_dtype_;
};

namespace autocast {

bool is_enabled(DeviceType device);
DType dtype(DeviceType device);  // the lower-precision dtype of that device's region

// For lower-precision ops: a floating, non-f64 tensor on a device whose autocast is on becomes
// the autocast dtype; anything else is returned as it is.
Tensor to_lower(const Tensor& t);
// Whether convolutions are cast on this tensor's device (CUDA only; see above).
bool casts_convolutions(const Tensor& t);
// For f32 ops: a 16-bit floating tensor on a device whose autocast is on becomes f32.
Tensor to_f32(const Tensor& t);

}  // namespace autocast
}  // namespace hmr
