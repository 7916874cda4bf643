// Synthetic samples (synth.h): scene sampling, rendering and annotation.
#include "hmr/data/synth.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "autograd/ops.h"
#include "hmr/render/raster.h"
#include "hmr/render/shading.h"

namespace hmr::data {
namespace {

uint64_t mix(uint64_t x) {  // splitmix64: decorrelates (seed, index) pairs
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Uniform and normal draws from the raw engine (portable across standard libraries).
struct Rng {
  std::mt19937_64 engine;
  explicit Rng(uint64_t seed) : engine(seed) {}
  double uniform(double lo = 0, double hi = 1) {
    return lo + (hi - lo) * static_cast<double>(engine() >> 11) * 0x1.0p-53;
  }
  double normal(double sigma) {
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return sigma * std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
  }
  bool chance(double p) { return uniform() < p; }
};

using Rgb = std::array<double, 3>;
Rgb random_color(Rng& r, double lo = 0.05, double hi = 0.95) { return {r.uniform(lo, hi), r.uniform(lo, hi), r.uniform(lo, hi)}; }

// A procedural background: a vertical gradient, low-frequency value noise, and a few boxes and
// discs of random colours (walls, furniture, things), res x res x 3 in [0, 1].
std::vector<double> background(Rng& r, int64_t res) {
  const Rgb top = random_color(r), bottom = random_color(r);
  const int g = 6;  // noise lattice
  std::vector<double> lattice(static_cast<size_t>((g + 1) * (g + 1)));
  for (double& x : lattice) x = r.uniform(-0.12, 0.12);
  std::vector<double> img(static_cast<size_t>(res * res * 3));
  for (int64_t y = 0; y < res; ++y)
    for (int64_t x = 0; x < res; ++x) {
      const double t = static_cast<double>(y) / static_cast<double>(res - 1);
      const double gx = static_cast<double>(x) / static_cast<double>(res) * g, gy = static_cast<double>(y) / static_cast<double>(res) * g;
      const int ix = static_cast<int>(gx), iy = static_cast<int>(gy);
      const double fx = gx - ix, fy = gy - iy;
      auto at = [&](int a, int b) { return lattice[static_cast<size_t>(b * (g + 1) + a)]; };
      const double n = (1 - fy) * ((1 - fx) * at(ix, iy) + fx * at(ix + 1, iy)) + fy * ((1 - fx) * at(ix, iy + 1) + fx * at(ix + 1, iy + 1));
      for (int c = 0; c < 3; ++c) img[static_cast<size_t>((y * res + x) * 3 + c)] = (1 - t) * top[static_cast<size_t>(c)] + t * bottom[static_cast<size_t>(c)] + n;
    }
  const int shapes = static_cast<int>(r.uniform(2, 7));
  for (int s = 0; s < shapes; ++s) {
    const Rgb col = random_color(r);
    const double cx = r.uniform(0, static_cast<double>(res)), cy = r.uniform(0, static_cast<double>(res));
    const double w = r.uniform(0.05, 0.5) * static_cast<double>(res), h = r.uniform(0.05, 0.5) * static_cast<double>(res);
    const bool disc = r.chance(0.4);
    for (int64_t y = 0; y < res; ++y)
      for (int64_t x = 0; x < res; ++x) {
        const double dx = (static_cast<double>(x) + 0.5 - cx) / w, dy = (static_cast<double>(y) + 0.5 - cy) / h;
        const bool inside = disc ? dx * dx + dy * dy < 0.25 : std::fabs(dx) < 0.5 && std::fabs(dy) < 0.5;
        if (inside)
          for (int c = 0; c < 3; ++c) img[static_cast<size_t>((y * res + x) * 3 + c)] = col[static_cast<size_t>(c)];
      }
  }
  return img;
}

Tensor to_u8(const std::vector<double>& img, const Shape& shape) {
  std::vector<uint8_t> out(img.size());
  for (size_t i = 0; i < img.size(); ++i) out[i] = static_cast<uint8_t>(std::lround(std::clamp(img[i], 0.0, 1.0) * 255));
  return Tensor::from_vector(out, shape);
}

// Clothing: a shirt over trunk and (sometimes long) sleeves, trousers over pelvis and legs,
// shoes, skin elsewhere. SMPL part -> colour.
std::array<Rgb, 24> clothing(Rng& r) {
  const double tone = r.uniform(0.25, 0.95);
  const Rgb skin = {tone, tone * r.uniform(0.7, 0.85), tone * r.uniform(0.55, 0.7)};
  const Rgb shirt = random_color(r), trousers = random_color(r, 0.05, 0.7), shoes = random_color(r, 0.02, 0.4);
  const bool long_sleeves = r.chance(0.5), shorts = r.chance(0.25);
  std::array<Rgb, 24> c;
  c.fill(skin);
  for (int j : {3, 6, 9, 13, 14, 16, 17}) c[static_cast<size_t>(j)] = shirt;
  if (long_sleeves) c[18] = c[19] = shirt;
  for (int j : {0, 1, 2}) c[static_cast<size_t>(j)] = trousers;
  if (!shorts) c[4] = c[5] = trousers;
  for (int j : {7, 8, 10, 11}) c[static_cast<size_t>(j)] = shoes;
  return c;
}

// A person's parameters and posed body (before the camera translation). The root: SMPL's frame
// (y up, facing +z) turned by pi about x faces the camera upright in camera coordinates (y
// down); then a yaw about the vertical, a little pitch and roll. As X-Y-Z Euler angles:
// Ry(yaw) Rx(pi) = Rx(pi) Ry(-yaw).
struct PosedPerson {
  Tensor vertices;              // (V, 3) F64
  std::vector<double> joints;   // SPIN's 49 x 3
  std::array<double, 3> pelvis{};
};
PosedPerson pose_person(const body::BodyModel& model, SynthSample& s, PoseSampler& poses, Rng& r) {
  s.family = poses.sample_family();
  s.pose = poses.sample_pose(s.family);
  s.betas = poses.sample_betas(10);
  const double yaw = r.uniform(-M_PI, M_PI);
  const auto root = euler_xyz_to_axis_angle({M_PI + r.normal(0.1), -yaw, r.normal(0.08)});
  for (int a = 0; a < 3; ++a) s.pose[static_cast<size_t>(a)] = root[static_cast<size_t>(a)];
  const body::BodyOutput out = model.forward(Tensor::from_vector(s.betas, {1, 10}), Tensor::from_vector(s.pose, {1, 72}));
  PosedPerson p;
  p.joints = model.spin_joints49(out).contiguous().to_vector<double>();
  const std::vector<double> rj = out.joints.contiguous().to_vector<double>();
  p.pelvis = {rj[0], rj[1], rj[2]};
  p.vertices = out.vertices.select(0, 0);
  return p;
}

// Camera-frame translation that puts the pelvis at depth z and pixel (u, v).
std::array<double, 3> place(const PosedPerson& p, const render::Camera& cam, double z, double u, double v) {
  return {(u - cam.cx) * z / cam.fx - p.pelvis[0], (v - cam.cy) * z / cam.fy - p.pelvis[1], z - p.pelvis[2]};
}

// 3D joints in the camera frame, 2D by the camera's projection (visibility 1 inside the image),
// and detector-like keypoints: the 25 OpenPose joints with pixel noise, random misses and
// confidences.
void annotate_joints(SynthSample& s, const std::vector<double>& joints, const render::Camera& cam, Rng& r) {
  const double dres = static_cast<double>(cam.width);
  std::vector<double> j3(49 * 3), j2(49 * 3);
  for (int j = 0; j < 49; ++j) {
    for (int c = 0; c < 3; ++c) j3[static_cast<size_t>(3 * j + c)] = joints[static_cast<size_t>(3 * j + c)] + s.transl[static_cast<size_t>(c)];
    const double X = j3[static_cast<size_t>(3 * j)], Y = j3[static_cast<size_t>(3 * j + 1)], Z = j3[static_cast<size_t>(3 * j + 2)];
    const double px = s.focal * X / Z + cam.cx, py = s.focal * Y / Z + cam.cy;
    j2[static_cast<size_t>(3 * j)] = px;
    j2[static_cast<size_t>(3 * j + 1)] = py;
    j2[static_cast<size_t>(3 * j + 2)] = (px >= 0 && px < dres && py >= 0 && py < dres) ? 1.0 : 0.0;
  }
  s.joints3d = Tensor::from_vector(j3, {49, 3});
  s.joints2d = Tensor::from_vector(j2, {49, 3});
  std::vector<double> op(25 * 3, 0.0);
  for (int j = 0; j < 25; ++j) {
    if (j2[static_cast<size_t>(3 * j + 2)] == 0 || r.chance(0.05)) continue;
    op[static_cast<size_t>(3 * j)] = j2[static_cast<size_t>(3 * j)] + r.normal(0.008 * dres);
    op[static_cast<size_t>(3 * j + 1)] = j2[static_cast<size_t>(3 * j + 1)] + r.normal(0.008 * dres);
    op[static_cast<size_t>(3 * j + 2)] = r.uniform(0.5, 1.0);
  }
  s.openpose = Tensor::from_vector(op, {25, 3});
}

std::vector<double> vertex_colors(const std::array<Rgb, 24>& by_part, const std::vector<int64_t>& labels) {
  std::vector<double> colors(labels.size() * 3);
  for (size_t i = 0; i < labels.size(); ++i)
    for (int c = 0; c < 3; ++c) colors[i * 3 + static_cast<size_t>(c)] = by_part[static_cast<size_t>(labels[i])][static_cast<size_t>(c)];
  return colors;
}

render::ShadingOptions random_light(Rng& r) {
  render::ShadingOptions shading;
  shading.light[0] = r.uniform(-0.6, 0.6), shading.light[1] = r.uniform(-0.8, 0.2), shading.light[2] = -1.0;
  shading.ambient = r.uniform(0.3, 0.5);
  shading.diffuse = 1.0 - shading.ambient;
  return shading;
}

// Eigenvectors of a symmetric 3x3 matrix by cyclic Jacobi rotations, as the columns of v, with
// the eigenvalues left on a's diagonal.
void symmetric_eigen3(double a[3][3], double v[3][3]) {
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) v[i][j] = i == j;
  for (int sweep = 0; sweep < 50; ++sweep) {
    const double off = a[0][1] * a[0][1] + a[0][2] * a[0][2] + a[1][2] * a[1][2];
    if (off < 1e-30) break;
    for (int p = 0; p < 2; ++p)
      for (int q = p + 1; q < 3; ++q) {
        if (std::fabs(a[p][q]) < 1e-300) continue;
        const double theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const double t = (theta >= 0 ? 1 : -1) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), sn = t * c;
        for (int k = 0; k < 3; ++k) {  // a <- a J (columns p, q)
          const double akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - sn * akq, a[k][q] = sn * akp + c * akq;
        }
        for (int k = 0; k < 3; ++k) {  // a <- J^T a (rows p, q)
          const double apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - sn * aqk, a[q][k] = sn * apk + c * aqk;
        }
        for (int k = 0; k < 3; ++k) {
          const double vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - sn * vkq, v[k][q] = sn * vkp + c * vkq;
        }
      }
  }
}

// The chart of each part from the rest-pose vertices carrying its label (PartChart).
std::vector<PartChart> make_charts(const std::vector<double>& rest, const std::vector<int64_t>& labels) {
  std::vector<PartChart> charts(24);
  for (int64_t part = 0; part < 24; ++part) {
    PartChart& ch = charts[static_cast<size_t>(part)];
    std::vector<size_t> members;
    for (size_t i = 0; i < labels.size(); ++i)
      if (labels[i] == part) members.push_back(i);
    if (members.empty()) continue;  // a part no vertex has: the identity-like default chart
    for (size_t i : members)
      for (int c = 0; c < 3; ++c) ch.mean[static_cast<size_t>(c)] += rest[3 * i + static_cast<size_t>(c)] / static_cast<double>(members.size());
    double cov[3][3] = {}, vec[3][3];
    for (size_t i : members)
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b)
          cov[a][b] += (rest[3 * i + static_cast<size_t>(a)] - ch.mean[static_cast<size_t>(a)]) * (rest[3 * i + static_cast<size_t>(b)] - ch.mean[static_cast<size_t>(b)]);
    symmetric_eigen3(cov, vec);
    int order[3] = {0, 1, 2};
    std::sort(order, order + 3, [&](int x, int y) { return cov[x][x] > cov[y][y]; });
    // An eigenvector's sign is arbitrary; fix it (largest component positive) so U and V do not
    // flip with rounding.
    auto axis = [&](int k) {
      std::array<double, 3> e = {vec[0][k], vec[1][k], vec[2][k]};
      size_t big = 0;
      for (size_t c = 1; c < 3; ++c)
        if (std::fabs(e[c]) > std::fabs(e[big])) big = c;
      if (e[big] < 0)
        for (double& x : e) x = -x;
      return e;
    };
    ch.axis_u = axis(order[0]);
    ch.axis_v = axis(order[1]);
    ch.u_lo = ch.v_lo = 1e300, ch.u_hi = ch.v_hi = -1e300;
    for (size_t i : members) {
      double du = 0, dv = 0;
      for (size_t c = 0; c < 3; ++c) {
        du += (rest[3 * i + c] - ch.mean[c]) * ch.axis_u[c];
        dv += (rest[3 * i + c] - ch.mean[c]) * ch.axis_v[c];
      }
      ch.u_lo = std::min(ch.u_lo, du), ch.u_hi = std::max(ch.u_hi, du);
      ch.v_lo = std::min(ch.v_lo, dv), ch.v_hi = std::max(ch.v_hi, dv);
    }
    if (ch.u_hi <= ch.u_lo) ch.u_hi = ch.u_lo + 1;
    if (ch.v_hi <= ch.v_lo) ch.v_hi = ch.v_lo + 1;
  }
  return charts;
}

