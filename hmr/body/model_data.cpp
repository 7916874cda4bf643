// Loaders for SMPL-family model files (SMPL's Python 2 pickle, smplx's .npz, our own .npz) into
// BodyModelData, and its consistency check. Only the keys we use are parsed, so files that also
// hold arrays our readers cannot (strings, object arrays in SMPL-X's .npz) still load.
#include "hmr/body/model_data.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <vector>

#include "io/npy.h"
#include "io/pickle.h"
#include "io/zip.h"
#include "tensor/error.h"

namespace hmr::body {

const char* const kSmplJointNames[kSmplJoints] = {
    "pelvis",     "left_hip",    "right_hip",    "spine1",      "left_knee",     "right_knee",
    "spine2",     "left_ankle",  "right_ankle",  "spine3",      "left_foot",     "right_foot",
    "neck",       "left_collar", "right_collar", "head",        "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist",   "right_wrist", "left_hand",     "right_hand"};

namespace {

const char* const kRequiredKeys[] = {"v_template", "shapedirs",     "posedirs", "J_regressor",
                                     "weights",    "kintree_table", "f"};
const char* const kOptionalKeys[] = {"part_labels",      "J_regressor_extra", "J_regressor_h36m",
                                     "vertex_joint_ids", "mean_pose",         "mean_shape",
                                     "mean_cam"};
// Our .npz carries this 0-d int (the format version) so that its kind is known by content.
constexpr const char* kFormatMarker = "hmr_body_model";
constexpr int64_t kFormatVersion = 1;
// kintree_table's parent of the root: -1 stored as uint32 by the original (Python 2) files.
constexpr int64_t kRootParentUint32 = 4294967295LL;
// Two fields are stored under other keys in files; errors name both.
constexpr const char* kFacesKey = "faces (f)";
constexpr const char* kParentsKey = "parents (kintree_table row 0)";

bool is_known_key(const std::string& key) {
  auto in = [&](const auto& list) {
    return std::any_of(std::begin(list), std::end(list), [&](const char* k) { return key == k; });
  };
  return key == kFormatMarker || in(kRequiredKeys) || in(kOptionalKeys);
}

// "body model 'path'", or just "body model" for data built in memory: the prefix of every error.
std::string origin(const std::string& path) {
  return path.empty() ? std::string("body model") : str("body model '", path, "'");
}

// One dimension of an expected shape: a symbol of the model (V, J, S, P) with its value, or a
// literal (symbol null). A negative value accepts any size.
struct Dim {
  const char* symbol;
  int64_t value;
};
Dim lit(int64_t n) { return {nullptr, n}; }

// "(V, J) = [40, 24]": the symbols and what they stand for in this model.
std::string describe(const std::vector<Dim>& dims) {
  std::string symbols = "(", values = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    const char* sep = i ? ", " : "";
    symbols += sep + (dims[i].symbol ? std::string(dims[i].symbol) : std::to_string(dims[i].value));
    values += sep + (dims[i].value < 0 ? std::string("any") : std::to_string(dims[i].value));
  }
  if (dims.size() == 1) symbols += ",";
  return symbols + ") = " + values + "]";
}

void check_shape(const Tensor& t, const std::string& key, const std::vector<Dim>& dims,
                 const std::string& path) {
  bool ok = t.dim() == static_cast<int64_t>(dims.size());
  for (size_t i = 0; ok && i < dims.size(); ++i)
    ok = dims[i].value < 0 || t.size(static_cast<int64_t>(i)) == dims[i].value;
  HMR_CHECK(ok, ShapeError, origin(path), ": '", key, "' expected shape ", describe(dims), ", found ",
            t.sizes());
}

void check_array(const Tensor& t, const std::string& key, DType dtype, const std::string& path) {
  HMR_CHECK(t.defined(), ValueError, origin(path), ": '", key, "' is missing");
  HMR_CHECK(t.dtype() == dtype, DTypeError, origin(path), ": '", key, "' must be ", dtype, ", found ",
            t.dtype());
  HMR_CHECK(!t.is_cuda(), DeviceError, origin(path), ": '", key, "' must be on the CPU, found ", t.device());
}

// Every element of an I64 array in [lo, hi).
void check_range(const Tensor& t, const std::string& key, int64_t lo, int64_t hi, const char* what,
                 const std::string& path) {
  std::vector<int64_t> v = t.contiguous().to_vector<int64_t>();
  for (size_t i = 0; i < v.size(); ++i)
    HMR_CHECK(v[i] >= lo && v[i] < hi, ValueError, origin(path), ": '", key, "' element ", i, " is ", v[i],
              ", outside [", lo, ", ", hi, ") (", what, ")");
}

void check_tree(const Tensor& parents, const std::string& path) {
  std::vector<int64_t> p = parents.contiguous().to_vector<int64_t>();
  HMR_CHECK(p[0] == -1, ValueError, origin(path), ": '", kParentsKey,
            "': parents[0] must be -1 (the root), found ", p[0]);
  // A parent listed before its child makes the joints a tree in an order the chain can walk.
  for (size_t j = 1; j < p.size(); ++j)
    HMR_CHECK(p[j] >= 0 && p[j] < static_cast<int64_t>(j), ValueError, origin(path), ": parents[", j, "] is ",
              p[j], "; the joints do not form a tree (each parent must be a joint before it, in [0, ", j,
              "))");
}

void check_weight_rows(const Tensor& weights, const std::string& path) {
  std::vector<double> w = weights.contiguous().to_vector<double>();
  const int64_t V = weights.size(0), J = weights.size(1);
  for (int64_t v = 0; v < V; ++v) {
    double sum = 0;
    for (int64_t j = 0; j < J; ++j) sum += w[static_cast<size_t>(v * J + j)];
    HMR_CHECK(std::abs(sum - 1.0) <= 1e-4, ValueError, origin(path), ": 'weights' row ", v, " sums to ", sum,
              ", not 1 (skinning weights of a vertex must sum to 1 within 1e-4)");
  }
}

// Floating arrays to F64, integer arrays to I64, C order: what BodyModelData holds.
Tensor widen(const Tensor& t, const std::string& key, const std::string& path) {
  if (is_floating(t.dtype())) return t.to(DType::F64).contiguous();
  HMR_CHECK(is_integral(t.dtype()), DTypeError, origin(path), ": '", key, "' must hold numbers, found ",
            t.dtype());
  return t.to(DType::I64).contiguous();
}

// kintree_table (2, J): row 0 the parents (the root's stored as -1 or uint32 4294967295), row 1
// the joint ids, which must be 0..J-1 since joints are indexed by position everywhere else.
Tensor parents_from_kintree(const Tensor& kintree, const std::string& path) {
  check_shape(kintree, "kintree_table", {lit(2), {"J", -1}}, path);
  const int64_t J = kintree.size(1);
  HMR_CHECK(J > 0, ShapeError, origin(path), ": 'kintree_table' has no joints (shape ", kintree.sizes(), ")");
  std::vector<int64_t> k = kintree.contiguous().to_vector<int64_t>();
  std::vector<int64_t> parents(static_cast<size_t>(J));
  for (int64_t j = 0; j < J; ++j) {
    int64_t id = k[static_cast<size_t>(J + j)];
    HMR_CHECK(id == j, ValueError, origin(path), ": 'kintree_table' row 1 (joint ids) must be 0..", J - 1,
              " in order; found ", id, " in column ", j);
    int64_t parent = k[static_cast<size_t>(j)];
    parents[static_cast<size_t>(j)] = parent == kRootParentUint32 ? -1 : parent;
  }
  return Tensor::from_vector(parents, {J});
}

// smplx keeps posedirs as (P, V*3) (its reshape-then-transpose of the file's (V, 3, P));
// files saved from that layout are turned back into SMPL's.
Tensor smpl_posedirs_layout(const Tensor& posedirs, int64_t V, int64_t J) {
  const int64_t P = 9 * (J - 1);
  if (posedirs.dim() != 2 || posedirs.size(0) != P || posedirs.size(1) != V * 3) return posedirs;
  return posedirs.t().contiguous().reshape({V, 3, P});
}

BodyModelData from_arrays(const TensorDict& arrays, const std::string& kind, const std::string& path,
                          const std::vector<std::string>& keys_in_file) {
  for (const char* key : kRequiredKeys)
    HMR_CHECK(arrays.contains(key), ValueError, origin(path), ": missing key '", key,
              "'; keys found: ", keys_in_file);
  auto get = [&](const char* key) { return widen(arrays.at(key), key, path); };

  BodyModelData d;
  d.kind = kind;
  d.path = path;
  d.v_template = get("v_template");
  d.shapedirs = get("shapedirs");
  d.J_regressor = get("J_regressor");
  d.weights = get("weights");
  d.parents = parents_from_kintree(get("kintree_table"), path);
  d.faces = get("f");
  const int64_t V = d.v_template.dim() == 2 ? d.v_template.size(0) : -1;
  d.posedirs = smpl_posedirs_layout(get("posedirs"), V, d.num_joints());

  Tensor* optional[] = {&d.part_labels, &d.J_regressor_extra, &d.J_regressor_h36m, &d.vertex_joint_ids,
                        &d.mean_pose,   &d.mean_shape,        &d.mean_cam};
  for (size_t i = 0; i < std::size(kOptionalKeys); ++i)
    if (arrays.contains(kOptionalKeys[i])) *optional[i] = get(kOptionalKeys[i]);
  d.validate();
  return d;
}

enum class FileKind { Npz, Pickle };

// By the first bytes: a zip (every .npz) or a pickle (protocol 2+ opens with 0x80; 0 and 1
// open a dict with '(' or '}').
FileKind sniff(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  HMR_CHECK(in.good(), IOError, "load_body_model: cannot open '", path, "'");
  char head[2] = {0, 0};
  in.read(head, 2);
  HMR_CHECK(in.gcount() == 2, IOError, "load_body_model: '", path, "' is too short to be a model file (",
            in.gcount(), " bytes)");
  if (head[0] == 'P' && head[1] == 'K') return FileKind::Npz;
  const auto b = static_cast<unsigned char>(head[0]);
  HMR_CHECK(b == 0x80 || b == '(' || b == '}', IOError, "load_body_model: '", path,
            "' is neither an .npz (zip) nor a pickle (first byte 0x", std::hex, static_cast<int>(b), ")");
  return FileKind::Pickle;
}

std::string strip_npy(const std::string& name) {
  const std::string ext = ".npy";
  bool has = name.size() >= ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0;
  return has ? name.substr(0, name.size() - ext.size()) : name;
}

BodyModelData load_npz_model(const std::string& path) {
  io::ZipReader zip = io::ZipReader::open(path);
  TensorDict arrays;
  std::vector<std::string> keys;
  for (const io::ZipEntry& e : zip.entries()) {
    std::string key = strip_npy(e.name);
    keys.push_back(key);
    if (!is_known_key(key)) continue;
    std::vector<uint8_t> bytes = zip.read(e);
    arrays.set(key, io::npy_from_bytes(bytes.data(), bytes.size(), str(path, " member ", e.name)));
  }
  const Tensor* marker = arrays.find(kFormatMarker);
  if (!marker) return from_arrays(arrays, "smplx-npz", path, keys);
  HMR_CHECK(marker->numel() == 1 && is_integral(marker->dtype()), ValueError, origin(path), ": '",
            kFormatMarker, "' must be a 0-d integer (the format version), found ", marker->dtype(), " ",
            marker->sizes());
  int64_t version = marker->to(DType::I64).item<int64_t>();
  HMR_CHECK(version == kFormatVersion, ValueError, origin(path), ": format version ", version,
            " is not supported (this build reads version ", kFormatVersion, ")");
  return from_arrays(arrays, "hmr-npz", path, keys);
}

BodyModelData load_pickle_model(const std::string& path) {
  io::PickleValue root = io::unpickle_file(path);
  HMR_CHECK(root.is(io::PickleKind::Dict), IOError, path,
            ": expected a dict of arrays (an SMPL model pickle), found ", io::pickle_kind_name(root.kind()));
  TensorDict arrays;
  std::vector<std::string> keys = root.str_keys();
  for (const std::string& key : keys) {
    if (!is_known_key(key)) continue;
    io::PickleValue v = root.get(key);
    try {
      // SMPL's J_regressor is a scipy.sparse.csc_matrix; everything else an array or chumpy's Ch.
      arrays.set(key, v.is(io::PickleKind::Sparse) ? v.as_sparse().to_dense() : io::array_of(v));
    } catch (const IOError& e) {
      throw IOError(str(path, ": '", key, "': ", e.what()));
    }
  }
  return from_arrays(arrays, "smpl-pkl", path, keys);
}

}  // namespace

