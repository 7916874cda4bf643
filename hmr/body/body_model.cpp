// The SMPL forward as named steps (shape blend -> joints -> pose features -> rigid transforms ->
// skinning), each composed of autograd ops except the skinning, which is the fused op of
// hmr/body/skinning.h. The model's arrays are laid out once at construction for one GEMM per step.
#include "hmr/body/body_model.h"

#include <string>

#include "autograd/ops.h"
#include "hmr/body/skinning.h"
#include "hmr/geometry/rotations.h"
#include "tensor/error.h"

namespace hmr::body {
namespace {

constexpr const char* kModel = "BodyModel";
constexpr const char* kForward = "BodyModel.forward";

// SPIN's 49 joints (constants.JOINT_NAMES: 25 OpenPose, then 24 ground-truth joints), each as
// an index into SPIN's 54-joint list: SMPL's 24, smplx's vertex-selected joints from 24 on
// (nose, right/left eye, right/left ear, left big toe, small toe, heel, right big toe, small
// toe, heel), and the 9 rows of J_regressor_extra from 45 on.
constexpr int64_t kSpinJointSources[49] = {24, 12, 17, 19, 21, 16, 18, 20, 0,  2,  5,  8,  1,
                                           4,  7,  25, 26, 27, 28, 29, 30, 31, 32, 33, 34,  // OpenPose
                                           8,  5,  45, 46, 4,  7,  21, 19, 17, 16, 18, 20, 47,
                                           48, 49, 50, 51, 52, 53, 24, 26, 25, 28, 27};  // GT
constexpr int64_t kSpinVertexJoints = 11;  // SPIN uses the face and feet ones, not fingertips
constexpr int64_t kSpinFirstExtra = 45;    // where J_regressor_extra's rows start in that list
constexpr int64_t kSpinExtraJoints = 9;
// The 14 LSP evaluation joints as positions in Human3.6M's 17 regressed joints (SPIN's H36M_TO_J14).
constexpr int64_t kH36mToLsp14[14] = {6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10};

std::string shape_str(const Tensor& t) {
  if (!t.defined()) return "(undefined)";
  return t.shape_str();
}

void check_shape(const Tensor& t, const Shape& expected, const char* key, const char* symbols) {
  HMR_CHECK(t.defined(), ValueError, kModel, ": the model data has no '", key, "' (expected ", symbols, ")");
  HMR_CHECK(t.sizes() == expected, ShapeError, kModel, ": expected ", key, " of shape ", symbols, " = ",
            expected, " but found ", t.sizes());
}

Tensor index_tensor(const std::vector<int64_t>& values) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())});
}

// A buffer with storage of its own: Module::to converts buffers in place, which must never
// reach the caller's arrays (to() and contiguous() return their input when nothing changes).
Tensor owned(const Tensor& t, DType dtype) { return t.to(dtype).contiguous().clone(); }

Tensor flat_rows(const Tensor& dirs) {  // (V, 3, K) -> (K, V*3): one GEMM with (B, K) coefficients
  return permute(dirs, {2, 0, 1}).reshape({dirs.size(2), dirs.size(0) * 3}).contiguous();
}

}  // namespace

