// hmr/data/dataset + loader: a sample equals the augment functions applied with its sampled
// parameters (crop + normalisation recomputed here), a drawn marker and a projected 3D joint land
// where the keypoints say, determinism across threads and runs, mixed-sampler frequencies,
// batching, worker errors naming the file, early shutdown, and pinned batches to the GPU.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>
#include <sstream>

#include "hmr/cli.h"
#include "hmr/data/dataset.h"
#include "hmr/data/loader.h"
#include "io/image.h"
#include "support.h"
#include "tensor/cuda_context.h"

namespace fs = std::filesystem;
using namespace hmr;
using namespace hmr::data;
using hmr::testing::error_message;

namespace {

Tensor f32(const std::vector<double>& v, const Shape& s) {
  return Tensor::from_vector<double>(v, s).to(DType::F32);
}

std::vector<double> uniform(size_t n, double lo, double hi, std::mt19937& rng) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (double& x : v) x = d(rng);
  return v;
}

// A temp folder removed at the end of the test.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    path = fs::temp_directory_path() / ("hmr_loader_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path / "images");
  }
  ~TempDir() { fs::remove_all(path); }
};

// n noise images of varying sizes (PNG, lossless, so the test can decode the same pixels) and
// random annotations with every key SPIN reads; `with_smpl` false drops pose/shape/S.
DatasetAnnotations write_noise_dataset(const fs::path& root, int64_t n, unsigned seed, bool with_3d = true) {
  std::mt19937 rng(seed);
  DatasetAnnotations a;
  std::vector<double> center, scale;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t h = 40 + 7 * (i % 3), w = 50 + 5 * (i % 4);
    std::vector<uint8_t> px(static_cast<size_t>(h * w * 3));
    for (auto& p : px) p = static_cast<uint8_t>(rng() & 255);
    const std::string name = "images/img_" + std::to_string(i) + ".png";
    io::write_png((root / name).string(), Tensor::from_vector<uint8_t>(px, {h, w, 3}));
    a.imgname.push_back(name);
    const auto c = uniform(2, 15, 35, rng);
    center.insert(center.end(), c.begin(), c.end());
    scale.push_back(uniform(1, 0.15, 0.3, rng)[0]);
  }
  a.center = f32(center, {n, 2});
  a.scale = f32(scale, {n});
  auto part = uniform(static_cast<size_t>(n * 24 * 3), 0, 50, rng);
  for (size_t k = 2; k < part.size(); k += 3) part[k] = 1;  // visibility
  a.part = f32(part, {n, 24, 3});
  a.openpose = f32(uniform(static_cast<size_t>(n * 25 * 3), 0, 50, rng), {n, 25, 3});
  if (with_3d) {
    a.S = f32(uniform(static_cast<size_t>(n * 24 * 4), -1, 1, rng), {n, 24, 4});
    a.pose = f32(uniform(static_cast<size_t>(n * 72), -0.5, 0.5, rng), {n, 72});
    a.shape = f32(uniform(static_cast<size_t>(n * 10), -2, 2, rng), {n, 10});
    a.extra.set("focal_length", f32(uniform(static_cast<size_t>(n), 500, 1000, rng), {n}));
  }
  return a;
}

std::shared_ptr<Dataset> noise_dataset(const fs::path& root, int64_t n, DatasetOptions options,
                                       bool with_3d = true) {
  DatasetAnnotations a = write_noise_dataset(root, n, 7, with_3d);
  save_dataset_npz((root / "ann.npz").string(), a);
  return std::make_shared<Dataset>("noise", load_dataset_npz((root / "ann.npz").string(), root.string()),
                                   root.string(), options);
}

void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const auto g = got.to_vector<double>(), w = want.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], w[i], tol) << what << " at " << i;
}

std::vector<uint8_t> bytes_of(const Tensor& t) {
  const Tensor c = t.contiguous();
  const auto* p = static_cast<const uint8_t*>(c.raw_data());
  return std::vector<uint8_t>(p, p + c.numel() * c.itemsize());
}

