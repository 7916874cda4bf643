// The arrays of an SMPL-family body model (SMPL, SMPL-H/X bodies, the generated default) as
// one plain struct, whatever file they came from, and the loaders for the real file formats.
// BodyModel (body_model.h) turns this into a differentiable forward; loaders only read and check.
#pragma once

#include <cstdint>
#include <string>

#include "tensor/tensor.h"
#include "tensor/tensor_dict.h"

namespace hmr::body {

// SMPL's 24-joint kinematic tree: order and names of the official model.
inline constexpr int kSmplJoints = 24;
inline constexpr int kSmplParents[kSmplJoints] = {-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
                                                  9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21};
extern const char* const kSmplJointNames[kSmplJoints];  // "pelvis", "left_hip", ...

// Every array lives on the CPU. Floating arrays are F64 (files hold f32 or f64; we widen so
// that nothing is lost, and BodyModel casts to the dtype it computes in).
//   V vertices, J joints, S shape coefficients (betas), P = 9 * (J - 1) pose-blend inputs.
struct BodyModelData {
  Tensor v_template;   // (V, 3)
  Tensor shapedirs;    // (V, 3, S); S may be 0 (no shape space) .. 300 (SMPL-X)
  Tensor posedirs;     // (V, 3, P): SMPL's layout; files that store (P, V*3) are reshaped
  Tensor J_regressor;  // (J, V) dense (sparse files are densified: 24x6890 doubles = 1.3 MB)
  Tensor weights;      // (V, J), rows sum to 1
  Tensor parents;      // (J,) I64; parents[0] == -1 (kintree_table's 4294967295 becomes -1)
  Tensor faces;        // (F, 3) I64, indices into V

  // Optional (undefined when the file has none).
  Tensor part_labels;          // (V,) I64 in [0, J): the body part of each vertex
  Tensor J_regressor_extra;    // (9, V): SPIN's extra joints (J_regressor_extra.npy)
  Tensor J_regressor_h36m;     // (17, V): Human3.6M joints (J_regressor_h36m.npy)
  Tensor vertex_joint_ids;     // (K,) I64: smplx's vertex-selected joints (nose, eyes, ears, feet)
  // Mean parameters the regressors start from, as SPIN's smpl_mean_params.npz holds them.
  Tensor mean_pose;   // (J * 6,) 6D rotations (Zhou et al., rot6d layout of geometry/rotations.h)
  Tensor mean_shape;  // (S',) betas, S' <= S
  Tensor mean_cam;    // (3,) weak-perspective [s, tx, ty]

  std::string kind;  // "smpl-pkl", "smplx-npz", "hmr-npz", "generated"; for `hmr body info`
  std::string path;  // where it was loaded from ("" when generated in memory)

  int64_t num_vertices() const { return v_template.defined() ? v_template.size(0) : 0; }
  int64_t num_joints() const { return parents.defined() ? parents.size(0) : 0; }
  int64_t num_betas() const { return shapedirs.defined() ? shapedirs.size(2) : 0; }
  int64_t num_faces() const { return faces.defined() ? faces.size(0) : 0; }

  // Checks every shape against the others, the dtypes, parents (a tree: parents[j] < j),
  // face indices in range, weights rows summing to 1 (1e-4). ShapeError naming the key, the
  // expected shape (with the symbols V, J, S, P resolved) and the found one; ValueError for a
  // missing field or a bad value; DTypeError / DeviceError for arrays not F64 (I64) on the CPU.
  void validate() const;
};

// Loads by content (not by extension): a pickle (SMPL's .pkl as distributed: python 2,
// chumpy arrays, scipy.sparse J_regressor), or an .npz (as smplx's conversion writes it, or as
// save_body_model_npz writes it, optional keys included). The result is validated. IOError
// naming the path for unreadable files; ValueError naming the key, the path and the keys found
// for a missing array; ShapeError (see validate) for a mis-shaped one. Keys we do not use are
// never parsed, so arrays our readers cannot hold (SMPL-X's object arrays) do no harm.
BodyModelData load_body_model(const std::string& path);
// The same from arrays already read (keys as in the files: v_template, shapedirs, posedirs,
// J_regressor, weights, kintree_table, f, and the optional ones by their field names).
BodyModelData body_model_from_arrays(const TensorDict& arrays, const std::string& kind,
                                     const std::string& path);
// Our own .npz: SMPL's key names (kintree_table as (2, J) with -1 for the root, f as I64),
// plus the optional fields under their names and `hmr_body_model` (0-d I64, the format
// version, 1), by which it is told from smplx's files. load_body_model(path) gives data back
// exactly (kind "hmr-npz").
void save_body_model_npz(const std::string& path, const BodyModelData& data);

// SPIN's smpl_mean_params.npz (pose (144,), shape (10,), cam (3,)) into data's mean_* fields.
void load_mean_params(const std::string& path, BodyModelData& data);

}  // namespace hmr::body
