// io/mesh: OBJ round trips (exact for f32 and f64, polygons, slash forms, negative indices),
// the PLY bytes read back by an independent parser here, and bad input.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "io/file.h"
#include "io/mesh.h"
#include "support.h"

using namespace hmr;
using namespace hmr::io;
using hmr::testing::error_message;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("hmr_test_mesh_" + name)).string();
}

// Values that need all their digits: thirds, a tiny and a large one.
const std::vector<double> kVertices = {1.0 / 3, -2.0 / 7, 1e-17, 123456.789012345, -0.1, 7.0 / 9,
                                       0.0,     2.5,      -1e20, 3.0,              4.0,  5.0};
const std::vector<int64_t> kFaces = {0, 1, 2, 2, 3, 0};

}  // namespace

TEST(MeshObj, RoundTripIsExactInF64AndF32) {
  const std::string path = temp_path("a.obj");
  Tensor v = Tensor::from_vector(kVertices, {4, 3}), f = Tensor::from_vector(kFaces, {2, 3});
  save_obj(path, v, f);
  Mesh m = load_obj(path, DType::F64);
  EXPECT_EQ(m.vertices.to_vector<double>(), kVertices);
  EXPECT_EQ(m.faces.to_vector<int64_t>(), kFaces);
  std::vector<float> v32(kVertices.begin(), kVertices.end());
  save_obj(path, Tensor::from_vector(v32, {4, 3}), Tensor::from_vector(std::vector<int32_t>(kFaces.begin(), kFaces.end()), {2, 3}));
  Mesh m32 = load_obj(path);
  EXPECT_EQ(m32.vertices.dtype(), DType::F32);
  EXPECT_EQ(m32.vertices.to_vector<float>(), v32);
  std::filesystem::remove(path);
}

TEST(MeshObj, ColorsFollowTheCoordinatesAndAreIgnoredOnLoad) {
  const std::string path = temp_path("c.obj");
  Tensor v = Tensor::from_vector(std::vector<double>{0, 0, 0, 1, 0, 0, 0, 1, 0}, {3, 3});
  Tensor c = Tensor::from_vector(std::vector<double>{1, 0, 0, 0, 0.5, 0, 0, 0, 0.25}, {3, 3});
  save_obj(path, v, Tensor::from_vector(std::vector<int64_t>{0, 1, 2}, {1, 3}), c);
  const std::string text = read_file(path);
  EXPECT_NE(text.find("v 1 0 0 0 0.5 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("f 1 2 3\n"), std::string::npos) << text;
  EXPECT_EQ(load_obj(path, DType::F64).vertices.to_vector<double>(), v.to_vector<double>());
  std::filesystem::remove(path);
}

TEST(MeshObj, PolygonsSlashFormsAndNegativeIndices) {
  const std::string text =
      "# a quad and a triangle\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvt 0 0\nvn 0 0 1\n"
      "f 1/1/1 2/1/1 3//1 4\ng other\nf -1 -2 -3\n";
  Mesh m = parse_obj(text, "inline");
  EXPECT_EQ(m.vertices.sizes(), Shape({4, 3}));
  EXPECT_EQ(m.faces.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 0, 2, 3, 3, 2, 1}));
}

TEST(MeshObj, BadInputNamesTheFileAndLine) {
  std::string m = error_message([] { parse_obj("v 0 0 0\nv 1 0 0\nf 1 2 3\n", "x.obj"); });
  EXPECT_NE(m.find("x.obj:3"), std::string::npos) << m;
  EXPECT_NE(m.find("out of range"), std::string::npos) << m;
  EXPECT_THROW(parse_obj("v 0 0\n", "x.obj"), IOError);
  EXPECT_THROW(parse_obj("v 0 0 zero\n", "x.obj"), IOError);
  EXPECT_THROW(parse_obj("v 0 0 0\nv 1 0 0\nf 1 2\n", "x.obj"), IOError);
  EXPECT_THROW(parse_obj("v 0 0 0\nf 1 a 1\n", "x.obj"), IOError);
  EXPECT_THROW(parse_obj("v 0 0 0\nf 0 1 1\n", "x.obj"), IOError);
  EXPECT_THROW(load_obj(temp_path("missing.obj")), IOError);
  Tensor v = Tensor::from_vector(kVertices, {4, 3});
  m = error_message([&] { save_obj(temp_path("bad.obj"), v, Tensor::from_vector(std::vector<int64_t>{0, 1, 4}, {1, 3})); });
  EXPECT_NE(m.find("save_obj"), std::string::npos) << m;
  EXPECT_NE(m.find("face index 4"), std::string::npos) << m;
  EXPECT_THROW(save_ply(temp_path("bad.ply"), Tensor::from_vector(kVertices, {12}), Tensor::from_vector(kFaces, {2, 3})),
               ShapeError);
  EXPECT_THROW(save_ply(temp_path("bad.ply"), v, Tensor::from_vector(kVertices, {4, 3})), DTypeError);
  EXPECT_FALSE(std::filesystem::exists(temp_path("bad.obj")));
}

TEST(MeshPly, BinaryLayoutReadsBack) {
  const std::string path = temp_path("a.ply");
  std::vector<float> v32(kVertices.begin(), kVertices.end());
  Tensor colors = Tensor::from_vector(std::vector<double>{1, 0, 0.5, 0, 1, 0, 0, 0, 1, 0.2, 0.2, 0.2}, {4, 3});
  save_ply(path, Tensor::from_vector(v32, {4, 3}), Tensor::from_vector(kFaces, {2, 3}), colors);
  const std::string bytes = read_file(path);
  const std::string header =
      "ply\nformat binary_little_endian 1.0\ncomment written by hmr.cpp\nelement vertex 4\n"
      "property float x\nproperty float y\nproperty float z\nproperty uchar red\nproperty uchar green\n"
      "property uchar blue\nelement face 2\nproperty list uchar int vertex_indices\nend_header\n";
  ASSERT_EQ(bytes.substr(0, header.size()), header);
  const char* p = bytes.data() + header.size();
  const uint8_t expected_rgb[4][3] = {{255, 0, 128}, {0, 255, 0}, {0, 0, 255}, {51, 51, 51}};
  for (int i = 0; i < 4; ++i) {
    float xyz[3];
    std::memcpy(xyz, p, 12);
    for (int k = 0; k < 3; ++k) EXPECT_EQ(xyz[k], v32[3 * i + k]);
    for (int k = 0; k < 3; ++k) EXPECT_EQ(static_cast<uint8_t>(p[12 + k]), expected_rgb[i][k]);
    p += 15;
  }
  for (int f = 0; f < 2; ++f) {
    EXPECT_EQ(static_cast<uint8_t>(p[0]), 3);
    int32_t idx[3];
    std::memcpy(idx, p + 1, 12);
    for (int k = 0; k < 3; ++k) EXPECT_EQ(idx[k], kFaces[3 * f + k]);
    p += 13;
  }
  EXPECT_EQ(p, bytes.data() + bytes.size());
  std::filesystem::remove(path);
}
