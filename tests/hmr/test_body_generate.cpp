// hmr/body surface tools and the generated body model: marching tetrahedra and decimation on
// shapes with known area, volume and topology (sphere, torus), then the generated model's
// layout, rigging invariants and the effects its blend shapes are documented to have.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "hmr/body/generate.h"
#include "hmr/body/surface.h"

using namespace hmr;
using namespace hmr::body;

namespace {

double sphere_sdf(const Vec3& p, double r) { return std::sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]) - r; }
double torus_sdf(const Vec3& p, double big, double small) {
  const double q = std::sqrt(p[0] * p[0] + p[2] * p[2]) - big;
  return std::sqrt(q * q + p[1] * p[1]) - small;
}

// Area and signed volume (divergence theorem: positive when faces point outward).
void area_volume(const TriMesh& m, double& area, double& volume) {
  area = volume = 0;
  for (const auto& f : m.faces) {
    const Vec3 &a = m.vertices[f[0]], &b = m.vertices[f[1]], &c = m.vertices[f[2]];
    const Vec3 ab = {b[0] - a[0], b[1] - a[1], b[2] - a[2]}, ac = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
    const Vec3 n = {ab[1] * ac[2] - ab[2] * ac[1], ab[2] * ac[0] - ab[0] * ac[2], ab[0] * ac[1] - ab[1] * ac[0]};
    area += 0.5 * std::sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
    volume += (a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0]) + a[2] * (b[0] * c[1] - b[1] * c[0])) / 6.0;
  }
}

TEST(Surface, MarchingTetrahedraSphere) {
  const double r = 0.5;
  TriMesh m = marching_tetrahedra([&](const Vec3& p) { return sphere_sdf(p, r); }, {-0.7, -0.7, -0.7}, {0.7, 0.7, 0.7}, 0.05);
  const Topology t = mesh_topology(m);
  EXPECT_TRUE(t.closed_manifold);
  EXPECT_EQ(t.euler, 2);
  EXPECT_EQ(t.components, 1);
  double max_err = 0;
  for (const Vec3& v : m.vertices) max_err = std::max(max_err, std::fabs(sphere_sdf(v, r)));
  // Linear interpolation along an edge of length <= 0.05 sqrt(3) on a radius-0.5 sphere.
  EXPECT_LT(max_err, 0.01);
  double area, volume;
  area_volume(m, area, volume);
  EXPECT_NEAR(area, 4 * M_PI * r * r, 0.02 * 4 * M_PI * r * r);
  EXPECT_NEAR(volume, 4.0 / 3.0 * M_PI * r * r * r, 0.03 * 4.0 / 3.0 * M_PI * r * r * r);  // > 0: outward
}

TEST(Surface, TorusHasGenusOne) {
  TriMesh m = marching_tetrahedra([](const Vec3& p) { return torus_sdf(p, 0.5, 0.2); }, {-0.8, -0.3, -0.8}, {0.8, 0.3, 0.8}, 0.04);
  const Topology t = mesh_topology(m);
  EXPECT_TRUE(t.closed_manifold);
  EXPECT_EQ(t.euler, 0);
  EXPECT_EQ(t.components, 1);
}

TEST(Surface, TopologyDetectsOpenAndMisorientedMeshes) {
  TriMesh tet;
  tet.vertices = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
  tet.faces = {{0, 2, 1}, {0, 1, 3}, {0, 3, 2}, {1, 2, 3}};
  Topology t = mesh_topology(tet);
  EXPECT_TRUE(t.closed_manifold);
  EXPECT_EQ(t.euler, 2);
  double area, volume;
  area_volume(tet, area, volume);
  EXPECT_NEAR(volume, 1.0 / 6.0, 1e-15);
  TriMesh flipped = tet;
  std::swap(flipped.faces[3][0], flipped.faces[3][1]);
  EXPECT_FALSE(mesh_topology(flipped).closed_manifold);
  TriMesh open = tet;
  open.faces.pop_back();
  EXPECT_FALSE(mesh_topology(open).closed_manifold);
}

