// hmr/body/model_data: SMPL's pickle, smplx's .npz and our .npz load to the arrays numpy wrote
// (tests/fixtures/make_body_io_fixtures.py), our .npz round-trips exactly, and bad models and
// files fail with errors naming the key, the expected and the found shape, or the path.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "hmr/body/model_data.h"
#include "io/file.h"
#include "io/npy.h"
#include "support.h"

using namespace hmr;
using namespace hmr::body;
using hmr::testing::error_message;

namespace {

std::string fixture(const std::string& name) {
  return std::string(HMR_SOURCE_DIR) + "/tests/fixtures/body/" + name;
}

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "hmr_body_io_" + name; }

const TensorDict& expected() {
  static const TensorDict arrays = io::load_npz(fixture("expected.npz"));
  return arrays;
}

// The value numpy wrote, as an f32 file holds it: rounded to f32 and widened back.
Tensor as_f32(const Tensor& t) { return t.to(DType::F32).to(DType::F64); }

// Same dtype, shape and every element bit-for-bit (compared as f64, exact for our I64 ranges).
void expect_equal(const Tensor& got, const Tensor& want, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_TRUE(got.defined());
  EXPECT_EQ(got.dtype(), want.dtype());
  ASSERT_EQ(got.sizes(), want.sizes());
  std::vector<double> g = got.to(DType::F64).contiguous().to_vector<double>();
  std::vector<double> w = want.to(DType::F64).contiguous().to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) ASSERT_EQ(g[i], w[i]) << "element " << i;
}

void expect_required_fields(const BodyModelData& d, bool f32_file) {
  const TensorDict& e = expected();
  auto floating = [&](const char* key) { return f32_file ? as_f32(e.at(key)) : e.at(key); };
  expect_equal(d.v_template, floating("v_template"), "v_template");
  expect_equal(d.shapedirs, floating("shapedirs"), "shapedirs");
  expect_equal(d.posedirs, floating("posedirs"), "posedirs");
  expect_equal(d.J_regressor, floating("J_regressor"), "J_regressor");
  expect_equal(d.weights, floating("weights"), "weights");
  expect_equal(d.parents, e.at("parents"), "parents");
  expect_equal(d.faces, e.at("faces"), "faces");
  EXPECT_EQ(d.num_vertices(), 40);
  EXPECT_EQ(d.num_joints(), 24);
  EXPECT_EQ(d.num_betas(), 10);
  EXPECT_EQ(d.num_faces(), 60);
}

void expect_optional_fields(const BodyModelData& d) {
  const TensorDict& e = expected();
  expect_equal(d.part_labels, e.at("part_labels"), "part_labels");
  expect_equal(d.J_regressor_extra, e.at("J_regressor_extra"), "J_regressor_extra");
  expect_equal(d.J_regressor_h36m, e.at("J_regressor_h36m"), "J_regressor_h36m");
  expect_equal(d.vertex_joint_ids, e.at("vertex_joint_ids"), "vertex_joint_ids");
  expect_equal(d.mean_pose, e.at("mean_pose"), "mean_pose");
  expect_equal(d.mean_shape, e.at("mean_shape"), "mean_shape");
  expect_equal(d.mean_cam, e.at("mean_cam"), "mean_cam");
}

// The expected model as the arrays a file would hold (kintree_table with uint32's root).
TensorDict model_arrays() {
  const TensorDict& e = expected();
  TensorDict a;
  for (const char* key : {"v_template", "shapedirs", "posedirs", "J_regressor", "weights"})
    a.set(key, e.at(key));
  std::vector<int64_t> kintree = e.at("parents").to_vector<int64_t>();
  kintree[0] = 4294967295LL;
  for (int64_t j = 0; j < 24; ++j) kintree.push_back(j);
  a.set("kintree_table", Tensor::from_vector(kintree, {2, 24}));
  a.set("f", e.at("faces"));
  return a;
}

BodyModelData good_model() { return body_model_from_arrays(model_arrays(), "test", "in-memory"); }

// The message of the E that fn throws; fails the test if it throws anything else or nothing.
template <class E, class Fn>
std::string message_of(Fn fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw another exception type: " << e.what();
    return "";
  }
  ADD_FAILURE() << "did not throw";
  return "";
}

void expect_mentions(const std::string& msg, const std::vector<std::string>& parts) {
  for (const std::string& p : parts)
    EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
}

// A copy of d whose field (chosen by the caller) can be edited without touching d's storage.
Tensor edited(const Tensor& t) { return t.clone(); }

}  // namespace