void BodyModelData::validate() const {
  const char* const floating[] = {"v_template", "shapedirs", "posedirs", "J_regressor", "weights"};
  const Tensor* floating_arrays[] = {&v_template, &shapedirs, &posedirs, &J_regressor, &weights};
  for (size_t i = 0; i < std::size(floating); ++i)
    check_array(*floating_arrays[i], floating[i], DType::F64, path);
  check_array(parents, kParentsKey, DType::I64, path);
  check_array(faces, kFacesKey, DType::I64, path);

  HMR_CHECK(v_template.dim() == 2 && v_template.size(1) == 3, ShapeError, origin(path),
            ": 'v_template' expected shape (V, 3), found ", v_template.sizes());
  HMR_CHECK(parents.dim() == 1 && parents.size(0) > 0, ShapeError, origin(path), ": '", kParentsKey,
            "' expected shape (J,) with J > 0, found ", parents.sizes());
  HMR_CHECK(shapedirs.dim() == 3, ShapeError, origin(path), ": 'shapedirs' expected shape (V, 3, S), found ",
            shapedirs.sizes());
  const int64_t V = v_template.size(0), J = parents.size(0), S = shapedirs.size(2), P = 9 * (J - 1);
  const Dim dV{"V", V}, dJ{"J", J}, dS{"S", S}, dP{"P", P};

  check_shape(shapedirs, "shapedirs", {dV, lit(3), dS}, path);
  check_shape(posedirs, "posedirs", {dV, lit(3), dP}, path);
  check_shape(J_regressor, "J_regressor", {dJ, dV}, path);
  check_shape(weights, "weights", {dV, dJ}, path);
  check_shape(faces, kFacesKey, {{"F", -1}, lit(3)}, path);
  check_tree(parents, path);
  check_range(faces, kFacesKey, 0, V, "vertex indices", path);
  check_weight_rows(weights, path);

  // Optional arrays: checked only when present.
  auto present = [&](const Tensor& t, const char* key, DType dtype) {
    if (t.defined()) check_array(t, key, dtype, path);
    return t.defined();
  };
  if (present(part_labels, "part_labels", DType::I64)) {
    check_shape(part_labels, "part_labels", {dV}, path);
    check_range(part_labels, "part_labels", 0, J, "joint indices", path);
  }
  if (present(J_regressor_extra, "J_regressor_extra", DType::F64))
    check_shape(J_regressor_extra, "J_regressor_extra", {lit(9), dV}, path);
  if (present(J_regressor_h36m, "J_regressor_h36m", DType::F64))
    check_shape(J_regressor_h36m, "J_regressor_h36m", {lit(17), dV}, path);
  if (present(vertex_joint_ids, "vertex_joint_ids", DType::I64)) {
    check_shape(vertex_joint_ids, "vertex_joint_ids", {{"K", -1}}, path);
    check_range(vertex_joint_ids, "vertex_joint_ids", 0, V, "vertex indices", path);
  }
  if (present(mean_pose, "mean_pose", DType::F64))
    check_shape(mean_pose, "mean_pose", {{"J*6", J * 6}}, path);
  if (present(mean_shape, "mean_shape", DType::F64))
    HMR_CHECK(mean_shape.dim() == 1 && mean_shape.size(0) <= S, ShapeError, origin(path),
              ": 'mean_shape' expected shape (S',) with S' <= S = ", S, ", found ", mean_shape.sizes());
  if (present(mean_cam, "mean_cam", DType::F64)) check_shape(mean_cam, "mean_cam", {lit(3)}, path);
}

