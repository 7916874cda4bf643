// hmr/render: the rasterizer, its read-outs, the soft silhouette and shaded rendering on analytic
// scenes whose answers are computed here independently (point-in-triangle by edge signs, ray-plane
// intersections, a direct distance-to-triangle), plus an f64 gradcheck and argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "hmr/render/primitives.h"
#include "hmr/render/raster.h"
#include "hmr/render/shading.h"
#include "hmr/render/soft_silhouette.h"
#include "io/image.h"
#include "support.h"

using namespace hmr;
using namespace hmr::render;
using hmr::testing::error_message;

namespace {

// Off-centre principal point and unequal focal lengths, so a swapped axis would show.
const Camera kCamera{60.0, 55.0, 19.3, 14.7, 30, 40};

Tensor f64(const std::vector<double>& v, const Shape& s) { return tensor(v, s, DType::F64); }
Tensor i64(const std::vector<double>& v, const Shape& s) { return tensor(v, s, DType::I64); }

struct Point {
  double u, v;
};
Point project(const double* p, const Camera& c) { return {c.fx * p[0] / p[2] + c.cx, c.fy * p[1] / p[2] + c.cy}; }

// Point-in-triangle by the signs of the three edge cross products (either winding).
bool inside(Point p, Point a, Point b, Point c) {
  auto cross = [](Point o, Point s, Point t) { return (s.u - o.u) * (t.v - o.v) - (s.v - o.v) * (t.u - o.u); };
  const double d0 = cross(a, b, p), d1 = cross(b, c, p), d2 = cross(c, a, p);
  return (d0 >= 0 && d1 >= 0 && d2 >= 0) || (d0 <= 0 && d1 <= 0 && d2 <= 0);
}

// Camera-space point where the ray through pixel (x, y)'s centre meets the plane of a, b, c.
std::vector<double> ray_hit(int64_t x, int64_t y, const double* a, const double* b, const double* c,
                            const Camera& cam) {
  const double r[3] = {(x + 0.5 - cam.cx) / cam.fx, (y + 0.5 - cam.cy) / cam.fy, 1.0};
  const double e1[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]}, e2[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
  const double n[3] = {e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]};
  const double t = (n[0] * a[0] + n[1] * a[1] + n[2] * a[2]) / (n[0] * r[0] + n[1] * r[1] + n[2] * r[2]);
  return {t * r[0], t * r[1], t * r[2]};
}

const std::vector<double> kTriangle = {-0.61, -0.43, 2.0, 0.52, -0.27, 2.6, -0.08, 0.58, 1.7};

}  // namespace

// ---- rasterize ------------------------------------------------------------------------------------

TEST(Rasterize, TriangleCoversExactlyThePixelCentresInsideIt) {
  Raster r = rasterize(f64(kTriangle, {1, 3, 3}), i64({0, 1, 2}, {1, 3}), kCamera);
  const Point a = project(&kTriangle[0], kCamera), b = project(&kTriangle[3], kCamera),
              c = project(&kTriangle[6], kCamera);
  const auto face = r.face.to_vector<int64_t>(), inst = r.instance.to_vector<int64_t>();
  const auto mask = r.mask.to_vector<bool>();
  int64_t covered = 0;
  for (int64_t y = 0; y < kCamera.height; ++y)
    for (int64_t x = 0; x < kCamera.width; ++x) {
      const int64_t p = y * kCamera.width + x;
      const bool in = inside({x + 0.5, y + 0.5}, a, b, c);
      covered += in;
      EXPECT_EQ(mask[p], in) << "pixel " << x << ", " << y;
      EXPECT_EQ(face[p], in ? 0 : -1);
      EXPECT_EQ(inst[p], in ? 0 : -1);
    }
  EXPECT_GT(covered, 100);  // the scene is not trivially empty
  EXPECT_EQ(r.face.sizes(), Shape({1, 30, 40}));
  EXPECT_EQ(r.bary.sizes(), Shape({1, 30, 40, 3}));
}

TEST(Rasterize, DepthOfATiltedPlaneIsTheRayIntersection) {
  // A quad (two triangles) on a plane tilted in x and y, larger than the view.
  const std::vector<double> v = {-3, -3, 2.0, 3, -3, 3.2, 3, 3, 4.4, -3, 3, 3.2};
  Raster r = rasterize(f64(v, {1, 4, 3}), i64({0, 1, 2, 0, 2, 3}, {2, 3}), kCamera);
  const auto depth = r.depth.to_vector<double>();
  const auto mask = r.mask.to_vector<bool>();
  for (int64_t y = 0; y < kCamera.height; ++y)
    for (int64_t x = 0; x < kCamera.width; ++x) {
      ASSERT_TRUE(mask[y * kCamera.width + x]);
      EXPECT_NEAR(depth[y * kCamera.width + x], ray_hit(x, y, &v[0], &v[3], &v[6], kCamera)[2], 1e-12);
    }
}