TEST(BodyJointNames, AreSmplsOfficialNamesInOrder) {
  EXPECT_STREQ(kSmplJointNames[0], "pelvis");
  EXPECT_STREQ(kSmplJointNames[3], "spine1");
  EXPECT_STREQ(kSmplJointNames[12], "neck");
  EXPECT_STREQ(kSmplJointNames[15], "head");
  EXPECT_STREQ(kSmplJointNames[22], "left_hand");
  EXPECT_STREQ(kSmplJointNames[23], "right_hand");
  // Every left joint is followed by its right twin, and twins hang from twins (or one parent).
  for (int j = 0; j < kSmplJoints; ++j) {
    std::string name = kSmplJointNames[j];
    if (name.rfind("left_", 0) != 0) continue;
    SCOPED_TRACE(name);
    ASSERT_LT(j + 1, kSmplJoints);
    EXPECT_EQ(std::string(kSmplJointNames[j + 1]), "right_" + name.substr(5));
    int pl = kSmplParents[j], pr = kSmplParents[j + 1];
    EXPECT_TRUE(pl == pr || (pr == pl + 1 && std::string(kSmplJointNames[pl]).rfind("left_", 0) == 0));
  }
}

TEST(BodyIO, SmplPickleLoadsAsNumpyWroteIt) {
  BodyModelData d = load_body_model(fixture("smpl_py2.pkl"));
  EXPECT_EQ(d.kind, "smpl-pkl");
  EXPECT_EQ(d.path, fixture("smpl_py2.pkl"));
  expect_required_fields(d, /*f32_file=*/false);
  EXPECT_FALSE(d.part_labels.defined());
  EXPECT_FALSE(d.mean_pose.defined());
}

TEST(BodyIO, SmplxNpzLoadsWithF32ValuesAndItsPosedirsLayout) {
  // f32 arrays, posedirs as (P, V*3), int32 faces, uint32 kintree_table, and keys our npy
  // reader cannot parse (a str array, an object array) that the loader must skip.
  BodyModelData d = load_body_model(fixture("smplx_style.npz"));
  EXPECT_EQ(d.kind, "smplx-npz");
  expect_required_fields(d, /*f32_file=*/true);
  EXPECT_FALSE(d.J_regressor_h36m.defined());
}

TEST(BodyIO, OurNpzLoadsEveryOptionalField) {
  BodyModelData d = load_body_model(fixture("hmr_model.npz"));
  EXPECT_EQ(d.kind, "hmr-npz");
  expect_required_fields(d, /*f32_file=*/false);
  expect_optional_fields(d);
}

TEST(BodyIO, SaveThenLoadGivesTheSameArrays) {
  for (const char* name : {"hmr_model.npz", "smpl_py2.pkl"}) {
    SCOPED_TRACE(name);
    BodyModelData d = load_body_model(fixture(name));
    std::string out = temp_path("roundtrip.npz");
    save_body_model_npz(out, d);
    BodyModelData back = load_body_model(out);
    EXPECT_EQ(back.kind, "hmr-npz");
    EXPECT_EQ(back.path, out);
    expect_required_fields(back, false);
    const Tensor* fields[] = {&d.part_labels, &d.J_regressor_extra, &d.J_regressor_h36m, &d.vertex_joint_ids,
                              &d.mean_pose,   &d.mean_shape,        &d.mean_cam};
    const Tensor* back_fields[] = {&back.part_labels,      &back.J_regressor_extra, &back.J_regressor_h36m,
                                   &back.vertex_joint_ids, &back.mean_pose,         &back.mean_shape,
                                   &back.mean_cam};
    for (size_t i = 0; i < 7; ++i) {
      ASSERT_EQ(fields[i]->defined(), back_fields[i]->defined()) << "optional field " << i;
      if (fields[i]->defined())
        expect_equal(*back_fields[i], *fields[i], "optional field " + std::to_string(i));
    }
    std::remove(out.c_str());
  }
}

TEST(BodyIO, MeanParamsFillTheMeanFields) {
  BodyModelData d = load_body_model(fixture("smpl_py2.pkl"));
  load_mean_params(fixture("smpl_mean_params.npz"), d);
  expect_equal(d.mean_pose, expected().at("mean_pose"), "mean_pose");
  expect_equal(d.mean_shape, expected().at("mean_shape"), "mean_shape");
  expect_equal(d.mean_cam, expected().at("mean_cam"), "mean_cam");
  d.validate();
}