// Every tensor of every batch of one epoch, as bytes.
std::vector<std::vector<uint8_t>> epoch_bytes(DataLoader& loader, int64_t epoch) {
  std::vector<std::vector<uint8_t>> out;
  loader.start_epoch(epoch);
  while (auto b = loader.next())
    for (const Tensor* t : {&b->img, &b->keypoints, &b->pose, &b->betas, &b->pose_3d, &b->has_smpl, &b->scale,
                            &b->center, &b->is_flipped, &b->rot_angle, &b->sample_index})
      out.push_back(bytes_of(*t));
  return out;
}

}  // namespace

TEST(DataLoader, SampleIsTheAugmentFunctionsWithItsSampledParameters) {
  TempDir dir("sample");
  DatasetOptions o;
  o.res = 32;
  o.seed = 11;
  const auto ds = noise_dataset(dir.path, 6, o);
  const DatasetAnnotations raw = load_dataset_npz((dir.path / "ann.npz").string(), dir.path.string());
  int flips = 0, rotations = 0;
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    for (int64_t i = 0; i < ds->size(); ++i) {
      const Sample s = ds->get(i, epoch);
      // The parameters come from the documented stream: sample_augment keyed by (seed, epoch).
      const AugmentParams p = sample_augment(o.augment, derive_seed(o.seed, static_cast<uint64_t>(epoch)),
                                             static_cast<uint64_t>(i));
      flips += p.flip;
      rotations += p.rot != 0;
      const double cx = raw.center[i][0].item(), cy = raw.center[i][1].item();
      const double scale = raw.scale[i].item() * p.scale;
      EXPECT_EQ(s.is_flipped, p.flip);
      EXPECT_DOUBLE_EQ(s.rot_angle, p.rot);
      EXPECT_NEAR(s.scale, scale, 1e-6);
      EXPECT_EQ(s.sample_index, i);
      EXPECT_TRUE(s.has_smpl && s.has_pose_3d);
      EXPECT_NEAR(s.focal_length, raw.extra.at("focal_length")[i].item(), 1e-3);

      // SPIN's 49: OpenPose's 25, then the 24 ground-truth joints.
      std::vector<double> kp = (*raw.openpose)[i].to_vector<double>();
      const auto part = (*raw.part)[i].to_vector<double>();
      kp.insert(kp.end(), part.begin(), part.end());
      expect_close(s.keypoints, process_keypoints_2d(f32(kp, {49, 3}), cx, cy, scale, 32, p.rot, p.flip),
                   1e-5, "keypoints");
      expect_close(s.pose, process_pose((*raw.pose)[i], p.rot, p.flip), 1e-5, "pose");
      expect_close(s.pose_3d, process_joints_3d((*raw.S)[i], p.rot, p.flip), 1e-5, "pose_3d");
      expect_close(s.betas, (*raw.shape)[i], 0, "betas");

      // The image: the crop of the decoded file, colour noise clipped at 255, ImageNet stats.
      const Tensor image = io::read_image((dir.path / raw.imgname[static_cast<size_t>(i)]).string());
      EXPECT_EQ(s.orig_shape[0], image.size(0));
      EXPECT_EQ(s.orig_shape[1], image.size(1));
      const auto crop = crop_image(image, cx, cy, scale, 32, p.rot, p.flip).to_vector<double>();
      const auto img = s.img.to_vector<double>();
      ASSERT_EQ(s.img.sizes(), (Shape{3, 32, 32}));
      const double mean[3] = {0.485, 0.456, 0.406}, stdev[3] = {0.229, 0.224, 0.225};
      for (int c = 0; c < 3; ++c)
        for (int k = 0; k < 32 * 32; ++k) {
          const double v =
              std::min(255.0, crop[static_cast<size_t>(k * 3 + c)] * p.color[static_cast<size_t>(c)]);
          ASSERT_NEAR(img[static_cast<size_t>(c * 1024 + k)], (v / 255 - mean[c]) / stdev[c], 1e-5);
        }
    }
  }
  EXPECT_GT(flips, 0);  // 18 draws at p = 0.5 and 0.4: both branches were exercised
  EXPECT_GT(rotations, 0);
}