TEST(Rasterize, CubeFaceOnShowsTheProjectedSquareOfItsFrontFaces) {
  TriangleMesh box = cube(1.0);
  Tensor v = unsqueeze(box.vertices + f64({0.1, -0.2, 5.0}, {3}), 0);  // centre (0.1, -0.2, 5)
  Raster r = rasterize(v, box.faces, kCamera);
  // The front side is the square z = 4, x in [-0.9, 1.1], y in [-1.2, 0.8]; it hides the rest.
  const double u0 = kCamera.fx * -0.9 / 4 + kCamera.cx, u1 = kCamera.fx * 1.1 / 4 + kCamera.cx;
  const double v0 = kCamera.fy * -1.2 / 4 + kCamera.cy, v1 = kCamera.fy * 0.8 / 4 + kCamera.cy;
  const auto face = r.face.to_vector<int64_t>();
  const auto depth = r.depth.to_vector<double>();
  int64_t covered = 0;
  for (int64_t y = 0; y < kCamera.height; ++y)
    for (int64_t x = 0; x < kCamera.width; ++x) {
      const int64_t p = y * kCamera.width + x;
      const bool in = x + 0.5 >= u0 && x + 0.5 <= u1 && y + 0.5 >= v0 && y + 0.5 <= v1;
      covered += in;
      EXPECT_EQ(face[p] >= 0, in) << x << ", " << y;
      if (in) {
        EXPECT_TRUE(face[p] == 0 || face[p] == 1) << "face " << face[p] << " at " << x << ", " << y;
        EXPECT_NEAR(depth[p], 4.0, 1e-12);
      }
    }
  EXPECT_EQ(covered, 30 * 26);  // u in [5.8, 35.8], v in [-1.8, 25.7]: columns 6..35, rows 0..25
}

TEST(Rasterize, NearerMeshWinsAndInstancesSayWhichMesh) {
  // Mesh 0 and 1 in image 0 (mesh 1 nearer, smaller); mesh 2 alone in image 1; image 2 empty.
  std::vector<double> v;
  for (double s : {1.0, 0.5, 1.0})
    for (size_t i = 0; i < kTriangle.size(); ++i) v.push_back(i % 3 == 2 ? kTriangle[i] * s : kTriangle[i] * s * s);
  Tensor verts = f64(v, {3, 3, 3});
  Raster r = rasterize(verts, i64({0, 1, 2}, {1, 3}), kCamera, i64({0, 0, 1}, {3}), 3);
  ASSERT_EQ(r.instance.sizes(), Shape({3, 30, 40}));
  // Mesh 1 is mesh 0 shrunk about the origin by 0.5 in depth and 0.25 sideways: it projects to
  // half the size and lies in front wherever it covers.
  const Point a = project(&v[9], kCamera), b = project(&v[12], kCamera), c = project(&v[15], kCamera);
  const auto inst = r.instance.to_vector<int64_t>();
  const auto face = r.face.to_vector<int64_t>();
  Raster alone = rasterize(f64(kTriangle, {1, 3, 3}), i64({0, 1, 2}, {1, 3}), kCamera);
  const auto mask0 = alone.mask.to_vector<bool>();
  const int64_t HW = kCamera.height * kCamera.width;
  int64_t front = 0;
  for (int64_t y = 0; y < kCamera.height; ++y)
    for (int64_t x = 0; x < kCamera.width; ++x) {
      const int64_t p = y * kCamera.width + x;
      const bool near = inside({x + 0.5, y + 0.5}, a, b, c);
      front += near;
      EXPECT_EQ(inst[p], near ? 1 : (mask0[p] ? 0 : -1)) << x << ", " << y;
      EXPECT_EQ(inst[HW + p], mask0[p] ? 2 : -1);
      EXPECT_EQ(inst[2 * HW + p], -1);
      EXPECT_EQ(face[2 * HW + p], -1);
    }
  EXPECT_GT(front, 10);
}