// The (x0, y0, x1, y1) pixel box of the non-zero pixels of a res x res mask; x1 < 0 when empty.
std::array<double, 4> mask_box(const std::vector<uint8_t>& mask, int64_t res) {
  std::array<double, 4> b = {static_cast<double>(res), static_cast<double>(res), -1, -1};
  for (int64_t y = 0; y < res; ++y)
    for (int64_t x = 0; x < res; ++x)
      if (mask[static_cast<size_t>(y * res + x)]) {
        b[0] = std::min(b[0], static_cast<double>(x)), b[2] = std::max(b[2], static_cast<double>(x) + 1);
        b[1] = std::min(b[1], static_cast<double>(y)), b[3] = std::max(b[3], static_cast<double>(y) + 1);
      }
  return b;
}

}  // namespace

const int kCocoFromSpin49[17] = {44, 45, 46, 47, 48, 34, 33, 35, 32, 36, 31, 28, 27, 29, 26, 30, 25};
const char* const kCocoKeypointNames[17] = {
    "nose",       "left_eye",       "right_eye", "left_ear",  "right_ear",  "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip",  "left_knee",      "right_knee", "left_ankle", "right_ankle"};

std::array<double, 2> PartChart::apply(const double* point) const {
  double du = 0, dv = 0;
  for (size_t c = 0; c < 3; ++c) {
    du += (point[c] - mean[c]) * axis_u[c];
    dv += (point[c] - mean[c]) * axis_v[c];
  }
  return {std::clamp((du - u_lo) / (u_hi - u_lo), 0.0, 1.0), std::clamp((dv - v_lo) / (v_hi - v_lo), 0.0, 1.0)};
}

