// hmr/body: the SMPL forward against the NumPy reference of tests/fixtures/make_body_forward_fixtures.py
// (a random 50-vertex model), f64 gradchecks of the forward and of the fused skinning op, the
// skinning op against a naive loop and the composed version, the rest pose, and argument errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "hmr/body/body_model.h"
#include "hmr/body/generate.h"
#include "hmr/body/skinning.h"
#include "hmr/geometry/rotations.h"
#include "io/npy.h"
#include "support.h"
#include "tensor/parallel.h"

using namespace hmr;
using namespace hmr::body;
using hmr::testing::error_message;

namespace {

const TensorDict& fixture() {
  static const TensorDict dict =
      io::load_npz(std::string(HMR_SOURCE_DIR) + "/tests/fixtures/body/forward_small.npz");
  return dict;
}

BodyModelData fixture_model(bool with_extras = true) {
  const TensorDict& f = fixture();
  BodyModelData d;
  d.v_template = f.at("v_template");
  d.shapedirs = f.at("shapedirs");
  d.posedirs = f.at("posedirs");
  d.J_regressor = f.at("J_regressor");
  d.weights = f.at("weights");
  d.parents = f.at("parents");
  if (with_extras) {
    d.J_regressor_extra = f.at("J_regressor_extra");
    d.J_regressor_h36m = f.at("J_regressor_h36m");
    d.vertex_joint_ids = f.at("vertex_joint_ids");
  }
  d.kind = "test";
  return d;
}

Tensor randn64(const Shape& s, uint64_t seed, double scale = 1.0) {
  Generator gen(seed);
  return randn(s, DType::F64, &gen) * scale;
}

Tensor leaf(const Tensor& t) { return t.detach().clone().requires_grad_(); }

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return 1e300;
  return max(abs(a.detach().to(DType::F64) - b.detach().to(DType::F64))).item();
}

// A small random model in SMPL's layout: J = 24 with SMPL's parents, dense random weights.
BodyModelData tiny_model(int64_t V, int64_t S, uint64_t seed) {
  BodyModelData d;
  const int64_t J = kSmplJoints;
  d.v_template = randn64({V, 3}, seed);
  d.shapedirs = randn64({V, 3, S}, seed + 1, 0.1);
  d.posedirs = randn64({V, 3, 9 * (J - 1)}, seed + 2, 0.05);
  Tensor reg = abs(randn64({J, V}, seed + 3)) + 0.01;
  d.J_regressor = reg / sum(reg, {1}, true);
  Tensor w = abs(randn64({V, J}, seed + 4)) + 0.01;
  d.weights = w / sum(w, {1}, true);
  d.parents = Tensor::from_vector(std::vector<int64_t>(kSmplParents, kSmplParents + J), {J});
  return d;
}

// ---- forward against NumPy ------------------------------------------------------------------------

void expect_case_matches(const BodyModel& model, const std::string& name, double tol) {
  const TensorDict& f = fixture();
  Tensor transl = f.contains(name + "_transl") ? f.at(name + "_transl") : Tensor();
  BodyOutput out = model.forward(f.at(name + "_betas"), f.at(name + "_pose"), transl);
  EXPECT_LT(max_abs_diff(out.vertices, f.at(name + "_vertices")), tol) << name << " vertices";
  EXPECT_LT(max_abs_diff(out.joints, f.at(name + "_joints")), tol) << name << " joints";
  EXPECT_LT(max_abs_diff(out.v_shaped, f.at(name + "_v_shaped")), tol) << name << " v_shaped";
  EXPECT_LT(max_abs_diff(out.rest_joints, f.at(name + "_rest_joints")), tol) << name << " rest_joints";
  EXPECT_LT(max_abs_diff(out.transforms, f.at(name + "_transforms")), tol) << name << " transforms";
  EXPECT_LT(max_abs_diff(model.spin_joints49(out), f.at(name + "_spin49")), tol) << name << " spin49";
  EXPECT_LT(max_abs_diff(model.h36m_joints17(out), f.at(name + "_h36m17")), tol) << name << " h36m17";
  EXPECT_LT(max_abs_diff(model.lsp_joints14(out), f.at(name + "_lsp14")), tol) << name << " lsp14";
}

TEST(BodyModel, MatchesTheNumPyReferenceInF64) {
  BodyModel model(fixture_model(), DType::F64);
  // Axis-angle flat (B, 72) with transl; (B, 24, 3) with 4 of 10 betas and no transl; matrices.
  for (const char* name : {"flat", "short_betas", "matrices"}) expect_case_matches(model, name, 1e-10);
}