TEST(Rasterize, EqualDepthGoesToTheLowerMeshThenTheLowerFace) {
  // The same triangle twice in one mesh and once more as a second mesh: every covered pixel
  // ties three ways, and mesh 0's face 0 must win all of them.
  std::vector<double> v = kTriangle;
  v.insert(v.end(), kTriangle.begin(), kTriangle.end());
  Raster r = rasterize(f64(v, {2, 3, 3}), i64({0, 1, 2, 0, 1, 2}, {2, 3}), kCamera, i64({0, 0}, {2}), 1);
  for (int64_t i : r.instance.to_vector<int64_t>()) EXPECT_LE(i, 0);
  for (int64_t f : r.face.to_vector<int64_t>()) EXPECT_LE(f, 0);
}

TEST(Rasterize, FacesAtOrBehindTheNearPlaneAreDropped) {
  std::vector<double> v = kTriangle;
  v[2] = -1.0;
  Raster r = rasterize(f64(v, {1, 3, 3}), i64({0, 1, 2}, {1, 3}), kCamera);
  EXPECT_EQ(sum(r.mask.to(DType::I64)).item<int64_t>(), 0);
}

TEST(Rasterize, InterpolatedLinearAttributeEqualsItsValueAtTheSurfacePoint) {
  // a(X, Y, Z) = (2X - 3Y + 0.5Z + 1, Z): linear in camera space, so perspective-correct
  // interpolation must reproduce it at the 3D point each pixel sees (screen-linear would not).
  const double* t = kTriangle.data();
  std::vector<double> attr;
  for (int i = 0; i < 3; ++i) {  // push_back, not insert({...}): GCC 12 warns falsely on the latter
    attr.push_back(2 * t[3 * i] - 3 * t[3 * i + 1] + 0.5 * t[3 * i + 2] + 1);
    attr.push_back(t[3 * i + 2]);
  }
  Raster r = rasterize(f64(kTriangle, {1, 3, 3}), i64({0, 1, 2}, {1, 3}), kCamera);
  Tensor out = interpolate(r, i64({0, 1, 2}, {1, 3}), f64(attr, {3, 2}));
  ASSERT_EQ(out.sizes(), Shape({1, 30, 40, 2}));
  const auto o = out.to_vector<double>();
  const auto mask = r.mask.to_vector<bool>();
  const auto depth = r.depth.to_vector<double>();
  for (int64_t y = 0; y < kCamera.height; ++y)
    for (int64_t x = 0; x < kCamera.width; ++x) {
      const int64_t p = y * kCamera.width + x;
      if (!mask[p]) {
        EXPECT_EQ(o[2 * p], 0.0);
        continue;
      }
      const auto P = ray_hit(x, y, t, t + 3, t + 6, kCamera);
      EXPECT_NEAR(o[2 * p], 2 * P[0] - 3 * P[1] + 0.5 * P[2] + 1, 1e-12);
      EXPECT_NEAR(o[2 * p + 1], P[2], 1e-12);
      EXPECT_NEAR(depth[p], P[2], 1e-12);
    }
}

TEST(Rasterize, PartSegmentationAndIuvFollowTheLabelRules) {
  const std::vector<double> v = {-1, -1, 2, 1, -1, 2, 0, 1.2, 2, 2, 1.2, 2};
  Tensor faces = i64({0, 1, 2, 1, 3, 2}, {2, 3});
  Raster r = rasterize(f64(v, {1, 4, 3}), faces, kCamera);
  // Face 0 has labels (4, 4, 7): majority 4 everywhere on it; face 1 (4, 9, 7) has none, so it
  // takes the nearest corner's label, like the Nearest rule.
  Tensor labels = i64({4, 4, 7, 9}, {4});
  const auto major = part_segmentation(r, faces, labels).to_vector<int64_t>();
  const auto nearest = part_segmentation(r, faces, labels, LabelRule::Nearest, 0).to_vector<int64_t>();
  Tensor iuv_in = f64({4, 0.1, 0.2, 4, 0.3, 0.4, 7, 0.5, 0.6, 9, 0.7, 0.8}, {4, 3});
  const auto iuv = render_iuv(r, faces, iuv_in).to_vector<double>();
  const auto uv = interpolate(r, faces, narrow(iuv_in, 1, 1, 2)).to_vector<double>();
  const auto face = r.face.to_vector<int64_t>();
  const auto bary = r.bary.to_vector<double>();
  const int64_t corner_labels[2][3] = {{4, 4, 7}, {4, 9, 7}};
  int64_t seen[2] = {0, 0};
  for (int64_t p = 0; p < kCamera.height * kCamera.width; ++p) {
    if (face[p] < 0) {
      EXPECT_EQ(major[p], -1);
      EXPECT_EQ(nearest[p], 0);
      EXPECT_EQ(iuv[3 * p], 0.0);
      continue;
    }
    ++seen[face[p]];
    const double* b = &bary[3 * p];
    const int k = b[0] >= b[1] && b[0] >= b[2] ? 0 : (b[1] >= b[2] ? 1 : 2);
    const int64_t near_label = corner_labels[face[p]][k];
    EXPECT_EQ(nearest[p], near_label);
    EXPECT_EQ(major[p], face[p] == 0 ? 4 : near_label);
    EXPECT_EQ(iuv[3 * p], double(near_label));
    EXPECT_NEAR(iuv[3 * p + 1], uv[2 * p], 1e-15);
    EXPECT_NEAR(iuv[3 * p + 2], uv[2 * p + 1], 1e-15);
  }
  EXPECT_GT(seen[0], 20);
  EXPECT_GT(seen[1], 20);
}