SynthGenerator::SynthGenerator(const body::BodyModelData& model, SynthOptions options)
    : model_(model, DType::F64), faces_(model.faces), part_labels_(model.part_labels), options_(options) {
  HMR_CHECK(options.res >= 32, ValueError, "SynthGenerator: image size must be at least 32, found ", options.res);
  HMR_CHECK(model.part_labels.defined() && model.J_regressor_extra.defined() && model.vertex_joint_ids.defined(),
            ValueError, "SynthGenerator: the body model needs part_labels, J_regressor_extra and vertex_joint_ids "
            "(the generated model has them; pass the extra regressors for a real SMPL file)");
  const Tensor zero_betas = zeros({1, 10}, DType::F64), zero_pose = zeros({1, 72}, DType::F64);
  const std::vector<double> rest = model_.forward(zero_betas, zero_pose).vertices.contiguous().to_vector<double>();
  const std::vector<int64_t> labels = part_labels_.to(DType::I64).contiguous().to_vector<int64_t>();
  charts_ = make_charts(rest, labels);
  // Each face's corners take the chart of the part two or three of them share (the part the
  // part map gives the face, LabelRule::Majority); a face of three parts keeps each corner's own,
  // which is what Majority falls back to (the nearest corner), so I agrees with the part map.
  const std::vector<int64_t> f = faces_.to(DType::I64).contiguous().to_vector<int64_t>();
  const size_t nf = f.size() / 3;
  std::vector<int64_t> split(f.size());
  std::vector<double> iuv(f.size() * 3);
  split_source_ = f;
  for (size_t t = 0; t < nf; ++t) {
    const int64_t l0 = labels[static_cast<size_t>(f[3 * t])], l1 = labels[static_cast<size_t>(f[3 * t + 1])],
                  l2 = labels[static_cast<size_t>(f[3 * t + 2])];
    const int64_t shared = (l0 == l1 || l0 == l2) ? l0 : (l1 == l2 ? l1 : -1);
    for (size_t k = 0; k < 3; ++k) {
      const size_t corner = 3 * t + k;
      const size_t vertex = static_cast<size_t>(f[corner]);
      const int64_t part = shared >= 0 ? shared : labels[vertex];
      const auto uv = charts_[static_cast<size_t>(part)].apply(&rest[3 * vertex]);
      split[corner] = static_cast<int64_t>(corner);
      iuv[3 * corner] = static_cast<double>(part + 1);
      iuv[3 * corner + 1] = uv[0];
      iuv[3 * corner + 2] = uv[1];
    }
  }
  split_faces_ = Tensor::from_vector(split, {static_cast<int64_t>(nf), 3});
  split_iuv_ = Tensor::from_vector(iuv, {static_cast<int64_t>(f.size()), 3});
}