TEST(BodyModel, MatchesTheNumPyReferenceInF32) {
  BodyModel model(fixture_model(), DType::F32);
  const TensorDict& f = fixture();
  BodyOutput out = model.forward(f.at("flat_betas").to(DType::F32), f.at("flat_pose").to(DType::F32),
                                 f.at("flat_transl").to(DType::F32));
  EXPECT_EQ(out.vertices.dtype(), DType::F32);
  EXPECT_LT(max_abs_diff(out.vertices, f.at("flat_vertices")), 2e-5);
  EXPECT_LT(max_abs_diff(out.joints, f.at("flat_joints")), 2e-5);
}

// Every buffer, the derived ones included, follows Module::to (a stale one would mix dtypes).
TEST(BodyModel, ModuleToConvertsTheBuffers) {
  BodyModel model(fixture_model(), DType::F64);
  model.to(DType::F32);
  const TensorDict& f = fixture();
  BodyOutput out = model.forward(f.at("flat_betas"), f.at("flat_pose"), f.at("flat_transl"));
  EXPECT_EQ(out.vertices.dtype(), DType::F32);
  EXPECT_LT(max_abs_diff(out.vertices, f.at("flat_vertices")), 2e-5);
  EXPECT_LT(max_abs_diff(model.spin_joints49(out), f.at("flat_spin49")), 2e-5);
  for (const char* key : {"v_template", "weights", "J_regressor", "J_regressor_extra"})
    EXPECT_EQ(f.at(key).dtype(), DType::F64) << key << ": the caller's arrays stay as they were";
}

TEST(BodyModel, ZeroPoseAndBetasGiveTheTemplateAndTheRegressedJoints) {
  BodyModelData data = fixture_model(false);
  BodyModel model(data, DType::F64);
  BodyOutput out = model.forward(zeros({2, 10}, DType::F64), zeros({2, 72}, DType::F64));
  Tensor expected_vertices = data.v_template.unsqueeze(0).expand({2, -1, -1});
  EXPECT_LT(max_abs_diff(out.vertices, expected_vertices), 1e-13);
  EXPECT_LT(max_abs_diff(out.joints, matmul(data.J_regressor, expected_vertices)), 1e-13);
  EXPECT_LT(max_abs_diff(out.transforms, eye(4, std::nullopt, DType::F64).expand({2, 24, 4, 4})), 1e-15);
}

// The generated small model: SPIN's joint list picks what its names say, and posing one elbow
// moves that arm's wrist only.
TEST(BodyModel, GeneratedModelJointSetsAndPosing) {
  const BodyModelData& data = default_body_model(BodySize::Small);
  BodyModel model(data, DType::F64);
  Tensor pose = zeros({1, 24, 3}, DType::F64);
  BodyOutput rest = model.forward(zeros({1, 10}, DType::F64), pose);
  Tensor spin = model.spin_joints49(rest);
  ASSERT_EQ(spin.sizes(), (Shape{1, 49, 3}));
  Tensor nose = index_select(rest.vertices, 1, narrow(data.vertex_joint_ids, 0, 0, 1));
  EXPECT_LT(max_abs_diff(select(spin, 1, 0), select(nose, 1, 0)), 1e-15);          // OP Nose
  EXPECT_LT(max_abs_diff(select(spin, 1, 8), select(rest.joints, 1, 0)), 1e-15);   // OP MidHip: pelvis
  EXPECT_LT(max_abs_diff(select(spin, 1, 25), select(rest.joints, 1, 8)), 1e-15);  // Right Ankle
  Tensor extra = matmul(data.J_regressor_extra, rest.vertices);
  EXPECT_LT(max_abs_diff(select(spin, 1, 27), select(extra, 1, 0)), 1e-15);  // Right Hip (extra 0)
  EXPECT_LT(max_abs_diff(select(spin, 1, 43), select(extra, 1, 8)), 1e-15);  // Head (H36M) (extra 8)
  Tensor h36m = model.h36m_joints17(rest);
  EXPECT_LT(max_abs_diff(select(model.lsp_joints14(rest), 1, 0), select(h36m, 1, 6)), 1e-15);  // R ankle

  select(select(pose, 1, 18), 1, 2).fill_(1.2);  // bend the left elbow
  BodyOutput bent = model.forward(zeros({1, 10}, DType::F64), pose);
  EXPECT_GT(max_abs_diff(select(bent.joints, 1, 20), select(rest.joints, 1, 20)), 1e-2);  // left wrist moves
  EXPECT_LT(max_abs_diff(select(bent.joints, 1, 21), select(rest.joints, 1, 21)),
            1e-15);  // right wrist stays
  EXPECT_LT(max_abs_diff(select(bent.joints, 1, 18), select(rest.joints, 1, 18)), 1e-15);  // the elbow itself
}

// ---- gradients ----------------------------------------------------------------------------------

