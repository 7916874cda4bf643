// load_state_dict_file: format by magic bytes, then the matching reader.
#include "io/state_dict_file.h"

#include <fstream>

#include "io/npy.h"
#include "io/safetensors.h"
#include "io/torch_file.h"

namespace hmr::io {

TensorDict load_state_dict_file(const std::string& path, const std::string& key_path, bool strip_module_prefix) {
  std::ifstream f(path, std::ios::binary);
  HMR_CHECK(f.good(), IOError, "load_state_dict_file: cannot open '", path, "'");
  char head[16] = {};
  f.read(head, sizeof head);
  const size_t n = static_cast<size_t>(f.gcount());
  f.close();
  const std::string h(head, n);
  if (h.compare(0, 4, "PK\x03\x04") == 0 || (n > 0 && static_cast<unsigned char>(h[0]) == 0x80)) {
    // Zip: a PyTorch checkpoint or an .npz archive; a pickle: the legacy PyTorch format.
    if (h.compare(0, 4, "PK\x03\x04") == 0) {
      try {
        TorchFile t = load_torch(path);
        return state_dict_of(t.root, key_path, strip_module_prefix);
      } catch (const IOError& e) {
        TensorDict npz;
        try {
          npz = load_npz(path);
        } catch (const IOError&) {
          throw e;  // neither: the checkpoint reader's message says more
        }
        return npz;
      }
    }
    return state_dict_of(load_torch(path).root, key_path, strip_module_prefix);
  }
  if (n >= 9 && h[8] == '{') return load_safetensors(path).tensors;
  throw IOError(str("load_state_dict_file: '", path, "' is not a PyTorch checkpoint, safetensors file or .npz"));
}

}  // namespace hmr::io
