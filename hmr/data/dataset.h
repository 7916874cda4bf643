// Training samples of the HMR methods (SPIN's BaseDataset / MixedDataset): one annotated person
// crop decoded, cropped, augmented and normalised, deterministically from (seed, epoch, index)
// so the same run gives the same bytes whatever thread computes which sample.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "hmr/data/annotations.h"
#include "hmr/data/augment.h"
#include "tensor/tensor.h"

namespace hmr::data {

// ImageNet statistics, applied after scaling pixels to [0, 1] (SPIN's normalize_img).
constexpr std::array<float, 3> kImageNetMean = {0.485f, 0.456f, 0.406f};
constexpr std::array<float, 3> kImageNetStd = {0.229f, 0.224f, 0.225f};

// The keypoint set of a sample: 25 OpenPose detections then SPIN's 24 ground-truth joints.
constexpr int64_t kNumOpenposeJoints = 25;
constexpr int64_t kNumKeypoints = 49;

// One training example, as SPIN's BaseDataset.__getitem__ returns it. Missing annotations are
// zeros with the matching has_* flag 0, so a batch may mix datasets with different keys.
struct Sample {
  Tensor img;        // (3, R, R) F32, ImageNet-normalised RGB crop
  Tensor keypoints;  // (49, 3) F32 x, y in [-1, 1] of the crop, confidence (0 = absent)
  Tensor pose;       // (72,) F32 SMPL axis-angle, global orient rotated and flipped with the crop
  Tensor betas;      // (10,) F32
  Tensor pose_3d;    // (24, 4) F32 joints in metres (not centred: the loss centres them), visibility
  bool has_smpl = false;
  bool has_pose_3d = false;
  double scale = 0;                     // box side / 200 after the scale augmentation
  std::array<double, 2> center{};       // box centre in original pixels (after any jitter)
  std::array<int64_t, 2> orig_shape{};  // source image (height, width)
  bool is_flipped = false;
  double rot_angle = 0;       // degrees
  double focal_length = 0;    // source-image pixels when the annotation has "focal_length", else 0
  int64_t dataset_index = 0;  // which dataset of a MixedDataset (0 for a plain Dataset)
  int64_t sample_index = 0;   // row within its dataset
  std::string imgname;        // full path of the source image
};

// What the loader draws samples from: a Dataset or a MixedDataset.
class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual int64_t size() const = 0;
  // Deterministic for (the source's seed, epoch, index); safe to call from several threads.
  // img_out, when given, is a contiguous (3, R, R) F32 tensor the image is written into (the
  // loader passes its batch row, saving a copy); the sample's img is then that tensor.
  virtual Sample get(int64_t index, int64_t epoch, const Tensor& img_out) const = 0;
  Sample get(int64_t index, int64_t epoch) const { return get(index, epoch, Tensor()); }
  virtual int64_t res() const = 0;
};

struct DatasetOptions {
  int64_t res = 224;  // crop side (SPIN's IMG_RES)
  bool train = true;  // false: no augmentation (flip, rotation, scale, colour, jitter all off)
  AugmentConfig augment;
  uint64_t seed = 0;
  // Box-centre jitter, as a fraction of the box side: each coordinate moves by U(-t, t) * 200 *
  // scale. SPIN has none (0, the default); ProHMR-style training uses about 0.02.
  double translation_jitter = 0.0;
  // Decoded source images kept in memory while their total stays within this many bytes (0 =
  // no cache). Whole images, not crops: the crop changes with every epoch's augmentation.
  int64_t image_cache_bytes = 0;
};

// The augmentation parameters and centre actually used for sample `index` of `epoch`.
struct SampleGeometry {
  AugmentParams augment;
  std::array<double, 2> center{};
  double scale = 0;  // box scale times augment.scale
};

class Dataset : public SampleSource {
 public:
  // annotations as load_dataset_npz gives them; image paths are image_root / imgname[i].
  Dataset(std::string name, DatasetAnnotations annotations, std::string image_root, DatasetOptions options);

  int64_t size() const override { return static_cast<int64_t>(rows_.size()); }
  using SampleSource::get;
  Sample get(int64_t index, int64_t epoch, const Tensor& img_out) const override;
  int64_t res() const override { return options_.res; }

  SampleGeometry geometry(int64_t index, int64_t epoch) const;
  std::string image_path(int64_t index) const;
  const std::string& name() const { return name_; }
  const DatasetOptions& options() const { return options_; }
  int64_t cached_bytes() const;

 private:
  struct Row {  // the annotations of one sample, on the host, in SPIN's layout
    std::array<float, kNumKeypoints * 3> keypoints{};
    std::array<float, 72> pose{};
    std::array<float, 10> betas{};
    std::array<float, 24 * 4> S{};
    std::array<double, 2> center{};
    double scale = 0, focal_length = 0;
    bool has_smpl = false, has_pose_3d = false;
  };
  Tensor load_image(int64_t index) const;
  Sample make_sample(int64_t index, int64_t epoch, const Tensor& img_out) const;

  std::string name_, image_root_;
  std::vector<std::string> imgname_;
  std::vector<Row> rows_;
  DatasetOptions options_;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<int64_t, Tensor> cache_;
  mutable int64_t cache_bytes_ = 0;
};

// Several datasets drawn with fixed probabilities (SPIN's MixedDataset: e.g. 30% 2D-only,
// 60% with 3D, 10% in-the-wild SMPL). Training mode: size() is the largest dataset's size;
// index i of an epoch picks dataset k by a Philox draw from (seed, epoch, i) and then row
// i mod size(k), as SPIN does (a row that comes round again in the same epoch gets a fresh
// augmentation). Sequential mode (eval): the datasets one after the other.
class MixedDataset : public SampleSource {
 public:
  MixedDataset(std::vector<std::shared_ptr<const Dataset>> datasets, std::vector<double> probabilities,
               uint64_t seed);
  // Eval mode: the datasets one after the other; probabilities() reports each one's share.
  struct Sequential {};
  MixedDataset(Sequential, std::vector<std::shared_ptr<const Dataset>> datasets);
  static std::shared_ptr<MixedDataset> sequential(std::vector<std::shared_ptr<const Dataset>> datasets);

  int64_t size() const override { return size_; }
  using SampleSource::get;
  Sample get(int64_t index, int64_t epoch, const Tensor& img_out) const override;
  int64_t res() const override { return datasets_.front()->res(); }

  // (dataset, row) of index in epoch.
  std::pair<int64_t, int64_t> locate(int64_t index, int64_t epoch) const;
  const std::vector<double>& probabilities() const { return probabilities_; }

 private:
  std::vector<std::shared_ptr<const Dataset>> datasets_;
  std::vector<double> probabilities_, cumulative_;
  std::vector<int64_t> offsets_;  // sequential mode: first index of each dataset
  bool sequential_ = false;
  uint64_t seed_ = 0;
  int64_t size_ = 0;
};

// A 64-bit key from (seed, a, b) (splitmix64 rounds): the Philox key of one epoch's draws.
uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b = 0);

}  // namespace hmr::data
