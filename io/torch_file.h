// PyTorch checkpoints (torch.save) read without Python: the zip format (torch >= 1.6, also
// PyTorch Lightning's .ckpt) and the legacy format of torch < 1.6 (SPIN, GraphCMR). Tensors
// that shared a storage in PyTorch share one hmr Storage (views keep their offsets/strides).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/pickle.h"
#include "tensor/tensor_dict.h"

namespace hmr::io {

struct TorchFile {
  PickleValue root;    // what torch.load would return, tensors as PickleKind::Tensor
  std::string format;  // "zip" or "legacy"
};

// IOError naming the path and the problem (not a checkpoint, a global outside the allow-list,
// truncated storages, ...).
TorchFile load_torch(const std::string& path);
TorchFile load_torch_bytes(std::vector<uint8_t> bytes, const std::string& label);

// The allow-list for checkpoints: PickleGlobals::standard() plus torch's tensor rebuilders and
// storage types.
PickleGlobals torch_globals();

// The state dict (str -> tensor) inside a loaded checkpoint: the value at key_path ("model",
// "a.b" for nested dicts) when given, else root itself if it is one, else the first of
// root['state_dict'], root['model'], root['model_state_dict'] that is one. With
// strip_module_prefix a "module." prefix shared by every key (nn.DataParallel) is removed.
// IOError listing the keys that were there when nothing fits.
TensorDict state_dict_of(const PickleValue& root, const std::string& key_path = "",
                         bool strip_module_prefix = false);

}  // namespace hmr::io