TEST(BodyIO, MeanParamsOfTheWrongSizeNameTheKeyAndShapes) {
  BodyModelData d = good_model();
  std::string path = temp_path("bad_mean.npz");
  TensorDict bad;
  bad.set("pose", zeros({143}, DType::F64));
  bad.set("shape", zeros({10}, DType::F64));
  bad.set("cam", zeros({3}, DType::F64));
  io::save_npz(path, bad);
  expect_mentions(message_of<ShapeError>([&] { load_mean_params(path, d); }),
                  {"'pose'", "[144]", "[143]", path});

  bad.set("pose", zeros({144}, DType::F64));
  bad.set("shape", zeros({11}, DType::F64));
  io::save_npz(path, bad);
  expect_mentions(message_of<ShapeError>([&] { load_mean_params(path, d); }), {"'shape'", "S = 10", "[11]"});

  bad.erase("cam");
  io::save_npz(path, bad);
  expect_mentions(message_of<ValueError>([&] { load_mean_params(path, d); }),
                  {"'cam'", path, "pose", "shape"});
  std::remove(path.c_str());
}

TEST(BodyIO, ArraysOfAnyJointTreeAndBetaCountLoad) {
  // An SMPL-X-like model: 55 joints in a chain, 300 betas, posedirs in smplx's (P, V*3) layout.
  const int64_t V = 5, J = 55, S = 300, P = 9 * (J - 1);
  TensorDict a;
  a.set("v_template", zeros({V, 3}, DType::F64));
  a.set("shapedirs", zeros({V, 3, S}, DType::F32));
  a.set("posedirs", arange(P * V * 3, TensorOptions{DType::F64}).reshape({P, V * 3}));
  a.set("J_regressor", full({J, V}, 1.0 / V, TensorOptions{DType::F64}));
  a.set("weights", full({V, J}, 1.0 / J, TensorOptions{DType::F64}));
  std::vector<int64_t> kintree;
  for (int64_t j = 0; j < J; ++j) kintree.push_back(j - 1);
  for (int64_t j = 0; j < J; ++j) kintree.push_back(j);
  a.set("kintree_table", Tensor::from_vector(kintree, {2, J}));
  a.set("f", Tensor::from_vector(std::vector<int32_t>{0, 1, 2, 2, 3, 4}, {2, 3}));
  BodyModelData d = body_model_from_arrays(a, "smplx-npz", "");
  EXPECT_EQ(d.num_joints(), J);
  EXPECT_EQ(d.num_betas(), S);
  EXPECT_EQ(d.shapedirs.dtype(), DType::F64);
  EXPECT_EQ(d.faces.dtype(), DType::I64);
  ASSERT_EQ(d.posedirs.sizes(), (Shape{V, 3, P}));
  // posedirs_file[v, c, p] sits at row p, column 3v + c of smplx's layout (value p*V*3 + 3v + c).
  std::vector<double> pd = d.posedirs.to_vector<double>();
  EXPECT_EQ(pd[(2 * 3 + 1) * P + 7], 7.0 * V * 3 + 3 * 2 + 1);
  EXPECT_EQ(d.parents.to_vector<int64_t>()[54], 53);
}

TEST(BodyIO, MissingKeyNamesTheKeyTheFileAndTheKeysFound) {
  TensorDict a = model_arrays();
  a.erase("weights");
  std::string msg = message_of<ValueError>([&] { body_model_from_arrays(a, "test", "model.npz"); });
  expect_mentions(msg, {"'weights'", "model.npz", "v_template", "kintree_table"});

  BodyModelData d = good_model();
  d.weights = Tensor();
  expect_mentions(message_of<ValueError>([&] { d.validate(); }), {"'weights'", "missing"});
}

TEST(BodyIO, WrongVertexCountInWeightsNamesBothShapes) {
  BodyModelData d = good_model();
  d.weights = full({41, 24}, 1.0 / 24, TensorOptions{DType::F64});
  expect_mentions(message_of<ShapeError>([&] { d.validate(); }),
                  {"'weights'", "(V, J) = [40, 24]", "[41, 24]"});
}