TEST(Rasterize, BadArgumentsNameTheOpAndWhatWasFound) {
  Tensor v = f64(kTriangle, {1, 3, 3}), f = i64({0, 1, 2}, {1, 3});
  std::string m = error_message([&] { rasterize(f64(kTriangle, {3, 3}), f, kCamera); });
  EXPECT_NE(m.find("rasterize"), std::string::npos) << m;
  EXPECT_NE(m.find("[3, 3]"), std::string::npos) << m;
  EXPECT_THROW(rasterize(f64(kTriangle, {3, 3}), f, kCamera), ShapeError);
  EXPECT_THROW(rasterize(v.to(DType::I64), f, kCamera), DTypeError);
  EXPECT_THROW(rasterize(v, f.to(DType::F32), kCamera), DTypeError);
  m = error_message([&] { rasterize(v, i64({0, 1, 3}, {1, 3}), kCamera); });
  EXPECT_NE(m.find("face index 3 out of range for 3 vertices"), std::string::npos) << m;
  EXPECT_THROW(rasterize(v, i64({0, 1, 3}, {1, 3}), kCamera), IndexError);
  EXPECT_THROW(rasterize(v, i64({0, 1, 2}, {3}), kCamera), ShapeError);
  Camera bad = kCamera;
  bad.width = 0;
  EXPECT_THROW(rasterize(v, f, bad), ValueError);
  EXPECT_THROW(rasterize(v, f, kCamera, i64({1}, {1}), 1), IndexError);
  EXPECT_THROW(rasterize(v, f, kCamera, i64({0, 0}, {2}), 1), ShapeError);
  Raster r = rasterize(v, f, kCamera);
  m = error_message([&] { interpolate(r, f, f64({1, 2, 3, 4}, {4, 1})); });
  EXPECT_NE(m.find("interpolate"), std::string::npos) << m;
  EXPECT_NE(m.find("[4, 1]"), std::string::npos) << m;
  EXPECT_THROW(part_segmentation(r, f, f64({1, 2, 3}, {3})), DTypeError);
}

// ---- soft silhouette ------------------------------------------------------------------------------

namespace {

// Distance from p to segment ab.
double segment_distance(Point p, Point a, Point b) {
  const double ex = b.u - a.u, ey = b.v - a.v;
  double t = ((p.u - a.u) * ex + (p.v - a.v) * ey) / (ex * ex + ey * ey);
  t = std::fmin(1.0, std::fmax(0.0, t));
  return std::hypot(p.u - a.u - t * ex, p.v - a.v - t * ey);
}

}  // namespace

TEST(SoftSilhouette, OneTriangleIsTheSigmoidOfItsSignedDistance) {
  const double sigma = 1.7;
  Tensor prob = soft_silhouette(f64(kTriangle, {1, 3, 3}), i64({0, 1, 2}, {1, 3}), kCamera, sigma);
  const Point a = project(&kTriangle[0], kCamera), b = project(&kTriangle[3], kCamera),
              c = project(&kTriangle[6], kCamera);
  const auto o = prob.to_vector<double>();
  for (int64_t y = 0; y < kCamera.height; ++y)
    for (int64_t x = 0; x < kCamera.width; ++x) {
      const Point p{x + 0.5, y + 0.5};
      double d = std::fmin(segment_distance(p, a, b), std::fmin(segment_distance(p, b, c), segment_distance(p, c, a)));
      if (inside(p, a, b, c)) d = -d;
      const double expected = d > sigma * std::log(1e4) ? 0.0 : 1.0 / (1.0 + std::exp(d / sigma));
      EXPECT_NEAR(o[y * kCamera.width + x], expected, 1e-14) << x << ", " << y;
    }
}

