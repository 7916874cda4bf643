// hmr/data/synth: a synthetic sample's annotations agree with its pixels and with the body
// model — 2D joints are the projections of the 3D joints and fall on the rendered person, the
// 3D joints are the forward of the stored pose and shape, mask and parts agree, the crop box
// holds the person, the IUV map's I is the part map and its U, V are smooth — and a sample
// depends only on (seed, index). Multi-person scenes: visible masks are the person's own render
// minus what nearer people hide, and COCO keypoints are the projected joints.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "hmr/body/generate.h"
#include "hmr/data/synth.h"
#include "hmr/render/raster.h"

using namespace hmr;
using namespace hmr::data;

namespace {

const body::BodyModelData& model() { return body::default_body_model(body::BodySize::Small); }

TEST(Synth, AnnotationsAgreeWithPixelsAndModel) {
  SynthOptions o;
  o.res = 128;
  o.seed = 5;
  o.truncation = 0;
  SynthGenerator gen(model(), o);
  body::BodyModel ref(model(), DType::F64);
  int on_person = 0, inside = 0;
  for (int64_t i = 0; i < 6; ++i) {
    const SynthSample s = gen.sample(i);
    ASSERT_EQ(s.image.sizes(), (Shape{128, 128, 3}));
    ASSERT_EQ(s.joints3d.sizes(), (Shape{49, 3}));
    const auto mask = s.mask.to_vector<uint8_t>();
    const auto parts = s.parts.to_vector<uint8_t>();
    int64_t area = 0;
    for (size_t p = 0; p < mask.size(); ++p) {
      EXPECT_EQ(mask[p] == 255, parts[p] > 0);
      EXPECT_LE(parts[p], 24);
      area += mask[p] == 255;
      if (mask[p]) {  // the crop box (side 200 * scale) holds every person pixel
        const double x = static_cast<double>(p % 128) + 0.5, y = static_cast<double>(p / 128) + 0.5;
        EXPECT_LE(std::fabs(x - s.center[0]), 100 * s.scale + 0.5);
        EXPECT_LE(std::fabs(y - s.center[1]), 100 * s.scale + 0.5);
      }
    }
    EXPECT_GT(area, 200) << "sample " << i;
    // 3D joints = SPIN's 49 of the forward of the stored parameters, plus transl.
    const body::BodyOutput out = ref.forward(Tensor::from_vector(s.betas, {1, 10}), Tensor::from_vector(s.pose, {1, 72}));
    const auto j49 = ref.spin_joints49(out).contiguous().to_vector<double>();
    const auto j3 = s.joints3d.to_vector<double>(), j2 = s.joints2d.to_vector<double>();
    for (int j = 0; j < 49; ++j) {
      for (int c = 0; c < 3; ++c) EXPECT_NEAR(j3[3 * j + c], j49[3 * j + c] + s.transl[c], 1e-9);
      // 2D = pinhole projection with the principal point at the centre.
      EXPECT_NEAR(j2[3 * j], s.focal * j3[3 * j] / j3[3 * j + 2] + 64, 1e-9);
      EXPECT_NEAR(j2[3 * j + 1], s.focal * j3[3 * j + 1] / j3[3 * j + 2] + 64, 1e-9);
      // Trunk and limb joints (SPIN 25..38 are the LSP joints) lie inside the body, so their
      // pixels are person pixels (up to one pixel at a thin limb's edge).
      if (j >= 25 && j < 39 && j2[3 * j + 2] > 0) {
        ++inside;
        const int64_t x = static_cast<int64_t>(j2[3 * j]), y = static_cast<int64_t>(j2[3 * j + 1]);
        bool hit = false;
        for (int64_t dy = -1; dy <= 1; ++dy)
          for (int64_t dx = -1; dx <= 1; ++dx) {
            const int64_t xx = std::clamp<int64_t>(x + dx, 0, 127), yy = std::clamp<int64_t>(y + dy, 0, 127);
            hit = hit || mask[static_cast<size_t>(yy * 128 + xx)] == 255;
          }
        on_person += hit;
      }
    }
  }
  EXPECT_GT(inside, 60);
  EXPECT_GE(on_person, inside * 95 / 100);
}

TEST(Synth, SampleDependsOnlyOnSeedAndIndex) {
  SynthOptions o;
  o.res = 64;
  o.seed = 9;
  SynthGenerator a(model(), o), b(model(), o);
  const SynthSample x = a.sample(3);
  b.sample(0);
  const SynthSample y = b.sample(3);
  EXPECT_EQ(x.pose, y.pose);
  EXPECT_EQ(x.image.to_vector<uint8_t>(), y.image.to_vector<uint8_t>());
  EXPECT_NE(x.pose, a.sample(4).pose);
  o.seed = 10;
  EXPECT_NE(x.pose, SynthGenerator(model(), o).sample(3).pose);
}

TEST(Synth, RejectsBadOptions) {
  SynthOptions o;
  o.res = 8;
  EXPECT_THROW(SynthGenerator(model(), o), ValueError);
}

// Same-part neighbour steps of U (c = 1) or V (c = 2), against same-part pixel pairs far apart
// in raster order: a smooth map has neighbours much closer than arbitrary pairs, and no jumps
// across half the range (which a seam inside a part would make).
struct Smoothness {
  double neighbour = 0, random = 0, jumps = 0;  // mean steps and the fraction above 128
};
Smoothness smoothness(const std::vector<uint8_t>& iuv, int64_t res, int c) {
  Smoothness out;
  int64_t n = 0, big = 0, m = 0;
  for (int64_t y = 0; y < res; ++y)
    for (int64_t x = 0; x < res; ++x)
      for (const auto& [dx, dy] : {std::pair<int64_t, int64_t>{1, 0}, {0, 1}}) {
        if (x + dx >= res || y + dy >= res) continue;
        const size_t a = static_cast<size_t>((y * res + x) * 3), b = static_cast<size_t>(((y + dy) * res + x + dx) * 3);
        if (iuv[a] == 0 || iuv[a] != iuv[b]) continue;
        const int d = std::abs(int(iuv[a + c]) - int(iuv[b + c]));
        out.neighbour += d;
        big += d > 128;
        ++n;
      }
  for (int64_t p = 0; p < res * res; ++p)
    for (int64_t q = p + 7; q < res * res; q += 97) {
      const size_t a = static_cast<size_t>(p * 3), b = static_cast<size_t>(q * 3);
      if (iuv[a] == 0 || iuv[a] != iuv[b]) continue;
      out.random += std::abs(int(iuv[a + c]) - int(iuv[b + c]));
      ++m;
    }
  out.neighbour /= static_cast<double>(std::max<int64_t>(n, 1));
  out.jumps = static_cast<double>(big) / static_cast<double>(std::max<int64_t>(n, 1));
  out.random /= static_cast<double>(std::max<int64_t>(m, 1));
  return out;
}

// Whether the map passes the smoothness bounds: U (a part's long axis, many pixels long) steps
// far less than arbitrary pairs; V, which can cross a thin limb in two or three pixels, at least
// never jumps across half its range more than rarely.
bool smooth(const std::vector<uint8_t>& iuv, int64_t res, const std::string& what, bool expected = true) {
  const Smoothness u = smoothness(iuv, res, 1), v = smoothness(iuv, res, 2);
  const bool ok = u.neighbour < 0.4 * u.random && u.jumps < 0.01 && v.neighbour < 0.8 * v.random && v.jumps < 0.01;
  if (ok != expected)
    std::cout << what << ": U steps " << u.neighbour << " vs " << u.random << " (jumps " << u.jumps << "), V steps "
              << v.neighbour << " vs " << v.random << " (jumps " << v.jumps << ")\n";
  return ok;
}

TEST(Synth, IuvMatchesPartsAndIsSmooth) {
  SynthOptions o;
  o.res = 128;
  o.seed = 11;
  o.truncation = 0;
  SynthGenerator gen(model(), o);
  for (int64_t i = 0; i < 3; ++i) {
    const SynthSample s = gen.sample(i);
    ASSERT_EQ(s.iuv.sizes(), (Shape{128, 128, 3}));
    const auto iuv = s.iuv.to_vector<uint8_t>(), parts = s.parts.to_vector<uint8_t>();
    int64_t fg = 0;
    for (size_t p = 0; p < parts.size(); ++p) {
      ASSERT_EQ(iuv[3 * p], parts[p]) << "sample " << i << " pixel " << p;  // background 0 in both
      if (!parts[p]) {
        EXPECT_EQ(iuv[3 * p + 1] + iuv[3 * p + 2], 0);
      }
      fg += parts[p] > 0;
    }
    ASSERT_GT(fg, 300);
    EXPECT_TRUE(smooth(iuv, 128, "sample " + std::to_string(i)));
    // The bounds can fail: the same values shuffled among each part's pixels are not smooth.
    std::vector<uint8_t> shuffled = iuv;
    std::mt19937 rng(static_cast<unsigned>(i));
    for (uint8_t part = 1; part <= 24; ++part) {
      std::vector<size_t> at;
      for (size_t p = 0; p < parts.size(); ++p)
        if (parts[p] == part) at.push_back(p);
      std::vector<size_t> to = at;
      std::shuffle(to.begin(), to.end(), rng);
      for (size_t k = 0; k < at.size(); ++k)
        for (size_t c = 1; c < 3; ++c) shuffled[3 * to[k] + c] = iuv[3 * at[k] + c];
    }
    EXPECT_FALSE(smooth(shuffled, 128, "shuffled", false));
  }
}

TEST(Synth, IuvChartsSpanEachPart) {
  // Every part's rest-pose vertices cover U and V in [0, 1], reaching both ends.
  SynthOptions o;
  o.res = 64;
  SynthGenerator gen(model(), o);
  body::BodyModel ref(model(), DType::F64);
  const auto rest = ref.forward(zeros({1, 10}, DType::F64), zeros({1, 72}, DType::F64)).vertices.contiguous().to_vector<double>();
  const auto labels = model().part_labels.to(DType::I64).to_vector<int64_t>();
  ASSERT_EQ(gen.iuv_charts().size(), 24u);
  for (int64_t part = 0; part < 24; ++part) {
    double lo[2] = {2, 2}, hi[2] = {-1, -1};
    for (size_t v = 0; v < labels.size(); ++v) {
      if (labels[v] != part) continue;
      const auto uv = gen.iuv_charts()[static_cast<size_t>(part)].apply(&rest[3 * v]);
      for (int a = 0; a < 2; ++a) lo[a] = std::min(lo[a], uv[static_cast<size_t>(a)]), hi[a] = std::max(hi[a], uv[static_cast<size_t>(a)]);
    }
    for (int a = 0; a < 2; ++a) {
      EXPECT_NEAR(lo[a], 0.0, 1e-12) << "part " << part;
      EXPECT_NEAR(hi[a], 1.0, 1e-12) << "part " << part;
    }
  }
}

TEST(Synth, SceneMasksKeypointsAndOcclusion) {
  SynthOptions o;
  o.res = 64;
  o.seed = 3;
  SynthGenerator gen(model(), o);
  body::BodyModel ref(model(), DType::F64);
  const Tensor faces = model().faces;
  render::Camera cam;
  cam.cx = cam.cy = 32;
  cam.width = cam.height = 64;
  int64_t occluded_people = 0, hidden_keypoints = 0;
  for (int64_t i = 0; i < 6; ++i) {
    const SynthScene sc = gen.scene(i, 5);
    ASSERT_EQ(sc.people.size(), 5u);
    ASSERT_EQ(sc.coco_keypoints.size(), 5u);
    const auto inst = sc.instance.to_vector<uint8_t>(), parts = sc.parts.to_vector<uint8_t>(), iuv = sc.iuv.to_vector<uint8_t>();
    for (size_t p = 0; p < inst.size(); ++p) {
      EXPECT_LE(inst[p], 5);
      EXPECT_EQ(inst[p] > 0, parts[p] > 0);
      EXPECT_EQ(iuv[3 * p], parts[p]);
    }
    for (size_t k = 0; k < 5; ++k) {
      const SynthSample& s = sc.people[k];
      // The person drawn alone from its stored parameters: the visible mask is that render less
      // the pixels a nearer person covers.
      const body::BodyOutput out = ref.forward(Tensor::from_vector(s.betas, {1, 10}), Tensor::from_vector(s.pose, {1, 72}));
      const Tensor verts = out.vertices + Tensor::from_vector(std::vector<double>(s.transl.begin(), s.transl.end()), {1, 1, 3});
      cam.fx = cam.fy = s.focal;
      const auto alone = render::rasterize(verts, faces, cam).mask.to(DType::U8).contiguous().to_vector<uint8_t>();
      const auto mask = s.mask.to_vector<uint8_t>();
      int64_t visible = 0, solo = 0;
      for (size_t p = 0; p < mask.size(); ++p) {
        EXPECT_EQ(mask[p] == 255, inst[p] == k + 1);
        if (mask[p]) {
          EXPECT_TRUE(alone[p]) << "scene " << i << " person " << k << " pixel " << p;
        }
        if (alone[p] && !mask[p]) {
          EXPECT_NE(inst[p], 0) << "hidden pixel shows nobody";
        }
        visible += mask[p] != 0;
        solo += alone[p];
      }
      occluded_people += visible < solo;
      // COCO keypoints: the projections of SPIN's joints, v from the instance map.
      const auto kp = sc.coco_keypoints[k].to_vector<double>(), j2 = s.joints2d.to_vector<double>();
      for (size_t c = 0; c < 17; ++c) {
        const size_t j = static_cast<size_t>(kCocoFromSpin49[c]);
        const double v = kp[3 * c + 2];
        if (j2[3 * j + 2] == 0) {
          EXPECT_EQ(v, 0);
          continue;
        }
        EXPECT_EQ(kp[3 * c], j2[3 * j]);
        EXPECT_EQ(kp[3 * c + 1], j2[3 * j + 1]);
        const uint8_t seen = inst[static_cast<size_t>(static_cast<int64_t>(j2[3 * j + 1]) * 64 + static_cast<int64_t>(j2[3 * j]))];
        EXPECT_EQ(v, seen != 0 && seen != k + 1 ? 1 : 2);
        hidden_keypoints += v == 1;
      }
    }
  }
  // Depth ordering must actually occur in a handful of scenes, or the test checks nothing.
  EXPECT_GT(occluded_people, 0);
  EXPECT_GT(hidden_keypoints, 0);
}

TEST(Synth, SceneIsDeterministicAndChecksPeople) {
  SynthOptions o;
  o.res = 64;
  o.seed = 2;
  SynthGenerator a(model(), o), b(model(), o);
  const SynthScene x = a.scene(1, 2);
  b.scene(0, 2);
  const SynthScene y = b.scene(1, 2);
  EXPECT_EQ(x.image.to_vector<uint8_t>(), y.image.to_vector<uint8_t>());
  EXPECT_EQ(x.people[1].pose, y.people[1].pose);
  EXPECT_NE(x.people[0].pose, a.scene(2, 2).people[0].pose);
  EXPECT_THROW(a.scene(0, 0), ValueError);
  EXPECT_THROW(a.scene(0, 9), ValueError);
}

}  // namespace