BodyModelData body_model_from_arrays(const TensorDict& arrays, const std::string& kind,
                                     const std::string& path) {
  return from_arrays(arrays, kind, path, arrays.keys());
}

BodyModelData load_body_model(const std::string& path) {
  return sniff(path) == FileKind::Npz ? load_npz_model(path) : load_pickle_model(path);
}

void save_body_model_npz(const std::string& path, const BodyModelData& data) {
  data.validate();
  const int64_t J = data.num_joints();
  // kintree_table (2, J): parents (root -1) over the joint ids 0..J-1, as SMPL's files lay it out.
  std::vector<int64_t> kintree = data.parents.contiguous().to_vector<int64_t>();
  for (int64_t j = 0; j < J; ++j) kintree.push_back(j);

  TensorDict out;
  out.set(kFormatMarker, Tensor::from_vector(std::vector<int64_t>{kFormatVersion}, {}));
  out.set("v_template", data.v_template);
  out.set("shapedirs", data.shapedirs);
  out.set("posedirs", data.posedirs);
  out.set("J_regressor", data.J_regressor);
  out.set("weights", data.weights);
  out.set("kintree_table", Tensor::from_vector(kintree, {2, J}));
  out.set("f", data.faces);
  const Tensor* optional[] = {&data.part_labels,      &data.J_regressor_extra, &data.J_regressor_h36m,
                              &data.vertex_joint_ids, &data.mean_pose,         &data.mean_shape,
                              &data.mean_cam};
  for (size_t i = 0; i < std::size(kOptionalKeys); ++i)
    if (optional[i]->defined()) out.set(kOptionalKeys[i], *optional[i]);
  io::save_npz(path, out);
}

