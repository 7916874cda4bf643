// hmr/data/synth: a synthetic sample's annotations agree with its pixels and with the body
// model — 2D joints are the projections of the 3D joints and fall on the rendered person, the
// 3D joints are the forward of the stored pose and shape, mask and parts agree, the crop box
// holds the person — and a sample depends only on (seed, index).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "autograd/ops.h"
#include "hmr/body/generate.h"
#include "hmr/data/synth.h"

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

}  // namespace
