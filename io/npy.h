// numpy's .npy (one array) and .npz (a zip of .npy members) files, e.g. SMPL model files and
// precomputed regressors. Loading accepts what numpy writes: header versions 1.0/2.0/3.0,
// little-, big- and no-endian descrs, fortran_order (converted to C order), 0-d and empty
// arrays. numpy dtypes without an hmr counterpart are widened losslessly:
//   int8, int16, uint16 -> int32;  uint32 -> int64.
// uint64, complex, structured and object ('|O', which needs pickle) arrays are IOErrors naming
// the descr and the array; string arrays ('<U n', '|S n') load through npy_strings_from_bytes.
// Saving writes C-order little-endian; bfloat16 (which numpy lacks) is a DTypeError.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"
#include "tensor/tensor_dict.h"

namespace hmr::io {

Tensor load_npy(const std::string& path);
// label names the array in errors (a path, or "x.npz member a.npy").
Tensor npy_from_bytes(const uint8_t* data, size_t size, const std::string& label);
void save_npy(const std::string& path, const Tensor& t);
std::vector<uint8_t> npy_to_bytes(const Tensor& t);

// Keys are the member names without ".npy", as numpy.load gives them; in archive order.
TensorDict load_npz(const std::string& path);
TensorDict npz_from_bytes(std::vector<uint8_t> bytes, const std::string& label);
// compressed=true deflates the members like numpy.savez_compressed.
void save_npz(const std::string& path, const TensorDict& dict, bool compressed = false);

// numpy string arrays, e.g. the image names of dataset annotation files: '<U n' (numpy's str,
// n UTF-32 code points per element) and '|S n' (bytes). Values are in C order, UTF-8, with
// numpy's NUL padding removed.
struct NpyStrings {
  Shape shape;
  std::vector<std::string> values;
};
// Whether the .npy bytes hold a string array (so a reader can pick this loader or npy_from_bytes).
bool npy_is_string_array(const uint8_t* data, size_t size, const std::string& label);
NpyStrings npy_strings_from_bytes(const uint8_t* data, size_t size, const std::string& label);
// Writes '<U n' with n the longest value in code points, as numpy.array(list_of_str) would.
std::vector<uint8_t> npy_strings_to_bytes(const NpyStrings& strings);

}  // namespace hmr::io