Tensor SynthGenerator::render_iuv_u8(const Tensor& verts, const render::Camera& cam) const {
  const int64_t m = verts.size(0), res = cam.width;
  const Tensor corners = index_select(verts, 1, Tensor::from_vector(split_source_, {static_cast<int64_t>(split_source_.size())}));
  const Tensor images = zeros({m}, DType::I64);
  const render::Raster raster = render::rasterize(corners, split_faces_, cam, images, 1);
  const std::vector<double> iuv = render::render_iuv(raster, split_faces_, split_iuv_).contiguous().to_vector<double>();
  std::vector<uint8_t> out(static_cast<size_t>(res * res * 3));
  for (size_t p = 0; p < out.size(); ++p)
    out[p] = static_cast<uint8_t>(std::lround(p % 3 == 0 ? iuv[p] : std::clamp(iuv[p], 0.0, 1.0) * 255));
  return Tensor::from_vector(out, {res, res, 3});
}

SynthSample SynthGenerator::sample(int64_t index) const {
  const uint64_t key = mix(options_.seed * 0x100000001b3ull ^ mix(static_cast<uint64_t>(index)));
  PoseSampler poses(key);
  Rng r(mix(key + 1));
  const int64_t res = options_.res;
  const double dres = static_cast<double>(res);

  SynthSample s;
  const PosedPerson person = pose_person(model_, s, poses, r);

  // Camera: a long-ish focal length (1.5-4.5 image widths) and the distance that makes a 1.7 m
  // person 45-90% of the frame tall; SMPL's root joint lands near the centre (anywhere in the
  // outer band when truncated).
  render::Camera cam;
  s.focal = r.uniform(1.5, 4.5) * dres;
  cam.fx = cam.fy = s.focal;
  cam.cx = cam.cy = dres / 2;
  cam.height = cam.width = res;
  const double height_px = r.uniform(0.45, 0.9) * dres;
  const double z = s.focal * 1.7 / height_px;
  const double spread = r.chance(options_.truncation) ? 0.45 : 0.12;
  const double u = dres / 2 + r.uniform(-spread, spread) * dres, v = dres / 2 + r.uniform(-spread, spread) * dres;
  s.transl = place(person, cam, z, u, v);
  const Tensor shift = Tensor::from_vector(std::vector<double>(s.transl.begin(), s.transl.end()), {1, 3});
  const Tensor verts = (person.vertices + shift).contiguous();
  annotate_joints(s, person.joints, cam, r);
  const std::vector<double> j2 = s.joints2d.to_vector<double>();

  // Rendering: clothing colours per vertex, a random light, over the background.
  const auto colors_by_part = clothing(r);
  const std::vector<int64_t> labels = part_labels_.to_vector<int64_t>();
  const std::vector<double> colors = vertex_colors(colors_by_part, labels);
  const render::ShadingOptions shading = random_light(r);
  const Tensor bg = to_u8(background(r, res), {res, res, 3});
  Tensor image =
      render::render_shaded(verts, faces_, cam, Tensor::from_vector(colors, {static_cast<int64_t>(labels.size()), 3}), bg, shading)
          .contiguous();

  const render::Raster raster = render::rasterize(verts.unsqueeze(0), faces_, cam);
  const std::vector<int64_t> seg = render::part_segmentation(raster, faces_, part_labels_).contiguous().to_vector<int64_t>();
  std::vector<uint8_t> mask(static_cast<size_t>(res * res)), parts(static_cast<size_t>(res * res));
  double lo[2] = {dres, dres}, hi[2] = {-1, -1};
  for (int64_t y = 0; y < res; ++y)
    for (int64_t x = 0; x < res; ++x) {
      const int64_t l = seg[static_cast<size_t>(y * res + x)];
      if (l < 0) continue;
      mask[static_cast<size_t>(y * res + x)] = 255;
      parts[static_cast<size_t>(y * res + x)] = static_cast<uint8_t>(l + 1);
      lo[0] = std::min(lo[0], static_cast<double>(x)), hi[0] = std::max(hi[0], static_cast<double>(x) + 1);
      lo[1] = std::min(lo[1], static_cast<double>(y)), hi[1] = std::max(hi[1], static_cast<double>(y) + 1);
    }
  s.mask = Tensor::from_vector(mask, {res, res});
  s.parts = Tensor::from_vector(parts, {res, res});
  s.iuv = render_iuv_u8(verts.unsqueeze(0), cam);
  if (hi[0] < 0) {  // nothing visible (pushed out of frame): box around the projected pelvis
    lo[0] = hi[0] = j2[3 * 39], lo[1] = hi[1] = j2[3 * 39 + 1];
  }
  s.center = {(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2};
  s.scale = std::max({hi[0] - lo[0], hi[1] - lo[1], 1.0}) * 1.2 / 200.0;

  // Occluder: a box of flat colour over part of the person.
  if (r.chance(options_.occlusion) && hi[0] > lo[0]) {
    const Rgb col = random_color(r);
    const double w = (hi[0] - lo[0]) * r.uniform(0.2, 0.6), h = (hi[1] - lo[1]) * r.uniform(0.15, 0.4);
    const double x0 = r.uniform(lo[0] - w / 2, hi[0] - w / 2), y0 = r.uniform(lo[1] - h / 2, hi[1] - h / 2);
    uint8_t* px = image.data<uint8_t>();
    for (int64_t y = std::max<int64_t>(0, static_cast<int64_t>(y0)); y < std::min<int64_t>(res, static_cast<int64_t>(y0 + h)); ++y)
      for (int64_t x = std::max<int64_t>(0, static_cast<int64_t>(x0)); x < std::min<int64_t>(res, static_cast<int64_t>(x0 + w)); ++x)
        for (int c = 0; c < 3; ++c) px[(y * res + x) * 3 + c] = static_cast<uint8_t>(std::lround(col[static_cast<size_t>(c)] * 255));
  }
  s.image = image;
  return s;
}

SynthScene SynthGenerator::scene(int64_t index, int people) const {
  HMR_CHECK(people >= 1 && people <= 8, ValueError, "SynthGenerator::scene: people must be in 1..8, found ", people);
  const uint64_t key = mix(options_.seed * 0x100000001b3ull ^ mix(static_cast<uint64_t>(index)) ^
                           mix(0x5ce7e000ull + static_cast<uint64_t>(people)));
  PoseSampler poses(key);
  Rng r(mix(key + 1));
  const int64_t res = options_.res;
  const double dres = static_cast<double>(res);
  const auto k_people = static_cast<size_t>(people);

  // One camera for the scene. The image is cut into `people` vertical slots in a shuffled order;
  // each person stands in one (jittered by up to 0.35 slot widths), pelvis near mid-height,
  // 40-80% of the frame tall, so people seldom stand on top of each other but their arms and
  // sizes (depths) make them overlap now and then.
  render::Camera cam;
  const double focal = r.uniform(1.5, 3.5) * dres;
  cam.fx = cam.fy = focal;
  cam.cx = cam.cy = dres / 2;
  cam.height = cam.width = res;
  std::vector<int> slot(k_people);
  for (size_t k = 0; k < k_people; ++k) slot[k] = static_cast<int>(k);
  for (size_t k = k_people - 1; k > 0; --k) std::swap(slot[k], slot[static_cast<size_t>(r.uniform(0, static_cast<double>(k + 1)))]);

  SynthScene sc;
  sc.people.resize(k_people);
  std::vector<double> all_verts, all_colors;
  const std::vector<int64_t> labels = part_labels_.to_vector<int64_t>();
  std::vector<std::vector<double>> joints(k_people);
  for (size_t k = 0; k < k_people; ++k) {
    SynthSample& s = sc.people[k];
    const PosedPerson person = pose_person(model_, s, poses, r);
    s.focal = focal;
    const double height_px = r.uniform(0.4, 0.8) * dres;
    const double z = focal * 1.7 / height_px;
    const double width = dres / static_cast<double>(people);
    const double u = (slot[k] + 0.5) * width + r.uniform(-0.35, 0.35) * width, v = dres / 2 + r.uniform(-0.08, 0.08) * dres;
    s.transl = place(person, cam, z, u, v);
    const std::vector<double> pv = person.vertices.contiguous().to_vector<double>();
    for (size_t i = 0; i < pv.size(); ++i) all_verts.push_back(pv[i] + s.transl[i % 3]);
    const std::vector<double> colors = vertex_colors(clothing(r), labels);
    all_colors.insert(all_colors.end(), colors.begin(), colors.end());
    joints[k] = person.joints;
  }
  const int64_t nv = static_cast<int64_t>(labels.size()), m = static_cast<int64_t>(people);
  const Tensor verts = Tensor::from_vector(all_verts, {m, nv, 3});
  const render::ShadingOptions shading = random_light(r);
  const Tensor bg = to_u8(background(r, res), {res, res, 3});
  sc.image = render::render_shaded(verts, faces_, cam, Tensor::from_vector(all_colors, {m, nv, 3}), bg, shading).contiguous();

  // Who is seen where: the meshes drawn into one image, nearest surface wins.
  const render::Raster raster = render::rasterize(verts, faces_, cam, zeros({m}, DType::I64), 1);
  const std::vector<int64_t> inst = raster.instance.contiguous().to_vector<int64_t>();
  const std::vector<int64_t> seg = render::part_segmentation(raster, faces_, part_labels_).contiguous().to_vector<int64_t>();
  std::vector<uint8_t> instance(static_cast<size_t>(res * res)), parts(static_cast<size_t>(res * res));
  for (size_t p = 0; p < instance.size(); ++p) {
    if (inst[p] < 0) continue;
    instance[p] = static_cast<uint8_t>(inst[p] + 1);
    parts[p] = static_cast<uint8_t>(seg[p] + 1);
  }
  sc.instance = Tensor::from_vector(instance, {res, res});
  sc.parts = Tensor::from_vector(parts, {res, res});
  sc.iuv = render_iuv_u8(verts, cam);

  for (size_t k = 0; k < k_people; ++k) {
    SynthSample& s = sc.people[k];
    annotate_joints(s, joints[k], cam, r);
    std::vector<uint8_t> mask(instance.size());
    for (size_t p = 0; p < mask.size(); ++p) mask[p] = instance[p] == k + 1 ? 255 : 0;
    s.mask = Tensor::from_vector(mask, {res, res});
    const std::vector<double> j2 = s.joints2d.to_vector<double>();
    std::array<double, 4> b = mask_box(mask, res);
    if (b[2] < 0) b = {j2[3 * 39], j2[3 * 39 + 1], j2[3 * 39], j2[3 * 39 + 1]};  // hidden: the pelvis
    s.center = {(b[0] + b[2]) / 2, (b[1] + b[3]) / 2};
    s.scale = std::max({b[2] - b[0], b[3] - b[1], 1.0}) * 1.2 / 200.0;
    // COCO visibility: the joint's pixel shows another person -> hidden behind them.
    std::vector<double> kp(17 * 3, 0.0);
    for (size_t c = 0; c < 17; ++c) {
      const size_t j = static_cast<size_t>(kCocoFromSpin49[c]);
      if (j2[3 * j + 2] == 0) continue;
      const double x = j2[3 * j], y = j2[3 * j + 1];
      const uint8_t seen = instance[static_cast<size_t>(static_cast<int64_t>(y) * res + static_cast<int64_t>(x))];
      kp[3 * c] = x, kp[3 * c + 1] = y;
      kp[3 * c + 2] = seen != 0 && seen != k + 1 ? 1 : 2;
    }
    sc.coco_keypoints.push_back(Tensor::from_vector(kp, {17, 3}));
  }
  return sc;
}

}  // namespace hmr::data