TEST(SoftSilhouette, TwoTrianglesCombineAsIndependentCoverage) {
  // 1 - (1 - D0)(1 - D1): compare against each triangle alone.
  std::vector<double> v = kTriangle;
  for (double c : {0.3, -0.5, 2.1, 0.9, 0.2, 2.4, 0.1, 0.6, 1.9}) v.push_back(c);
  Tensor both = soft_silhouette(f64(v, {1, 6, 3}), i64({0, 1, 2, 3, 4, 5}, {2, 3}), kCamera, 2.0);
  Tensor d0 = soft_silhouette(f64(v, {1, 6, 3}), i64({0, 1, 2}, {1, 3}), kCamera, 2.0);
  Tensor d1 = soft_silhouette(f64(v, {1, 6, 3}), i64({3, 4, 5}, {1, 3}), kCamera, 2.0);
  const auto o = both.to_vector<double>(), a = d0.to_vector<double>(), b = d1.to_vector<double>();
  for (size_t p = 0; p < o.size(); ++p) EXPECT_NEAR(o[p], 1 - (1 - a[p]) * (1 - b[p]), 1e-14);
}

TEST(SoftSilhouette, TendsToTheHardSilhouetteAsSigmaShrinks) {
  TriangleMesh ball = uv_sphere(6, 9, 0.8);
  Tensor v = unsqueeze(ball.vertices + f64({0.1, 0.05, 3.0}, {3}), 0);
  Raster hard = rasterize(v, ball.faces, kCamera);
  const auto mask = hard.mask.to_vector<bool>();
  double previous = 1e9;
  for (double sigma : {1.0, 0.1, 0.01, 0.001}) {
    const auto soft = soft_silhouette(v, ball.faces, kCamera, sigma).to_vector<double>();
    double err = 0;
    for (size_t p = 0; p < soft.size(); ++p) err += std::abs(soft[p] - (mask[p] ? 1.0 : 0.0));
    EXPECT_LT(err, previous) << "sigma " << sigma;
    previous = err;
  }
  EXPECT_LT(previous, 1e-3);
}

