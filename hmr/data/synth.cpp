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

}  // namespace

SynthGenerator::SynthGenerator(const body::BodyModelData& model, SynthOptions options)
    : model_(model, DType::F64), faces_(model.faces), part_labels_(model.part_labels), options_(options) {
  HMR_CHECK(options.res >= 32, ValueError, "SynthGenerator: image size must be at least 32, found ", options.res);
  HMR_CHECK(model.part_labels.defined() && model.J_regressor_extra.defined() && model.vertex_joint_ids.defined(),
            ValueError, "SynthGenerator: the body model needs part_labels, J_regressor_extra and vertex_joint_ids "
            "(the generated model has them; pass the extra regressors for a real SMPL file)");
}

SynthSample SynthGenerator::sample(int64_t index) const {
  const uint64_t key = mix(options_.seed * 0x100000001b3ull ^ mix(static_cast<uint64_t>(index)));
  PoseSampler poses(key);
  Rng r(mix(key + 1));
  const int64_t res = options_.res;
  const double dres = static_cast<double>(res);

  SynthSample s;
  s.family = poses.sample_family();
  s.pose = poses.sample_pose(s.family);
  s.betas = poses.sample_betas(10);
  // The root: SMPL's frame (y up, facing +z) turned by pi about x faces the camera upright in
  // camera coordinates (y down); then a yaw about the vertical, a little pitch and roll. As
  // X-Y-Z Euler angles: Ry(yaw) Rx(pi) = Rx(pi) Ry(-yaw).
  const double yaw = r.uniform(-M_PI, M_PI);
  const auto root = euler_xyz_to_axis_angle({M_PI + r.normal(0.1), -yaw, r.normal(0.08)});
  for (int a = 0; a < 3; ++a) s.pose[static_cast<size_t>(a)] = root[static_cast<size_t>(a)];

  const Tensor betas = Tensor::from_vector(s.betas, {1, 10});
  const Tensor pose = Tensor::from_vector(s.pose, {1, 72});
  const body::BodyOutput out = model_.forward(betas, pose);
  const Tensor j49 = model_.spin_joints49(out).contiguous();
  const std::vector<double> joints = j49.to_vector<double>();

  // Camera: a long-ish focal length (1.5-4.5 image widths) and the distance that makes a 1.7 m
  // person 45-90% of the frame tall; SMPL's root joint lands near the centre (anywhere in the
  // outer band when truncated).
  s.focal = r.uniform(1.5, 4.5) * dres;
  const double height_px = r.uniform(0.45, 0.9) * dres;
  const double z = s.focal * 1.7 / height_px;
  const double spread = r.chance(options_.truncation) ? 0.45 : 0.12;
  const double u = dres / 2 + r.uniform(-spread, spread) * dres, v = dres / 2 + r.uniform(-spread, spread) * dres;
  const std::vector<double> rj = out.joints.contiguous().to_vector<double>();
  const double pelvis[3] = {rj[0], rj[1], rj[2]};
  s.transl = {(u - dres / 2) * z / s.focal - pelvis[0], (v - dres / 2) * z / s.focal - pelvis[1], z - pelvis[2]};
  const Tensor shift = Tensor::from_vector(std::vector<double>(s.transl.begin(), s.transl.end()), {1, 3});
  const Tensor verts = (out.vertices.select(0, 0) + shift).contiguous();

  render::Camera cam;
  cam.fx = cam.fy = s.focal;
  cam.cx = cam.cy = dres / 2;
  cam.height = cam.width = res;

  // Joints: 3D in the camera frame, 2D by the same projection.
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
  // Detector-like keypoints: the 25 OpenPose joints with pixel noise, random misses and
  // confidences.
  std::vector<double> op(25 * 3, 0.0);
  for (int j = 0; j < 25; ++j) {
    if (j2[static_cast<size_t>(3 * j + 2)] == 0 || r.chance(0.05)) continue;
    op[static_cast<size_t>(3 * j)] = j2[static_cast<size_t>(3 * j)] + r.normal(0.008 * dres);
    op[static_cast<size_t>(3 * j + 1)] = j2[static_cast<size_t>(3 * j + 1)] + r.normal(0.008 * dres);
    op[static_cast<size_t>(3 * j + 2)] = r.uniform(0.5, 1.0);
  }
  s.openpose = Tensor::from_vector(op, {25, 3});

  // Rendering: clothing colours per vertex, a random light, over the background.
  const auto colors_by_part = clothing(r);
  const std::vector<int64_t> labels = part_labels_.to_vector<int64_t>();
  std::vector<double> colors(labels.size() * 3);
  for (size_t i = 0; i < labels.size(); ++i)
    for (int c = 0; c < 3; ++c) colors[i * 3 + static_cast<size_t>(c)] = colors_by_part[static_cast<size_t>(labels[i])][static_cast<size_t>(c)];
  render::ShadingOptions shading;
  shading.light[0] = r.uniform(-0.6, 0.6), shading.light[1] = r.uniform(-0.8, 0.2), shading.light[2] = -1.0;
  shading.ambient = r.uniform(0.3, 0.5);
  shading.diffuse = 1.0 - shading.ambient;
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

}  // namespace hmr::data
