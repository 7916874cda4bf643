// The differentiable SMPL forward, batched: betas -> shaped template, joint regression, pose
// (axis-angle or rotation matrices) -> pose blend shapes, kinematic chain, linear blend
// skinning; plus the extra joint sets the methods evaluate and supervise on.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "hmr/body/model_data.h"
#include "nn/module.h"
#include "tensor/tensor.h"

namespace hmr::body {

struct BodyOutput {
  Tensor vertices;     // (B, V, 3)
  Tensor joints;       // (B, J, 3): the kinematic joints after posing (SMPL's 24)
  Tensor v_shaped;     // (B, V, 3): template + shape blend shapes, before posing
  Tensor rest_joints;  // (B, J, 3): J_regressor @ v_shaped
  Tensor rotations;    // (B, J, 3, 3): the pose as matrices
  Tensor transforms;   // (B, J, 4, 4): world transforms of the joints relative to rest (A in SMPL)
};

// An nn::Module whose buffers are the model's arrays (so to(device/dtype) moves them); it has
// no parameters. Computes in the dtype of its buffers (F32 by default, F64 for gradchecks).
class BodyModel : public nn::Module {
 public:
  explicit BodyModel(const BodyModelData& data, DType dtype = DType::F32);

  // betas (B, S') with S' <= S (missing coefficients are 0; more than S is an error);
  // pose (B, J*3) or (B, J, 3) axis-angle, or (B, J, 3, 3) rotation matrices;
  // transl (B, 3), optional. All differentiable. Errors name the argument and its shape.
  BodyOutput forward(const Tensor& betas, const Tensor& pose, const Tensor& transl = {}) const;

  // Extra joint sets from an output (differentiable):
  // SPIN's 49 (25 OpenPose + 24 ground-truth joints, constants.JOINT_NAMES order); needs
  // vertex_joint_ids and J_regressor_extra.
  Tensor spin_joints49(const BodyOutput& out) const;
  // Human3.6M's 17 (needs J_regressor_h36m), and the 14 LSP evaluation joints SPIN takes from them.
  Tensor h36m_joints17(const BodyOutput& out) const;
  Tensor lsp_joints14(const BodyOutput& out) const;

  const BodyModelData& data() const { return data_; }
  int64_t num_vertices() const { return data_.num_vertices(); }
  int64_t num_joints() const { return data_.num_joints(); }
  int64_t num_betas() const { return data_.num_betas(); }
  const Tensor& faces() const { return faces_; }

 private:
  // Joints grouped by depth in the tree: every joint of level d has its parent in level d - 1,
  // so the chain is one batched product per level (9 for SMPL) instead of one per joint.
  struct ChainLevel {
    Tensor joints;      // (n_d,) I64: the joints of this level
    Tensor parent_pos;  // (n_d,) I64: each one's parent as a position in level d - 1 (level 0: none)
  };
  void check_forward_arguments(const Tensor& betas, const Tensor& pose, const Tensor& transl) const;
  Tensor rotations_from_pose(const Tensor& pose, int64_t batch) const;
  // World rotations (B, J, 3, 3) and world joint positions (B, J, 3) from local rotations
  // and rest joints.
  std::pair<Tensor, Tensor> kinematic_chain(const Tensor& rotations, const Tensor& rest_joints) const;
  Tensor require(const Tensor& buffer, const char* what, const char* needed_by) const;

  BodyModelData data_;  // the arrays as loaded (CPU, F64): kept for info and export
  Tensor faces_;
  // Buffers (in the model's dtype and device), laid out for one GEMM each:
  Tensor v_template_;       // (1, V*3)
  Tensor shapedirs_;        // (S, V*3)
  Tensor posedirs_;         // (P, V*3)
  Tensor J_regressor_;      // (J, V)
  Tensor weights_;          // (V, J)
  Tensor J_template_;       // (1, J*3) = J_regressor v_template: joints regress linearly, so the
  Tensor J_shapedirs_;      // (S, J*3)   regressor is applied once here instead of per sample
  Tensor homogeneous_row_;  // (1, 1, 1, 4): [0 0 0 1], the bottom row of every 4x4 transform
  Tensor parent_index_;     // (J - 1,) I64: parents[1:]
  std::vector<ChainLevel> levels_;
  Tensor joint_order_;  // (J,) I64: where each joint sits in the levels' concatenation
  Tensor J_regressor_extra_, J_regressor_h36m_, vertex_joint_ids_;  // optional
  Tensor spin_joint_index_, lsp_index_;  // I64 picks of spin_joints49 and lsp_joints14
  std::vector<int64_t> parents_;
};

}  // namespace hmr::body