TEST(BodyModel, GradcheckWithRespectToBetasPoseAndTransl) {
  BodyModel model(tiny_model(8, 5, 11), DType::F64);
  Tensor betas = leaf(randn64({2, 5}, 21)), pose = leaf(randn64({2, 72}, 22, 0.5)),
         transl = leaf(randn64({2, 3}, 23));
  auto fn = [&](const std::vector<Tensor>& in) {
    BodyOutput out = model.forward(in[0], in[1], in[2]);
    return cat({flatten(out.vertices), flatten(out.joints)}, 0);
  };
  GradcheckResult r = gradcheck(fn, {betas, pose, transl});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(BodyModel, GradcheckWithRotationMatricesAndFewerBetas) {
  BodyModel model(tiny_model(6, 5, 31), DType::F64);
  Tensor betas = leaf(randn64({2, 3}, 41));
  Tensor rotations = leaf(geometry::axis_angle_to_matrix(randn64({2, 24, 3}, 42, 0.5)));
  auto fn = [&](const std::vector<Tensor>& in) { return model.forward(in[0], in[1]).vertices; };
  GradcheckResult r = gradcheck(fn, {betas, rotations});
  EXPECT_TRUE(r.ok) << r.message;
}

// ---- the fused skinning op ------------------------------------------------------------------------

Tensor naive_skin(const Tensor& weights, const Tensor& A, const Tensor& v_posed) {
  const int64_t B = A.size(0), J = A.size(1), V = weights.size(0);
  std::vector<double> w = weights.contiguous().to_vector<double>(), a = A.contiguous().to_vector<double>();
  std::vector<double> p = v_posed.contiguous().to_vector<double>(), out(B * V * 3, 0.0);
  const int64_t rows = A.size(2);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t v = 0; v < V; ++v)
      for (int64_t j = 0; j < J; ++j)
        for (int64_t r = 0; r < 3; ++r) {
          const double* m = &a[((b * J + j) * rows + r) * 4];
          const double* q = &p[(b * V + v) * 3];
          out[(b * V + v) * 3 + r] += w[v * J + j] * (m[0] * q[0] + m[1] * q[1] + m[2] * q[2] + m[3]);
        }
  return tensor(out, {B, V, 3}, DType::F64);
}

// The composed version: per-vertex 3x4 matrices materialised, then applied.
Tensor composed_skin(const Tensor& weights, const Tensor& A34, const Tensor& v_posed) {
  const int64_t B = A34.size(0), J = A34.size(1), V = weights.size(0);
  Tensor T = reshape(matmul(weights, reshape(A34, {B, J, 12})), {B, V, 3, 4});
  return squeeze(matmul(narrow(T, 3, 0, 3), unsqueeze(v_posed, -1)), -1) + select(T, 3, 3);
}

TEST(Skin, EqualsANaiveLoop) {
  Tensor w = abs(randn64({37, 5}, 1));
  for (int64_t rows : {3, 4}) {
    Tensor A = randn64({3, 5, rows, 4}, 2), p = randn64({3, 37, 3}, 3);
    EXPECT_LT(max_abs_diff(skin(w, A, p), naive_skin(w, A, p)), 1e-13) << rows << " rows";
  }
}

TEST(Skin, TakesNonContiguousInputsAndZeroWeights) {
  Tensor w = abs(randn64({5, 29}, 4)).t();                     // (29, 5), transposed storage
  w = where(lt(w, 0.5), zeros_like(w), w);                     // many zeros: the skipped terms
  Tensor A = permute(randn64({4, 4, 5, 3}, 5), {0, 2, 3, 1});  // (4, 5, 3, 4) strided
  Tensor p = permute(randn64({3, 29, 4}, 6), {2, 1, 0});       // (4, 29, 3) strided
  EXPECT_LT(max_abs_diff(skin(w, A, p), naive_skin(w, A, p)), 1e-13);
}

TEST(Skin, GradcheckToTransformsAndVertices) {
  Tensor w = abs(randn64({9, 4}, 7));
  for (int64_t rows : {3, 4}) {
    Tensor A = leaf(randn64({2, 4, rows, 4}, 8)), p = leaf(randn64({2, 9, 3}, 9));
    GradcheckResult r =
        gradcheck([&](const std::vector<Tensor>& in) { return skin(w, in[0], in[1]); }, {A, p});
    EXPECT_TRUE(r.ok) << rows << " rows: " << r.message;
  }
}

// Long enough in V for the chunked backward (partial sums per vertex chunk) at batch 1 and 2.
TEST(Skin, BackwardEqualsTheComposedVersionAtEveryThreadCount) {
  const int saved = num_threads();
  Tensor w = abs(randn64({3001, 24}, 10));
  for (int threads : {1, 2, 4}) {
    set_num_threads(threads);
    for (int64_t B : {1, 2, 5}) {
      Tensor A = leaf(randn64({B, 24, 3, 4}, 11)), p = leaf(randn64({B, 3001, 3}, 12));
      Tensor A2 = leaf(A), p2 = leaf(p), g = randn64({B, 3001, 3}, 13);
      skin(w, A, p).backward(g);
      composed_skin(w, A2, p2).backward(g);
      EXPECT_LT(max_abs_diff(A.grad(), A2.grad()), 1e-9) << threads << " threads, B = " << B;
      EXPECT_LT(max_abs_diff(p.grad(), p2.grad()), 1e-12) << threads << " threads, B = " << B;
    }
  }
  set_num_threads(saved);
}

