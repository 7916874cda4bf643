// One call to read named tensors from any checkpoint-like file hmr knows, whatever wrote it:
// PyTorch .pt/.pth (zip or legacy) and Lightning .ckpt, safetensors, numpy .npz. The format is
// recognised from the content. Used wherever a user passes --weights.
#pragma once

#include <string>

#include "tensor/tensor_dict.h"

namespace hmr::io {

// key_path selects a nested state dict in a PyTorch checkpoint ("model", "state_dict", "a.b");
// empty: the root if it is one, else root['state_dict'] / ['model'] / ['model_state_dict'].
// strip_module_prefix drops a "module." prefix shared by every key (nn.DataParallel).
TensorDict load_state_dict_file(const std::string& path, const std::string& key_path = "",
                                bool strip_module_prefix = true);

}  // namespace hmr::io