TEST(BodyIO, WrongPoseBlendCountNamesBothShapes) {
  BodyModelData d = good_model();
  d.posedirs = zeros({40, 3, 200}, DType::F64);
  expect_mentions(message_of<ShapeError>([&] { d.validate(); }),
                  {"'posedirs'", "(V, 3, P) = [40, 3, 207]", "[40, 3, 200]"});
  // From a file's arrays too: neither SMPL's layout nor smplx's.
  TensorDict a = model_arrays();
  a.set("posedirs", zeros({206, 120}, DType::F64));
  expect_mentions(message_of<ShapeError>([&] { body_model_from_arrays(a, "test", "m.npz"); }),
                  {"'posedirs'", "m.npz", "[40, 3, 207]", "[206, 120]"});
}

TEST(BodyIO, ParentsThatAreNotATreeAreRejected) {
  BodyModelData d = good_model();
  d.parents = edited(d.parents);
  d.parents.data<int64_t>()[5] = 7;  // a joint hanging from a later joint
  expect_mentions(message_of<ValueError>([&] { d.validate(); }), {"parents[5]", "7", "tree"});
  d.parents.data<int64_t>()[5] = 2;
  d.parents.data<int64_t>()[0] = 0;  // no root
  expect_mentions(message_of<ValueError>([&] { d.validate(); }), {"parents[0]", "-1"});
  // A kintree_table whose id row is not 0..J-1.
  TensorDict a = model_arrays();
  Tensor k = a.at("kintree_table").clone();
  k.data<int64_t>()[24 + 3] = 9;
  a.set("kintree_table", k);
  expect_mentions(message_of<ValueError>([&] { body_model_from_arrays(a, "test", "m.pkl"); }),
                  {"'kintree_table'", "column 3", "m.pkl"});
}

TEST(BodyIO, FaceIndexOutOfRangeIsRejected) {
  BodyModelData d = good_model();
  d.faces = edited(d.faces);
  d.faces.data<int64_t>()[4] = 40;
  expect_mentions(message_of<ValueError>([&] { d.validate(); }), {"faces", "element 4", "40", "[0, 40)"});
  d.faces.data<int64_t>()[4] = -1;
  expect_mentions(message_of<ValueError>([&] { d.validate(); }), {"faces", "-1"});
}

TEST(BodyIO, WeightsNotSummingToOneAreRejected) {
  BodyModelData d = good_model();
  d.weights = edited(d.weights);
  d.weights.data<double>()[3 * 24 + 5] += 0.01;
  expect_mentions(message_of<ValueError>([&] { d.validate(); }), {"'weights'", "row 3"});
  // Within 1e-4 is still fine (f32 files sum to 1 only that closely).
  d.weights.data<double>()[3 * 24 + 5] -= 0.01 - 5e-5;
  EXPECT_NO_THROW(d.validate());
}

TEST(BodyIO, OptionalFieldsAndDtypesAreChecked) {
  BodyModelData d = good_model();
  d.part_labels = full({40}, 24, TensorOptions{DType::I64});
  expect_mentions(message_of<ValueError>([&] { d.validate(); }), {"'part_labels'", "24", "[0, 24)"});
  d.part_labels = Tensor();
  d.J_regressor_h36m = zeros({14, 40}, DType::F64);
  expect_mentions(message_of<ShapeError>([&] { d.validate(); }),
                  {"'J_regressor_h36m'", "[17, 40]", "[14, 40]"});
  d.J_regressor_h36m = Tensor();
  d.mean_pose = zeros({72}, DType::F64);
  expect_mentions(message_of<ShapeError>([&] { d.validate(); }), {"'mean_pose'", "[144]", "[72]"});
  d.mean_pose = Tensor();
  d.v_template = d.v_template.to(DType::F32);
  expect_mentions(message_of<DTypeError>([&] { d.validate(); }), {"'v_template'", "float64", "float32"});
}

TEST(BodyIO, TruncatedOrForeignFilesGiveIOErrorsNamingThePath) {
  for (const char* name : {"smpl_py2.pkl", "hmr_model.npz"}) {
    SCOPED_TRACE(name);
    std::string bytes = io::read_file(fixture(name));
    std::string path = temp_path(std::string("truncated_") + name);
    io::write_file_atomic(path, bytes.substr(0, bytes.size() / 2));
    expect_mentions(message_of<IOError>([&] { load_body_model(path); }), {path});
    std::remove(path.c_str());
  }
  std::string text = temp_path("text.obj");
  io::write_file_atomic(text, std::string("v 0 0 0\n"));
  expect_mentions(message_of<IOError>([&] { load_body_model(text); }), {text, "neither"});
  std::remove(text.c_str());
  std::string missing = temp_path("does_not_exist.pkl");
  expect_mentions(message_of<IOError>([&] { load_body_model(missing); }), {missing});
}
