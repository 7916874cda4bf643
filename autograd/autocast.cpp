// Thread-local autocast state and the two casting policies (autograd/autocast.h).
#include "autograd/autocast.h"

#include "autograd/ops.h"

namespace hmr {

namespace {

struct State {
  bool enabled[2] = {false, false};
  DType dtype[2] = {DType::BF16, DType::F16};  // PyTorch's defaults: bf16 on CPU, f16 on CUDA
};
thread_local State state;

int slot(DeviceType d) { return d == DeviceType::CUDA ? 1 : 0; }
bool is_16bit(DType d) { return d == DType::F16 || d == DType::BF16; }

}  // namespace

AutocastGuard::AutocastGuard(DeviceType device, DType dtype, bool enabled)
    : device_(device), prev_enabled_(state.enabled[slot(device)]), prev_dtype_(state.dtype[slot(device)]) {
  HMR_CHECK(is_16bit(dtype), DTypeError, "AutocastGuard: the autocast dtype must be bfloat16 or float16 but found ",
            dtype);
  state.enabled[slot(device)] = enabled;
  state.dtype[slot(device)] = dtype;
}

AutocastGuard::~AutocastGuard() {
  state.enabled[slot(device_)] = prev_enabled_;
  state.dtype[slot(device_)] = prev_dtype_;
}

namespace autocast {

bool is_enabled(DeviceType device) { return state.enabled[slot(device)]; }
DType dtype(DeviceType device) { return state.dtype[slot(device)]; }

Tensor to_lower(const Tensor& t) {
  if (!t.defined() || !state.enabled[slot(t.device().type)]) return t;
  const DType target = state.dtype[slot(t.device().type)];
  if (!t.is_floating_point() || t.dtype() == DType::F64 || t.dtype() == target) return t;
  return t.to(target);
}

bool casts_convolutions(const Tensor& t) {
  return t.defined() && t.device().is_cuda() && state.enabled[slot(DeviceType::CUDA)];
}

Tensor to_f32(const Tensor& t) {
  if (!t.defined() || !state.enabled[slot(t.device().type)] || !is_16bit(t.dtype())) return t;
  return t.to(DType::F32);
}

}  // namespace autocast
}  // namespace hmr