TEST(DataLoader, TranslationJitterMovesTheBoxWithinItsBound) {
  TempDir dir("jitter");
  DatasetOptions o;
  o.res = 16;
  o.translation_jitter = 0.1;
  const auto ds = noise_dataset(dir.path, 5, o);
  const DatasetAnnotations raw = load_dataset_npz((dir.path / "ann.npz").string(), dir.path.string());
  double largest = 0;
  for (int64_t epoch = 0; epoch < 4; ++epoch)
    for (int64_t i = 0; i < 5; ++i) {
      const Sample s = ds->get(i, epoch);
      const double bound = 0.1 * 200 * raw.scale[i].item();  // t * box side, per coordinate
      for (int a = 0; a < 2; ++a) {
        const double moved = std::abs(s.center[static_cast<size_t>(a)] - raw.center[i][a].item());
        EXPECT_LE(moved, bound + 1e-4);
        largest = std::max(largest, moved / bound);
      }
      // The keypoints follow the moved box.
      std::vector<double> kp = (*raw.openpose)[i].to_vector<double>();
      const auto part = (*raw.part)[i].to_vector<double>();
      kp.insert(kp.end(), part.begin(), part.end());
      expect_close(s.keypoints,
                   process_keypoints_2d(f32(kp, {49, 3}), s.center[0], s.center[1], s.scale, 16, s.rot_angle,
                                        s.is_flipped),
                   1e-5, "keypoints");
    }
  EXPECT_GT(largest, 0.5);  // 40 uniform draws: some move more than half the bound
}

TEST(DataLoader, MissingAnnotationsAreZerosWithFlagsOff) {
  TempDir dir("missing");
  DatasetAnnotations a = write_noise_dataset(dir.path, 3, 5, false);
  a.openpose.reset();
  const Dataset ds("2d-only", a, dir.path.string(), DatasetOptions{});
  const Sample s = ds.get(1, 0);
  EXPECT_FALSE(s.has_smpl);
  EXPECT_FALSE(s.has_pose_3d);
  EXPECT_EQ(s.focal_length, 0);
  for (double v : s.pose.to_vector<double>()) EXPECT_EQ(v, 0);
  for (double v : s.pose_3d.to_vector<double>()) EXPECT_EQ(v, 0);
  const auto kp = s.keypoints.to_vector<double>();
  for (int j = 0; j < 25; ++j)
    EXPECT_EQ(kp[static_cast<size_t>(j * 3 + 2)], 0);  // no detections: confidence 0
  for (int j = 25; j < 49; ++j) EXPECT_EQ(kp[static_cast<size_t>(j * 3 + 2)], 1);
}

TEST(DataLoader, MarkerLandsOnItsKeypointUnderAugmentation) {
  // One bright 5x5 blob on black at (x0, y0); part joint 0 is there. Whatever the sampled flip,
  // rotation and scale, the blob's centroid in the crop is where the keypoint says.
  TempDir dir("marker");
  const int64_t H = 90, W = 110, x0 = 57, y0 = 41;
  std::vector<uint8_t> px(static_cast<size_t>(H * W * 3), 0);
  for (int64_t y = y0 - 2; y <= y0 + 2; ++y)
    for (int64_t x = x0 - 2; x <= x0 + 2; ++x)
      for (int c = 0; c < 3; ++c) px[static_cast<size_t>((y * W + x) * 3 + c)] = 200;
  io::write_png((dir.path / "images/marker.png").string(), Tensor::from_vector<uint8_t>(px, {H, W, 3}));
  DatasetAnnotations a;
  a.imgname = {"images/marker.png"};
  a.center = f32({x0 + 4.0, y0 - 3.0}, {1, 2});
  a.scale = f32({0.3}, {1});  // 60 px box -> 64 px crop
  std::vector<double> part(24 * 3, 0);
  part[0] = x0, part[1] = y0, part[2] = 1;
  a.part = f32(part, {1, 24, 3});
  DatasetOptions o;
  o.res = 64;
  o.seed = 3;
  o.augment.rot_zero_prob = 0;  // rotate every time
  const Dataset ds("marker", a, dir.path.string(), o);
  std::set<bool> flips;
  for (int64_t epoch = 0; epoch < 8; ++epoch) {
    const Sample s = ds.get(0, epoch);
    flips.insert(s.is_flipped);
    const auto kp = s.keypoints.to_vector<double>();
    int joint = -1;
    for (int j = 0; j < 49; ++j)
      if (kp[static_cast<size_t>(j * 3 + 2)] == 1) joint = j;
    ASSERT_GE(joint, 25);
    EXPECT_EQ(joint, s.is_flipped ? 25 + 5 : 25);  // SPIN's j24 flip: right ankle <-> left ankle
    const double kx = ((kp[static_cast<size_t>(joint * 3)] + 1) * 64 - 1) / 2;
    const double ky = ((kp[static_cast<size_t>(joint * 3 + 1)] + 1) * 64 - 1) / 2;
    // Centroid of the de-normalised red channel (black = 0 contributes nothing).
    const auto img = s.img.to_vector<double>();
    double sw = 0, sx = 0, sy = 0;
    for (int64_t y = 0; y < 64; ++y)
      for (int64_t x = 0; x < 64; ++x) {
        const double v = img[static_cast<size_t>(y * 64 + x)] * 0.229 + 0.485;
        sw += v, sx += v * static_cast<double>(x), sy += v * static_cast<double>(y);
      }
    ASSERT_GT(sw, 1.0);
    EXPECT_NEAR(sx / sw, kx, 0.5) << "epoch " << epoch << " rot " << s.rot_angle;
    EXPECT_NEAR(sy / sw, ky, 0.5) << "epoch " << epoch << " rot " << s.rot_angle;
  }
  EXPECT_EQ(flips.size(), 2u);
}