TEST(SoftSilhouette, GradcheckF64) {
  // Two triangles over a 7 x 6 image, a batch of two meshes (different positions).
  const Camera cam{9.0, 8.0, 3.4, 2.6, 6, 7};
  Tensor v = f64({-0.3, -0.25, 1.0, 0.35, -0.2, 1.3, 0.0, 0.3, 0.9, 0.1, 0.1, 1.2, 0.45, 0.2, 1.0, 0.2, -0.3, 1.1,
                  -0.2, -0.1, 1.0, 0.3, -0.2, 1.1, 0.05, 0.35, 1.2, 0.2, 0.0, 1.0, 0.4, 0.3, 1.3, -0.1, 0.2, 0.95},
                 {2, 6, 3})
                 .requires_grad_();
  Tensor faces = i64({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor w = arange(84, DType::F64).reshape({2, 6, 7}) * 0.01 + 0.2;
  auto fn = [&](const std::vector<Tensor>& in) { return sum(soft_silhouette(in[0], faces, cam, 0.7) * w); };
  GradcheckResult r = gradcheck(fn, {v});
  EXPECT_TRUE(r.ok) << r.message;
  // And the gradient is not trivially zero.
  Tensor loss = fn({v});
  loss.backward();
  EXPECT_GT(sum(abs(v.grad())).item(), 1e-3);
}

TEST(SoftSilhouette, F32AgreesWithF64) {
  TriangleMesh ball = uv_sphere(5, 7, 0.7);
  Tensor v = unsqueeze(ball.vertices + f64({0.2, 0.0, 2.5}, {3}), 0);
  Tensor a = soft_silhouette(v, ball.faces, kCamera, 0.8);
  Tensor b = soft_silhouette(v.to(DType::F32), ball.faces, kCamera, 0.8);
  EXPECT_EQ(b.dtype(), DType::F32);
  EXPECT_LT(amax(abs(a - b.to(DType::F64))).item(), 1e-5);
}

TEST(SoftSilhouette, BadArgumentsNameTheOp) {
  Tensor v = f64(kTriangle, {1, 3, 3}), f = i64({0, 1, 2}, {1, 3});
  std::string m = error_message([&] { soft_silhouette(v, f, kCamera, 0.0); });
  EXPECT_NE(m.find("soft_silhouette"), std::string::npos) << m;
  EXPECT_THROW(soft_silhouette(v, f, kCamera, -1.0), ValueError);
  EXPECT_THROW(soft_silhouette(f64(kTriangle, {9}), f, kCamera, 1.0), ShapeError);
  EXPECT_THROW(soft_silhouette(v, i64({0, 1, 5}, {1, 3}), kCamera, 1.0), IndexError);
}

// ---- shaded rendering -----------------------------------------------------------------------------

TEST(Shading, LitPlaneFacingTheLightGetsAmbientPlusDiffuseAndTheRestKeepsTheBackground) {
  const std::vector<double> v = {-0.2, -0.2, 2.0, 0.2, -0.2, 2.0, 0.0, 0.25, 2.0};
  Tensor faces = i64({0, 1, 2}, {1, 3});
  ShadingOptions opts;
  opts.light[0] = 0;
  opts.light[1] = 0;
  opts.light[2] = -1;  // towards the camera: n . l = 1 on a plane facing it
  opts.ambient = 0.3;
  opts.diffuse = 0.5;
  Tensor bg = full({30, 40, 3}, 17, DType::U8);
  Tensor img = render_shaded(f64(v, {3, 3}), faces, kCamera, Tensor(), bg, opts);
  ASSERT_EQ(img.sizes(), Shape({30, 40, 3}));
  Raster r = rasterize(f64(v, {1, 3, 3}), faces, kCamera);
  const auto px = img.to_vector<int64_t>();
  const auto mask = r.mask.to_vector<bool>();
  for (size_t p = 0; p < mask.size(); ++p)
    for (int k = 0; k < 3; ++k)
      EXPECT_EQ(px[3 * p + k], mask[p] ? std::lround(opts.color[k] * 0.8 * 255) : 17) << p;
}

TEST(Shading, SideViewTurnsAboutTheVerticalAxisAndRefits) {
  TriangleMesh box = cube(0.5);
  // A box long in x: seen from the side it shows its short z extent across.
  Tensor v = box.vertices * f64({3, 1, 1}, {3}) + f64({0.5, 0.2, 8.0}, {3});
  Tensor s = side_view(v, kCamera);
  // x' = z - zc, y' = y - yc, z' = -(x - xc) + depth.
  const auto a = v.to_vector<double>(), b = s.to_vector<double>();
  const double depth = b[2] + (a[0] - 0.5);
  for (int i = 0; i < 8; ++i) {
    EXPECT_NEAR(b[3 * i + 2] - depth, -(a[3 * i] - 0.5), 1e-12);
    EXPECT_NEAR(b[3 * i + 1] - b[1], a[3 * i + 1] - a[1], 1e-12);
    EXPECT_NEAR(b[3 * i] - b[0], a[3 * i + 2] - a[2], 1e-12);
  }
  Raster r = rasterize(unsqueeze(s, 0), box.faces, kCamera);
  const auto mask = r.mask.to_vector<bool>();
  for (int64_t x = 0; x < kCamera.width; ++x) EXPECT_FALSE(mask[x]);  // fits: the top row is free
  EXPECT_GT(sum(r.mask.to(DType::I64)).item<int64_t>(), 50);
}

TEST(Shading, WritesFrontAndSideSideBySide) {
  TriangleMesh ball = uv_sphere(8, 12, 0.5);
  Tensor v = ball.vertices + f64({0.0, 0.0, 3.0}, {3});
  const std::string path = (std::filesystem::temp_directory_path() / "hmr_render_test.png").string();
  Tensor colors = label_colors(remainder(arange(ball.vertices.size(0)), 24));
  write_front_and_side_png(path, v, ball.faces, kCamera, Tensor(), colors);
  Tensor img = io::read_image(path);
  std::filesystem::remove(path);
  EXPECT_EQ(img.sizes(), Shape({30, 80, 3}));
  // The corners are background (white) in both halves; the centres are not.
  const auto px = img.to_vector<int64_t>();
  EXPECT_EQ(px[0], 255);
  EXPECT_EQ(px[3 * 79], 255);
  EXPECT_NE(px[3 * (15 * 80 + 19)], 255);
  EXPECT_NE(px[3 * (15 * 80 + 60)], 255);
}
