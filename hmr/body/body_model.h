// The differentiable SMPL forward, batched: betas -> shaped template, joint regression, pose
// (axis-angle or rotation matrices) -> pose blend shapes, kinematic chain, linear blend
// skinning; plus the extra joint sets the methods evaluate and supervise on.
#pragma once

#include <cstdint>

#include "hmr/body/model_data.h"
#include "nn/module.h"
#include "tensor/tensor.h"

namespace hmr::body {

struct BodyOutput {
  Tensor vertices;  // (B, V, 3)
  Tensor joints;    // (B, J, 3): the kinematic joints after posing (SMPL's 24)
  Tensor v_shaped;  // (B, V, 3): template + shape blend shapes, before posing
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
  BodyModelData data_;  // the arrays as loaded (CPU, F64): kept for info and export
  Tensor faces_;
};

}  // namespace hmr::body