TEST(DataLoader, ProjectedJointsLandOnTheKeypointsOfASynthCrop) {
  // A synth dataset: S (metres, camera frame) projects onto part through focal_length and the
  // image centre. After the crop, the loader's pose_3d must project onto its keypoints through
  // the crop's camera: focal * k and the principal point mapped by the crop transform.
  TempDir dir("synth");
  std::ostringstream out, err;
  cli::Streams streams{out, err, false};
  ASSERT_EQ(cli::run({"data", "synth", "--out", dir.path.string(), "--count", "3", "--seed", "2", "--res",
                      "96", "--model", "generated:small"},
                     streams),
            0)
      << err.str();
  DatasetOptions o;
  o.res = 64;
  o.seed = 9;
  const std::string root = dir.path.string();
  const Dataset ds("synth", load_dataset_npz((dir.path / "synth_train.npz").string(), root), root, o);
  int checked = 0;
  for (int64_t epoch = 0; epoch < 4; ++epoch)
    for (int64_t i = 0; i < ds.size(); ++i) {
      const Sample s = ds.get(i, epoch);
      ASSERT_GT(s.focal_length, 0);
      const double k = 64.0 / (200.0 * s.scale);
      const CropTransform t =
          CropTransform::make(s.center[0], s.center[1], s.scale, 64, s.rot_angle, s.is_flipped);
      const auto pp = t.apply(s.orig_shape[1] / 2.0, s.orig_shape[0] / 2.0);
      const auto j3 = s.pose_3d.to_vector<double>(), kp = s.keypoints.to_vector<double>();
      for (int j = 0; j < 24; ++j) {
        const double* X = &j3[static_cast<size_t>(j * 4)];
        const double* n = &kp[static_cast<size_t>((25 + j) * 3)];
        if (n[2] == 0) continue;  // outside the source image
        const double u = s.focal_length * k * X[0] / X[2] + pp[0],
                     v = s.focal_length * k * X[1] / X[2] + pp[1];
        EXPECT_NEAR((2 * u + 1) / 64 - 1, n[0], 2e-3) << "sample " << i << " joint " << j;
        EXPECT_NEAR((2 * v + 1) / 64 - 1, n[1], 2e-3) << "sample " << i << " joint " << j;
        ++checked;
      }
    }
  EXPECT_GT(checked, 100);
}

TEST(DataLoader, EvalModeHasNoAugmentationAndEpochsDifferInTraining) {
  TempDir dir("eval");
  DatasetOptions o;
  o.res = 24;
  o.train = false;
  const auto eval = noise_dataset(dir.path, 4, o);
  o.train = true;
  const Dataset train("noise", load_dataset_npz((dir.path / "ann.npz").string(), dir.path.string()),
                      dir.path.string(), o);
  int differing = 0;
  for (int64_t i = 0; i < 4; ++i) {
    const Sample a = eval->get(i, 0), b = eval->get(i, 5);
    EXPECT_FALSE(a.is_flipped);
    EXPECT_EQ(a.rot_angle, 0);
    EXPECT_EQ(bytes_of(a.img), bytes_of(b.img));
    EXPECT_EQ(bytes_of(train.get(i, 1).img), bytes_of(train.get(i, 1).img));  // same (seed, epoch, index)
    differing += bytes_of(train.get(i, 0).img) != bytes_of(train.get(i, 1).img);
  }
  EXPECT_EQ(differing, 4);
}