BodyModel::BodyModel(const BodyModelData& data, DType dtype) : nn::Module("BodyModel"), data_(data) {
  HMR_CHECK(dtype == DType::F32 || dtype == DType::F64, DTypeError, kModel, ": computes in f32 or f64, not ",
            dtype);
  HMR_CHECK(data.v_template.defined() && data.v_template.dim() == 2 && data.v_template.size(1) == 3,
            ShapeError, kModel, ": expected v_template of shape (V, 3) but found ",
            shape_str(data.v_template));
  HMR_CHECK(data.parents.defined() && data.parents.dim() == 1 && data.parents.size(0) >= 1, ShapeError,
            kModel, ": expected parents of shape (J,) but found ", shape_str(data.parents));
  const int64_t V = data.num_vertices(), J = data.num_joints(), P = 9 * (J - 1);
  HMR_CHECK(data.shapedirs.defined() && data.shapedirs.dim() == 3, ShapeError, kModel,
            ": expected shapedirs of shape (V, 3, S) but found ", shape_str(data.shapedirs));
  const int64_t S = data.num_betas();
  check_shape(data.shapedirs, {V, 3, S}, "shapedirs", "(V, 3, S)");
  check_shape(data.posedirs, {V, 3, P}, "posedirs", "(V, 3, P = 9 (J - 1))");
  check_shape(data.J_regressor, {J, V}, "J_regressor", "(J, V)");
  check_shape(data.weights, {V, J}, "weights", "(V, J)");

  parents_ = data.parents.to(DType::I64).contiguous().to_vector<int64_t>();
  HMR_CHECK(parents_[0] == -1, ValueError, kModel, ": parents[0] must be -1 (the root) but is ", parents_[0]);
  std::vector<int64_t> depth(J, 0);
  for (int64_t j = 1; j < J; ++j) {
    HMR_CHECK(parents_[j] >= 0 && parents_[j] < j, ValueError, kModel, ": parents[", j, "] = ", parents_[j],
              " is not an earlier joint (a tree in topological order needs 0 <= parents[j] < j)");
    depth[j] = depth[parents_[j]] + 1;
  }

  // The chain's levels; a joint's position within its level is what its children index.
  std::vector<std::vector<int64_t>> level_joints;
  std::vector<int64_t> position(J), order(J);
  for (int64_t j = 0; j < J; ++j) {
    if (depth[j] >= static_cast<int64_t>(level_joints.size())) level_joints.resize(depth[j] + 1);
    position[j] = static_cast<int64_t>(level_joints[depth[j]].size());
    level_joints[depth[j]].push_back(j);
  }
  int64_t start = 0;
  for (size_t d = 0; d < level_joints.size(); ++d) {
    std::vector<int64_t> parent_pos;
    for (int64_t j : level_joints[d]) {
      order[j] = start + position[j];
      if (d > 0) parent_pos.push_back(position[parents_[j]]);
    }
    start += static_cast<int64_t>(level_joints[d].size());
    const std::string name = "chain_level" + std::to_string(d);
    ChainLevel level;
    level.joints = register_buffer(name + "_joints", index_tensor(level_joints[d]), false);
    if (d > 0) level.parent_pos = register_buffer(name + "_parent_pos", index_tensor(parent_pos), false);
    levels_.push_back(level);
  }
  joint_order_ = register_buffer("joint_order", index_tensor(order), false);
  parent_index_ = register_buffer(
      "parent_index", index_tensor(std::vector<int64_t>(parents_.begin() + 1, parents_.end())), false);

  // Layouts computed in f64, then cast once.
  Tensor v_template = data.v_template.to(DType::F64), shapedirs = data.shapedirs.to(DType::F64);
  Tensor J_regressor = data.J_regressor.to(DType::F64);
  Tensor J_shapedirs = matmul(J_regressor, shapedirs.reshape({V, 3 * S}));  // (J, 3 S)
  v_template_ = register_buffer("v_template", owned(v_template.reshape({1, V * 3}), dtype));
  shapedirs_ = register_buffer("shapedirs", owned(flat_rows(shapedirs), dtype));
  posedirs_ = register_buffer("posedirs", owned(flat_rows(data.posedirs), dtype));
  J_regressor_ = register_buffer("J_regressor", owned(J_regressor, dtype));
  weights_ = register_buffer("weights", owned(data.weights, dtype));
  J_template_ =
      register_buffer("J_template", owned(matmul(J_regressor, v_template).reshape({1, J * 3}), dtype), false);
  J_shapedirs_ =
      register_buffer("J_shapedirs", owned(flat_rows(J_shapedirs.reshape({J, 3, S})), dtype), false);

  // A buffer rather than made per call: on a GPU that would be a synchronising upload.
  homogeneous_row_ = register_buffer("homogeneous_row", tensor({0, 0, 0, 1}, {1, 1, 1, 4}, dtype), false);

  // SPIN's sources as positions in [SMPL's 24 | 11 vertex joints | 9 extra] (see spin_joints49).
  std::vector<int64_t> sources(std::begin(kSpinJointSources), std::end(kSpinJointSources));
  for (int64_t& s : sources)
    if (s >= kSpinFirstExtra) s = kSmplJoints + kSpinVertexJoints + (s - kSpinFirstExtra);
  spin_joint_index_ = register_buffer("spin_joint_index", index_tensor(sources), false);
  lsp_index_ = register_buffer(
      "lsp_index", index_tensor(std::vector<int64_t>(std::begin(kH36mToLsp14), std::end(kH36mToLsp14))),
      false);

  if (data.J_regressor_extra.defined()) {
    check_shape(data.J_regressor_extra, {kSpinExtraJoints, V}, "J_regressor_extra", "(9, V)");
    J_regressor_extra_ = register_buffer("J_regressor_extra", owned(data.J_regressor_extra, dtype));
  }
  if (data.J_regressor_h36m.defined()) {
    check_shape(data.J_regressor_h36m, {17, V}, "J_regressor_h36m", "(17, V)");
    J_regressor_h36m_ = register_buffer("J_regressor_h36m", owned(data.J_regressor_h36m, dtype));
  }
  if (data.vertex_joint_ids.defined()) {
    Tensor ids = owned(data.vertex_joint_ids, DType::I64);
    HMR_CHECK(ids.dim() == 1, ShapeError, kModel, ": expected vertex_joint_ids of shape (K,) but found ",
              ids.sizes());
    for (int64_t id : ids.to_vector<int64_t>())
      HMR_CHECK(id >= 0 && id < V, IndexError, kModel, ": vertex_joint_ids holds ", id, ", outside [0, ", V,
                ")");
    vertex_joint_ids_ = register_buffer("vertex_joint_ids", ids);
  }
  if (data.faces.defined()) faces_ = register_buffer("faces", owned(data.faces, DType::I64), false);
}