TEST(Surface, DecimateToExactCountKeepsShape) {
  const double r = 0.5;
  auto f = [&](const Vec3& p) { return sphere_sdf(p, r); };
  TriMesh m = marching_tetrahedra(f, {-0.7, -0.7, -0.7}, {0.7, 0.7, 0.7}, 0.04);
  ASSERT_GT(m.vertices.size(), 2000u);
  TriMesh d = decimate(m, 500);
  EXPECT_EQ(d.vertices.size(), 500u);
  EXPECT_EQ(d.faces.size(), 2u * 500 - 4);  // a closed genus-0 triangle mesh
  const Topology t = mesh_topology(d);
  EXPECT_TRUE(t.closed_manifold);
  EXPECT_EQ(t.euler, 2);
  relax(d, f, 3);
  double max_err = 0;
  for (const Vec3& v : d.vertices) max_err = std::max(max_err, std::fabs(f(v)));
  EXPECT_LT(max_err, 1e-6);  // relax projects back onto the zero set
  double area, volume;
  area_volume(d, area, volume);
  EXPECT_NEAR(volume, 4.0 / 3.0 * M_PI * r * r * r, 0.05 * 4.0 / 3.0 * M_PI * r * r * r);
  EXPECT_THROW(decimate(m, 3), ValueError);
  EXPECT_THROW(decimate(m, static_cast<int64_t>(m.vertices.size()) + 1), ValueError);
}

// ---- the generated model ----------------------------------------------------------------------

const BodyModelData& small_model() { return default_body_model(BodySize::Small); }

std::vector<Vec3> regress(const BodyModelData& d, const Tensor& verts) {
  const int64_t V = d.num_vertices();
  const double* jr = d.J_regressor.data<double>();
  const double* v = verts.data<double>();
  std::vector<Vec3> out(static_cast<size_t>(d.num_joints()), Vec3{0, 0, 0});
  for (int64_t j = 0; j < d.num_joints(); ++j)
    for (int64_t i = 0; i < V; ++i)
      for (int c = 0; c < 3; ++c) out[static_cast<size_t>(j)][static_cast<size_t>(c)] += jr[j * V + i] * v[i * 3 + c];
  return out;
}

// v_template + beta_k shapedirs[:, :, k] (no posing).
Tensor shaped(const BodyModelData& d, int k, double beta) {
  const int64_t V = d.num_vertices(), S = d.num_betas();
  std::vector<double> out(static_cast<size_t>(V * 3));
  const double* t = d.v_template.data<double>();
  const double* s = d.shapedirs.data<double>();
  for (int64_t i = 0; i < V * 3; ++i) out[static_cast<size_t>(i)] = t[i] + beta * s[i * S + k];
  return Tensor::from_vector(out, {V, 3});
}

TEST(GeneratedBody, LayoutOfSmpl) {
  const BodyModelData& d = small_model();
  EXPECT_EQ(d.num_vertices(), 690);
  EXPECT_EQ(d.num_faces(), 2 * 690 - 4);
  EXPECT_EQ(d.num_joints(), 24);
  EXPECT_EQ(d.num_betas(), 10);
  EXPECT_EQ(d.posedirs.sizes(), (Shape{690, 3, 207}));
  EXPECT_EQ(d.J_regressor.sizes(), (Shape{24, 690}));
  EXPECT_EQ(d.weights.sizes(), (Shape{690, 24}));
  EXPECT_EQ(d.J_regressor_extra.sizes(), (Shape{9, 690}));
  EXPECT_EQ(d.J_regressor_h36m.sizes(), (Shape{17, 690}));
  EXPECT_EQ(d.vertex_joint_ids.sizes(), (Shape{21}));
  EXPECT_EQ(d.mean_pose.sizes(), (Shape{144}));
  EXPECT_EQ(d.kind, "generated");
  for (int j = 0; j < 24; ++j) EXPECT_EQ(d.parents.data<int64_t>()[j], kSmplParents[j]);
  TriMesh m;
  for (int64_t i = 0; i < d.num_vertices(); ++i) {
    const double* v = d.v_template.data<double>() + 3 * i;
    m.vertices.push_back({v[0], v[1], v[2]});
  }
  for (int64_t f = 0; f < d.num_faces(); ++f) {
    const int64_t* x = d.faces.data<int64_t>() + 3 * f;
    m.faces.push_back({static_cast<int32_t>(x[0]), static_cast<int32_t>(x[1]), static_cast<int32_t>(x[2])});
  }
  const Topology t = mesh_topology(m);
  EXPECT_TRUE(t.closed_manifold);
  EXPECT_EQ(t.euler, 2);
  EXPECT_EQ(t.components, 1);
  double area, volume;
  area_volume(m, area, volume);
  // An adult: ~1.7 m tall, 1.6-2.0 m^2 of skin (Du Bois), 0.05-0.09 m^3.
  EXPECT_GT(area, 1.3);
  EXPECT_LT(area, 2.2);
  EXPECT_GT(volume, 0.04);
  EXPECT_LT(volume, 0.1);
}