TEST(DataLoader, FlippingTwiceIsTheIdentity) {
  // With rotation, scale and colour noise off, two epochs of one sample differ by the flip
  // alone: mirroring the flipped crop and flipping its keypoints again gives the other.
  TempDir dir("flip");
  DatasetOptions o;
  o.res = 20;
  o.augment.rot_factor = 0;
  o.augment.scale_factor = 0;
  o.augment.noise_factor = 0;
  const auto ds = noise_dataset(dir.path, 2, o);
  std::optional<Sample> flipped, plain;
  for (int64_t epoch = 0; epoch < 20 && !(flipped && plain); ++epoch) {
    Sample s = ds->get(1, epoch);
    (s.is_flipped ? flipped : plain) = s;
  }
  ASSERT_TRUE(flipped && plain);
  expect_close(flip_keypoints(flipped->keypoints), plain->keypoints, 1e-6, "keypoints");
  expect_close(flip_pose(flipped->pose), plain->pose, 1e-6, "pose");
  expect_close(flip_keypoints(flipped->pose_3d), plain->pose_3d, 1e-6, "pose_3d");
  const auto f = flipped->img.to_vector<float>(), p = plain->img.to_vector<float>();
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 20; ++y)
      for (int x = 0; x < 20; ++x)
        ASSERT_NEAR(f[static_cast<size_t>((c * 20 + y) * 20 + 19 - x)],
                    p[static_cast<size_t>((c * 20 + y) * 20 + x)], 1e-5);
}

TEST(DataLoader, ImageCacheKeepsDecodedImagesWithinItsBudget) {
  TempDir dir("cache");
  DatasetOptions o;
  o.res = 16;
  // Image 0 (40x50x3 = 6000 bytes) fits; every later one (47x55 and up) would overflow.
  o.image_cache_bytes = 10000;
  const auto ds = noise_dataset(dir.path, 6, o);
  for (int64_t i = 0; i < 6; ++i) ds->get(i, 0);
  EXPECT_EQ(ds->cached_bytes(), 40 * 50 * 3);
  // Cached or decoded, a sample is the same.
  DatasetOptions uncached = o;
  uncached.image_cache_bytes = 0;
  const Dataset plain("noise", load_dataset_npz((dir.path / "ann.npz").string(), dir.path.string()),
                      dir.path.string(), uncached);
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(bytes_of(ds->get(i, 2).img), bytes_of(plain.get(i, 2).img));
}