void BodyModel::check_forward_arguments(const Tensor& betas, const Tensor& pose, const Tensor& transl) const {
  const int64_t J = num_joints(), S = num_betas();
  HMR_CHECK(betas.defined() && betas.dim() == 2 && betas.size(1) <= S, ShapeError, kForward,
            ": expected betas of shape (B, S') with S' <= ", S, " but found ", shape_str(betas));
  const int64_t B = betas.size(0);
  const bool axis_angle =
      pose.defined() && (pose.sizes() == Shape{B, J * 3} || pose.sizes() == Shape{B, J, 3});
  const bool matrices = pose.defined() && pose.sizes() == Shape{B, J, 3, 3};
  HMR_CHECK(axis_angle || matrices, ShapeError, kForward, ": expected pose of shape (", B, ", ", J * 3,
            "), (", B, ", ", J, ", 3) or (", B, ", ", J, ", 3, 3) (B from betas ", betas.sizes(),
            ") but found ", shape_str(pose));
  HMR_CHECK(!transl.defined() || transl.sizes() == (Shape{B, 3}), ShapeError, kForward,
            ": expected transl of shape (", B, ", 3) but found ", shape_str(transl));
  const Device device = v_template_.device();
  for (const auto& [name, t] :
       {std::pair<const char*, const Tensor*>{"betas", &betas}, {"pose", &pose}, {"transl", &transl}}) {
    if (!t->defined()) continue;
    HMR_CHECK(t->is_floating_point(), DTypeError, kForward, ": expected a floating-point ", name,
              " but found ", t->dtype());
    HMR_CHECK(t->device() == device, DeviceError, kForward, ": ", name, " is on ", t->device(),
              " but the model is on ", device);
  }
}

Tensor BodyModel::rotations_from_pose(const Tensor& pose, int64_t batch) const {
  const int64_t J = num_joints();
  if (pose.dim() == 4) return pose;                                     // (B, J, 3, 3)
  return geometry::axis_angle_to_matrix(reshape(pose, {batch, J, 3}));  // (B, J, 3, 3)
}

std::pair<Tensor, Tensor> BodyModel::kinematic_chain(const Tensor& rotations,
                                                     const Tensor& rest_joints) const {
  // Each joint's offset from its parent at rest (the root keeps its own position).
  Tensor offsets = cat({narrow(rest_joints, 1, 0, 1), narrow(rest_joints, 1, 1, num_joints() - 1) -
                                                          index_select(rest_joints, 1, parent_index_)},
                       1);  // (B, J, 3)
  std::vector<Tensor> world_R, world_t;
  for (size_t d = 0; d < levels_.size(); ++d) {
    Tensor R = index_select(rotations, 1, levels_[d].joints);  // (B, n_d, 3, 3)
    Tensor t = index_select(offsets, 1, levels_[d].joints);    // (B, n_d, 3)
    if (d > 0) {
      // G_j = G_parent [R_j | t_j]: rotation R_parent R_j, translation R_parent t_j + t_parent.
      Tensor parent_R = index_select(world_R[d - 1], 1, levels_[d].parent_pos);
      Tensor parent_t = index_select(world_t[d - 1], 1, levels_[d].parent_pos);
      R = matmul(parent_R, R);
      t = squeeze(matmul(parent_R, unsqueeze(t, -1)), -1) + parent_t;
    }
    world_R.push_back(R);
    world_t.push_back(t);
  }
  return {index_select(cat(world_R, 1), 1, joint_order_), index_select(cat(world_t, 1), 1, joint_order_)};
}