TEST(GeneratedBody, RiggingInvariants) {
  const BodyModelData& d = small_model();
  const int64_t V = d.num_vertices();
  const double* w = d.weights.data<double>();
  std::set<int64_t> parts;
  for (int64_t i = 0; i < V; ++i) {
    double s = 0;
    for (int j = 0; j < 24; ++j) {
      EXPECT_GE(w[i * 24 + j], 0.0);
      s += w[i * 24 + j];
    }
    EXPECT_NEAR(s, 1.0, 1e-12);
    const int64_t label = d.part_labels.data<int64_t>()[i];
    EXPECT_EQ(w[i * 24 + label], *std::max_element(w + i * 24, w + i * 24 + 24));
    parts.insert(label);
  }
  EXPECT_EQ(parts.size(), 24u);  // every part has vertices
  for (const Tensor& reg : {d.J_regressor, d.J_regressor_extra, d.J_regressor_h36m})
    for (int64_t j = 0; j < reg.size(0); ++j) {
      double s = 0;
      for (int64_t i = 0; i < V; ++i) {
        EXPECT_GE(reg.data<double>()[j * V + i], 0.0);
        s += reg.data<double>()[j * V + i];
      }
      EXPECT_NEAR(s, 1.0, 1e-12);
    }
  // Regressed rest joints sit near the designed skeleton (exactly where the ring around the
  // joint contains it; the coarse variant's rings are a few vertices).
  const auto joints = regress(d, d.v_template);
  for (int j = 0; j < 24; ++j) {
    double e = 0;
    for (int c = 0; c < 3; ++c) e += std::pow(joints[static_cast<size_t>(j)][static_cast<size_t>(c)] - designed_joints()[3 * j + c], 2);
    EXPECT_LT(std::sqrt(e), 0.03) << "joint " << j;
  }
  // Left is +x; the tree is left-right symmetric.
  EXPECT_GT(joints[16][0], 0.1);
  EXPECT_LT(joints[17][0], -0.1);
  for (int64_t id : std::vector<int64_t>(d.vertex_joint_ids.data<int64_t>(), d.vertex_joint_ids.data<int64_t>() + 21)) {
    EXPECT_GE(id, 0);
    EXPECT_LT(id, V);
  }
}

TEST(GeneratedBody, FullSizeHasSmplCountsAndExactJoints) {
  const BodyModelData& d = default_body_model(BodySize::Full);
  EXPECT_EQ(d.num_vertices(), 6890);
  EXPECT_EQ(d.num_faces(), 13776);
  const auto joints = regress(d, d.v_template);
  for (int j = 0; j < 24; ++j)
    for (int c = 0; c < 3; ++c)
      EXPECT_NEAR(joints[static_cast<size_t>(j)][static_cast<size_t>(c)], designed_joints()[3 * j + c], 1e-3) << "joint " << j;
}

TEST(GeneratedBody, Deterministic) {
  const BodyModelData a = generate_body_model(BodySize::Small);
  const BodyModelData& b = small_model();
  for (auto [x, y] : {std::pair{a.v_template, b.v_template}, {a.shapedirs, b.shapedirs}, {a.posedirs, b.posedirs},
                      {a.weights, b.weights}, {a.J_regressor, b.J_regressor}, {a.mean_pose, b.mean_pose}})
    EXPECT_EQ(std::memcmp(x.raw_data(), y.raw_data(), static_cast<size_t>(x.numel() * x.itemsize())), 0);
  EXPECT_EQ(std::memcmp(a.faces.raw_data(), b.faces.raw_data(), static_cast<size_t>(a.faces.numel() * 8)), 0);
}