TEST(DataLoader, MixedSamplerFollowsTheProbabilities) {
  TempDir dir("mixed");
  DatasetOptions o;
  o.res = 16;
  std::vector<std::shared_ptr<const Dataset>> parts;
  for (int64_t n : {5, 7, 3}) {
    const fs::path sub = dir.path / ("d" + std::to_string(n));
    fs::create_directories(sub / "images");
    parts.push_back(noise_dataset(sub, n, o));
  }
  const MixedDataset mixed(parts, {3, 6, 1}, 4);  // SPIN's 30/60/10, unnormalised on purpose
  ASSERT_EQ(mixed.size(), 7);
  const std::vector<double> p = {0.3, 0.6, 0.1};
  std::vector<double> counts(3, 0);
  const int64_t epochs = 3000;
  for (int64_t e = 0; e < epochs; ++e)
    for (int64_t i = 0; i < 7; ++i) {
      const auto [k, row] = mixed.locate(i, e);
      ASSERT_EQ(row, i % parts[static_cast<size_t>(k)]->size());
      counts[static_cast<size_t>(k)] += 1;
    }
  // Pearson's statistic with 2 degrees of freedom: P(chi2 > 13.8) = 0.001.
  const double total = static_cast<double>(epochs * 7);
  double chi2 = 0;
  for (int k = 0; k < 3; ++k)
    chi2 += std::pow(counts[static_cast<size_t>(k)] - total * p[k], 2) / (total * p[k]);
  EXPECT_LT(chi2, 13.8) << counts[0] << " " << counts[1] << " " << counts[2];
  // A different epoch draws differently; get() reports the dataset it took.
  int moved = 0;
  for (int64_t i = 0; i < 7; ++i) moved += mixed.locate(i, 0) != mixed.locate(i, 1);
  EXPECT_GT(moved, 0);
  EXPECT_EQ(mixed.get(2, 3).dataset_index, mixed.locate(2, 3).first);
  // Indices 0 and 3 of an epoch that both land on row 0 of the 3-row dataset are augmented apart.
  bool found = false;
  for (int64_t e = 0; e < 2000 && !found; ++e) {
    if (mixed.locate(0, e).first != 2 || mixed.locate(3, e).first != 2) continue;
    EXPECT_NE(bytes_of(mixed.get(0, e).img), bytes_of(mixed.get(3, e).img)) << "epoch " << e;
    EXPECT_EQ(mixed.get(3, e).sample_index, 0);
    found = true;
  }
  EXPECT_TRUE(found);

  const auto seq = MixedDataset::sequential(parts);
  ASSERT_EQ(seq->size(), 15);
  EXPECT_EQ(seq->locate(0, 0), (std::pair<int64_t, int64_t>{0, 0}));
  EXPECT_EQ(seq->locate(5, 0), (std::pair<int64_t, int64_t>{1, 0}));
  EXPECT_EQ(seq->locate(14, 9), (std::pair<int64_t, int64_t>{2, 2}));

  EXPECT_NE(error_message([&] {
              MixedDataset(parts, {0.5, 0.5}, 0);
            }).find("MixedDataset"),
            std::string::npos);
  EXPECT_THROW(MixedDataset(parts, {0.5, -0.5, 1}, 0), ValueError);
  EXPECT_THROW(mixed.locate(7, 0), IndexError);
}

TEST(DataLoader, BatchesCoverTheEpochInShuffledOrder) {
  TempDir dir("batches");
  DatasetOptions o;
  o.res = 16;
  const auto ds = noise_dataset(dir.path, 10, o);
  LoaderOptions lo;
  lo.batch_size = 4;
  lo.num_workers = 2;
  lo.drop_last = false;
  lo.seed = 1;
  DataLoader loader(ds, lo);
  EXPECT_EQ(loader.num_batches(), 3);
  loader.start_epoch(0);
  std::vector<int64_t> seen, sizes;
  while (auto b = loader.next()) {
    sizes.push_back(b->size());
    EXPECT_EQ(b->img.sizes(), (Shape{b->size(), 3, 16, 16}));
    EXPECT_EQ(b->keypoints.sizes(), (Shape{b->size(), 49, 3}));
    EXPECT_EQ(b->pose_3d.sizes(), (Shape{b->size(), 24, 4}));
    EXPECT_EQ(b->dataset_index.dtype(), DType::I64);
    EXPECT_EQ(static_cast<int64_t>(b->imgname.size()), b->size());
    for (int64_t v : b->sample_index.to_vector<int64_t>()) seen.push_back(v);
    // Each row is the dataset's sample for (index, epoch).
    const Sample s = ds->get(b->sample_index.to_vector<int64_t>()[1], 0);
    EXPECT_EQ(bytes_of(b->img[1]), bytes_of(s.img));
    EXPECT_EQ(bytes_of(b->keypoints[1]), bytes_of(s.keypoints));
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 2}));
  EXPECT_EQ(seen, loader.epoch_order(0));
  std::vector<int64_t> sorted = seen;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_NE(loader.epoch_order(0), loader.epoch_order(1));
  EXPECT_NE(loader.epoch_order(0), sorted);

  lo.drop_last = true;
  lo.shuffle = false;
  DataLoader plain(ds, lo);
  EXPECT_EQ(plain.num_batches(), 2);
  EXPECT_EQ(plain.epoch_order(3), sorted);
  EXPECT_FALSE(plain.pinned());  // no CUDA device here

  EXPECT_THROW(DataLoader(ds, LoaderOptions{0}), ValueError);
  EXPECT_NE(error_message([&] {
              ds->get(0, 0, Tensor::empty({3, 8, 8}, DType::F32));
            }).find("[3, 8, 8]"),
            std::string::npos);            // the batch row handed in must be the crop's shape
  EXPECT_THROW(plain.next(), ValueError);  // no epoch started
}