BodyOutput BodyModel::forward(const Tensor& betas_in, const Tensor& pose_in, const Tensor& transl_in) const {
  check_forward_arguments(betas_in, pose_in, transl_in);
  const DType dtype = v_template_.dtype();
  const Tensor betas = betas_in.to(dtype), pose = pose_in.to(dtype);
  const int64_t B = betas.size(0), V = num_vertices(), J = num_joints(), S_in = betas.size(1);
  BodyOutput out;

  // Shape blend shapes, and the rest joints by the same linear map.
  Tensor v_shaped = v_template_ + matmul(betas, narrow(shapedirs_, 0, 0, S_in));  // (B, V*3)
  out.v_shaped = reshape(v_shaped, {B, V, 3});
  out.rest_joints = reshape(J_template_ + matmul(betas, narrow(J_shapedirs_, 0, 0, S_in)), {B, J, 3});

  // Pose blend shapes from (R - I) of every joint but the root.
  out.rotations = rotations_from_pose(pose, B);  // (B, J, 3, 3)
  Tensor identity = eye(3, std::nullopt, {dtype, pose.device()});
  Tensor pose_feature = reshape(narrow(out.rotations, 1, 1, J - 1) - identity, {B, (J - 1) * 9});
  Tensor v_posed = reshape(v_shaped + matmul(pose_feature, posedirs_), {B, V, 3});

  // Rigid transforms: world rotation G_R and position of every joint, then A = G with the
  // rest position taken out, so A maps rest-pose points (not joint-relative ones).
  auto [G_R, joints] = kinematic_chain(out.rotations, out.rest_joints);
  Tensor A_t = joints - squeeze(matmul(G_R, unsqueeze(out.rest_joints, -1)), -1);  // (B, J, 3)
  Tensor A = cat({G_R, unsqueeze(A_t, -1)}, -1);                                   // (B, J, 3, 4)
  out.transforms = cat({A, homogeneous_row_.expand({B, J, 1, 4})}, 2);             // (B, J, 4, 4)

  out.vertices = skin(weights_, A, v_posed);  // (B, V, 3)
  out.joints = joints;
  if (transl_in.defined()) {
    Tensor t = unsqueeze(transl_in.to(dtype), 1);  // (B, 1, 3)
    out.vertices = out.vertices + t;
    out.joints = out.joints + t;
  }
  return out;
}

Tensor BodyModel::require(const Tensor& buffer, const char* what, const char* needed_by) const {
  HMR_CHECK(buffer.defined(), ValueError, "BodyModel.", needed_by, ": the model has no ", what,
            " (load it with the model data)");
  return buffer;
}

Tensor BodyModel::spin_joints49(const BodyOutput& out) const {
  HMR_CHECK(num_joints() == kSmplJoints, ValueError,
            "BodyModel.spin_joints49: needs SMPL's 24 joints, the model has ", num_joints());
  Tensor ids = require(vertex_joint_ids_, "vertex_joint_ids", "spin_joints49");
  Tensor extra_regressor = require(J_regressor_extra_, "J_regressor_extra", "spin_joints49");
  HMR_CHECK(ids.size(0) >= kSpinVertexJoints, ValueError, "BodyModel.spin_joints49: needs ",
            kSpinVertexJoints, " vertex_joint_ids (face and feet) but the model has ", ids.size(0));
  // SMPL's joints, the vertex-selected ones, the extra regressed ones: 24 + 11 + 9 (B, 44, 3).
  Tensor selected = index_select(out.vertices, 1, narrow(ids, 0, 0, kSpinVertexJoints));
  Tensor all = cat({out.joints, selected, matmul(extra_regressor, out.vertices)}, 1);
  return index_select(all, 1, spin_joint_index_);
}

Tensor BodyModel::h36m_joints17(const BodyOutput& out) const {
  return matmul(require(J_regressor_h36m_, "J_regressor_h36m", "h36m_joints17"), out.vertices);
}

Tensor BodyModel::lsp_joints14(const BodyOutput& out) const {
  return index_select(h36m_joints17(out), 1, lsp_index_);
}

}  // namespace hmr::body
