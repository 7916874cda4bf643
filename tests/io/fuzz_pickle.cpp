// Fuzz entries for io/pickle and io/torch_file: parse, then touch every value the way a user
// would (render it, read tensors element by element, densify sparse matrices, look for a
// state dict), so that a malformed tree that parsed cleanly still cannot crash its readers.
#include "tests/io/fuzz_pickle.h"

#include <vector>

#include "io/pickle.h"
#include "io/torch_file.h"
#include "tensor/error.h"

namespace hmr::fuzz {

namespace {

void walk(const io::PickleValue& v, int depth, size_t& budget) {
  if (depth > 64 || budget == 0) return;
  --budget;
  using io::PickleKind;
  switch (v.kind()) {
    case PickleKind::List:
    case PickleKind::Tuple:
    case PickleKind::Set:
    case PickleKind::FrozenSet:
    case PickleKind::Object:
      for (const io::PickleValue& e : v.elements()) walk(e, depth + 1, budget);
      if (v.is(PickleKind::Object)) {
        try {
          io::array_of(v);
        } catch (const Error&) {
        }
      }
      break;
    case PickleKind::Dict:
      for (const auto& [k, e] : v.items()) walk(k, depth + 1, budget), walk(e, depth + 1, budget);
      break;
    case PickleKind::Tensor:
    case PickleKind::Storage:
      v.as_tensor().to_vector<double>();
      break;
    case PickleKind::Sparse:
      if (v.as_sparse().rows * v.as_sparse().cols <= (1 << 20)) v.as_sparse().to_dense();
      break;
    default:
      break;
  }
}

}  // namespace

int fuzz_pickle(const uint8_t* data, size_t size) {
  try {
    io::PickleValue v = io::unpickle(data, size);
    v.repr(1000);
    size_t budget = 100000;
    walk(v, 0, budget);
  } catch (const Error&) {
  }
  return 0;
}

int fuzz_torch_file(const uint8_t* data, size_t size) {
  try {
    io::TorchFile f = io::load_torch_bytes(std::vector<uint8_t>(data, data + size), "<fuzz>");
    size_t budget = 100000;
    walk(f.root, 0, budget);
    for (const auto& [name, t] : io::state_dict_of(f.root, "", true)) t.to_vector<double>();
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace hmr::fuzz