TEST(DataLoader, SameSeedSameBytesWhateverTheThreadCount) {
  TempDir dir("determinism");
  DatasetOptions o;
  o.res = 20;
  o.seed = 5;
  const auto ds = noise_dataset(dir.path, 13, o);
  std::vector<std::vector<std::vector<uint8_t>>> runs;
  for (int workers : {0, 1, 4, 4}) {
    LoaderOptions lo;
    lo.batch_size = 3;
    lo.num_workers = workers;
    lo.prefetch = 2;
    lo.seed = 8;
    DataLoader loader(ds, lo);
    runs.push_back(epoch_bytes(loader, 2));
  }
  ASSERT_EQ(runs[0].size(), 4u * 11u);
  for (size_t r = 1; r < runs.size(); ++r) EXPECT_EQ(runs[r], runs[0]) << "run " << r;
  LoaderOptions lo;
  lo.batch_size = 3;
  lo.seed = 8;
  DataLoader loader(ds, lo);
  EXPECT_NE(epoch_bytes(loader, 3), runs[0]);
}

TEST(DataLoader, MissingImageIsRethrownNamingThePath) {
  TempDir dir("broken");
  DatasetOptions o;
  o.res = 16;
  const auto ds = noise_dataset(dir.path, 8, o);
  const std::string gone = (dir.path / "images/img_5.png").string();
  fs::remove(gone);
  EXPECT_NE(error_message([&] { ds->get(5, 0); }).find(gone), std::string::npos);
  EXPECT_THROW(ds->get(5, 0), IOError);
  EXPECT_THROW(ds->get(8, 0), IndexError);

  LoaderOptions lo;
  lo.batch_size = 2;
  lo.num_workers = 3;
  lo.shuffle = false;
  DataLoader loader(ds, lo);
  loader.start_epoch(0);
  for (int b = 0; b < 2; ++b) ASSERT_TRUE(loader.next());
  try {
    loader.next();  // batch 2 holds samples 4 and 5
    FAIL() << "expected an IOError";
  } catch (const IOError& e) {
    EXPECT_NE(std::string(e.what()).find(gone), std::string::npos) << e.what();
  }
  EXPECT_TRUE(loader.next());  // the other batches are unaffected
}

TEST(DataLoader, AbandoningAnEpochEarlyDoesNotHang) {
  TempDir dir("abandon");
  DatasetOptions o;
  o.res = 64;
  const auto ds = noise_dataset(dir.path, 40, o);
  LoaderOptions lo;
  lo.batch_size = 2;
  lo.num_workers = 4;
  lo.prefetch = 3;
  const auto start = std::chrono::steady_clock::now();
  {
    DataLoader loader(ds, lo);
    loader.start_epoch(0);
    ASSERT_TRUE(loader.next());
    loader.start_epoch(1);  // restart mid-epoch: the old workers stop, the new epoch begins
    ASSERT_TRUE(loader.next());
    EXPECT_EQ(loader.next()->index, 1);
  }  // destroyed with workers blocked on a full queue
  { DataLoader never_started(ds, lo); }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 20.0);
}

TEST(DataLoader, PinnedBatchesCopyToTheGpu) {
  if (hmr::cuda::device_count() == 0) GTEST_SKIP() << hmr::cuda::unavailable_reason();
  TempDir dir("pinned");
  DatasetOptions o;
  o.res = 24;
  const auto ds = noise_dataset(dir.path, 9, o);
  LoaderOptions lo;
  lo.batch_size = 4;
  lo.num_workers = 2;
  DataLoader loader(ds, lo);
  EXPECT_TRUE(loader.pinned());
  for (int64_t epoch = 0; epoch < 3; ++epoch) {  // later epochs reuse the pooled pinned blocks
    loader.start_epoch(epoch);
    while (auto b = loader.next()) {
      const Batch g = b->to(Device::cuda(0));
      EXPECT_TRUE(g.img.is_cuda());
      EXPECT_EQ(bytes_of(g.img.cpu()), bytes_of(b->img));
      EXPECT_EQ(bytes_of(g.sample_index.cpu()), bytes_of(b->sample_index));
      EXPECT_EQ(g.imgname, b->imgname);
    }
  }
}