TEST(GeneratedBody, ShapeBlendShapesDoWhatTheySay) {
  const BodyModelData& d = small_model();
  auto height = [](const Tensor& v) {
    double lo = 1e9, hi = -1e9;
    for (int64_t i = 0; i < v.size(0); ++i) lo = std::min(lo, v.data<double>()[3 * i + 1]), hi = std::max(hi, v.data<double>()[3 * i + 1]);
    return hi - lo;
  };
  auto torso_width = [](const Tensor& v) {  // x extent of the band around the navel
    double w = 0;
    for (int64_t i = 0; i < v.size(0); ++i) {
      const double* p = v.data<double>() + 3 * i;
      if (std::fabs(p[1] + 0.05) < 0.04 && std::fabs(p[0]) < 0.3) w = std::max(w, std::fabs(p[0]));
    }
    return w;
  };
  const double h0 = height(d.v_template), w0 = torso_width(d.v_template);
  const auto j0 = regress(d, d.v_template);
  // 0 stature: ~3.5% taller per unit.
  EXPECT_NEAR(height(shaped(d, 0, 1)) / h0, 1.035, 0.005);
  // 1 girth: the waist widens by centimetres, the height barely changes.
  EXPECT_GT(torso_width(shaped(d, 1, 2)) - w0, 0.02);
  EXPECT_NEAR(height(shaped(d, 1, 2)), h0, 0.02);
  // 2 leg length: the ankles drop relative to the pelvis; the shoulders stay.
  auto j2 = regress(d, shaped(d, 2, 1));
  EXPECT_LT((j2[7][1] - j2[0][1]) - (j0[7][1] - j0[0][1]), -0.03);
  EXPECT_NEAR(j2[16][1], j0[16][1], 1e-3);
  // 3 arm length: the wrists move outward, the elbows less.
  auto j3 = regress(d, shaped(d, 3, 1));
  EXPECT_GT(j3[20][0] - j0[20][0], 0.02);
  EXPECT_LT(j3[21][0] - j0[21][0], -0.02);
  EXPECT_LT(j3[18][0] - j0[18][0], j3[20][0] - j0[20][0]);
  // 4 shoulder width and 5 hip width.
  auto j4 = regress(d, shaped(d, 4, 1));
  EXPECT_GT((j4[16][0] - j4[17][0]) - (j0[16][0] - j0[17][0]), 0.03);
  auto j5 = regress(d, shaped(d, 5, 1));
  EXPECT_GT((j5[1][0] - j5[2][0]) - (j0[1][0] - j0[2][0]), 0.02);
  // 8 torso length: the neck rises relative to the pelvis.
  auto j8 = regress(d, shaped(d, 8, 1));
  EXPECT_GT((j8[12][1] - j8[0][1]) - (j0[12][1] - j0[0][1]), 0.02);
  // Every direction moves the surface by centimetres, none by more than 10 cm per unit.
  for (int k = 0; k < 10; ++k) {
    const Tensor s = shaped(d, k, 1);
    double mx = 0;
    for (int64_t i = 0; i < s.numel(); ++i) mx = std::max(mx, std::fabs(s.data<double>()[i] - d.v_template.data<double>()[i]));
    EXPECT_GT(mx, 0.01) << "shape " << k;
    EXPECT_LT(mx, 0.1) << "shape " << k;
  }
}

TEST(GeneratedBody, PoseBlendShapesSwellBentJoints) {
  const BodyModelData& d = small_model();
  const int64_t V = d.num_vertices(), P = 207;
  const double* pd = d.posedirs.data<double>();
  // Bending the left elbow (joint 18) by 90 degrees about y: R - I has diagonal (-1, 0, -1).
  const double diag[3] = {-1, 0, -1};
  double max_disp = 0, other = 0;
  for (int64_t i = 0; i < V; ++i) {
    double disp[3] = {0, 0, 0};
    for (int c = 0; c < 3; ++c)
      for (int k = 0; k < 3; ++k) disp[c] += pd[(i * 3 + c) * P + 9 * 17 + 4 * k] * diag[k];
    const double m = std::sqrt(disp[0] * disp[0] + disp[1] * disp[1] + disp[2] * disp[2]);
    const double* p = d.v_template.data<double>() + 3 * i;
    if (std::fabs(p[0] - 0.44) < 0.1) max_disp = std::max(max_disp, m);
    else other = std::max(other, m);
  }
  EXPECT_GT(max_disp, 0.005);  // about alpha (3 - trace R) = 1.2 cm * 2
  EXPECT_LT(max_disp, 0.03);
  EXPECT_EQ(other, 0.0);  // only around the elbow
}

TEST(GeneratedBody, SizeNames) {
  EXPECT_EQ(parse_body_size("small"), BodySize::Small);
  EXPECT_EQ(parse_body_size("full"), BodySize::Full);
  EXPECT_THROW(parse_body_size("medium"), ValueError);
  EXPECT_STREQ(body_size_name(BodySize::Small), "small");
}

}  // namespace