void load_mean_params(const std::string& path, BodyModelData& data) {
  HMR_CHECK(data.num_joints() > 0, ValueError, "load_mean_params('", path,
            "'): the body model has no joints; load the model before its mean parameters");
  TensorDict arrays = io::load_npz(path);
  for (const char* key : {"pose", "shape", "cam"})
    HMR_CHECK(arrays.contains(key), ValueError, "mean parameters '", path, "': missing key '", key,
              "'; keys found: ", arrays.keys());
  const std::string where = str("mean parameters '", path, "'");
  Tensor pose = widen(arrays.at("pose"), "pose", path);
  Tensor shape = widen(arrays.at("shape"), "shape", path);
  Tensor cam = widen(arrays.at("cam"), "cam", path);
  const int64_t J = data.num_joints(), S = data.num_betas();
  HMR_CHECK(pose.dim() == 1 && pose.size(0) == J * 6, ShapeError, where, ": 'pose' expected shape (J*6,) = [",
            J * 6, "] (6D rotations of the model's ", J, " joints), found ", pose.sizes());
  HMR_CHECK(shape.dim() == 1 && shape.size(0) <= S, ShapeError, where,
            ": 'shape' expected shape (S',) with S' <= S = ", S, ", found ", shape.sizes());
  HMR_CHECK(cam.dim() == 1 && cam.size(0) == 3, ShapeError, where,
            ": 'cam' expected shape (3,) = [3], found ", cam.sizes());
  HMR_CHECK(pose.is_floating_point() && shape.is_floating_point() && cam.is_floating_point(), DTypeError,
            where, ": pose, shape and cam must be floating, found ", pose.dtype(), ", ", shape.dtype(), ", ",
            cam.dtype());
  data.mean_pose = pose;
  data.mean_shape = shape;
  data.mean_cam = cam;
}

}  // namespace hmr::body