TEST(Skin, F32AgreesWithF64) {
  Tensor w = abs(randn64({100, 24}, 14));
  w = w / sum(w, {1}, true);
  Tensor A = randn64({2, 24, 3, 4}, 15), p = randn64({2, 100, 3}, 16);
  Tensor out32 = skin(w.to(DType::F32), A.to(DType::F32), p.to(DType::F32));
  EXPECT_EQ(out32.dtype(), DType::F32);
  EXPECT_LT(max_abs_diff(out32, skin(w, A, p)), 1e-5);
}

// ---- errors ---------------------------------------------------------------------------------------

TEST(Skin, BadArgumentsNameTheArgumentAndShape) {
  Tensor w = ones({10, 4}, DType::F64), A = zeros({2, 4, 3, 4}, DType::F64),
         p = zeros({2, 10, 3}, DType::F64);
  EXPECT_THROW(skin(w, zeros({2, 5, 3, 4}, DType::F64), p), ShapeError);
  std::string msg = error_message([&] { skin(w, zeros({2, 4, 3, 3}, DType::F64), p); });
  EXPECT_NE(msg.find("skin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("A of shape"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 4, 3, 3]"), std::string::npos) << msg;
  msg = error_message([&] { skin(w, A, zeros({2, 11, 3}, DType::F64)); });
  EXPECT_NE(msg.find("v_posed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 11, 3]"), std::string::npos) << msg;
  EXPECT_THROW(skin(w, A.to(DType::F32), p), DTypeError);
  EXPECT_THROW(skin(zeros({10}, DType::F64), A, p), ShapeError);
}

TEST(BodyModel, BadForwardArgumentsNameTheArgumentAndShape) {
  BodyModel model(tiny_model(6, 5, 51), DType::F64);
  Tensor betas = zeros({2, 5}, DType::F64), pose = zeros({2, 72}, DType::F64);
  std::string msg = error_message([&] { model.forward(zeros({2, 6}, DType::F64), pose); });
  EXPECT_NE(msg.find("betas"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 6]"), std::string::npos) << msg;
  EXPECT_THROW(model.forward(zeros({2, 6}, DType::F64), pose), ShapeError);
  msg = error_message([&] { model.forward(betas, zeros({2, 69}, DType::F64)); });
  EXPECT_NE(msg.find("pose"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 69]"), std::string::npos) << msg;
  EXPECT_THROW(model.forward(betas, zeros({3, 72}, DType::F64)), ShapeError);
  EXPECT_THROW(model.forward(betas, zeros({2, 24, 3, 4}, DType::F64)), ShapeError);
  msg = error_message([&] { model.forward(betas, pose, zeros({2, 2}, DType::F64)); });
  EXPECT_NE(msg.find("transl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 2]"), std::string::npos) << msg;
  EXPECT_THROW(model.forward(betas, zeros({2, 72}, DType::I64)), DTypeError);
}

TEST(BodyModel, MissingOrMisShapedModelArraysNameTheKey) {
  BodyModelData data = tiny_model(6, 5, 61);
  data.posedirs = zeros({6, 3, 10}, DType::F64);
  std::string msg = error_message([&] { BodyModel m(data); });
  EXPECT_NE(msg.find("posedirs"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[6, 3, 10]"), std::string::npos) << msg;
  data = tiny_model(6, 5, 61);
  data.weights = Tensor();
  msg = error_message([&] { BodyModel m(data); });
  EXPECT_NE(msg.find("weights"), std::string::npos) << msg;
  data = tiny_model(6, 5, 61);
  data.parents = Tensor::from_vector(std::vector<int64_t>(24, 0), {24});
  EXPECT_THROW(BodyModel m(data), ValueError);
}

TEST(BodyModel, ExtraJointSetsNeedTheirArrays) {
  BodyModel model(fixture_model(false), DType::F64);
  BodyOutput out = model.forward(zeros({1, 10}, DType::F64), zeros({1, 72}, DType::F64));
  std::string msg = error_message([&] { model.spin_joints49(out); });
  EXPECT_NE(msg.find("vertex_joint_ids"), std::string::npos) << msg;
  msg = error_message([&] { model.h36m_joints17(out); });
  EXPECT_NE(msg.find("J_regressor_h36m"), std::string::npos) << msg;
  EXPECT_THROW(model.lsp_joints14(out), ValueError);
}

}  // namespace
