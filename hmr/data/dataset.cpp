// Dataset and MixedDataset (see dataset.h): annotation rows copied to the host once, then per
// sample: decode (or take from the image cache), crop with the sampled augmentation, colour
// noise and ImageNet normalisation, and the matching keypoint / joint / pose transforms.
#include "hmr/data/dataset.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "io/image.h"
#include "tensor/error.h"
#include "tensor/philox.h"

namespace hmr::data {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The rows of an optional (N, ...) annotation as floats, or empty when absent.
std::vector<float> host_floats(const std::optional<Tensor>& t) {
  return t ? t->to(DType::F32).to_vector<float>() : std::vector<float>();
}

// Rethrows the exception in flight as the same hmr error type with context prepended, so a
// worker's failure tells which file broke without losing the type callers catch.
[[noreturn]] void rethrow_with_context(const std::string& context) {
  try {
    throw;
  } catch (const IOError& e) {
    throw IOError(context + e.what());
  } catch (const ShapeError& e) {
    throw ShapeError(context + e.what());
  } catch (const DTypeError& e) {
    throw DTypeError(context + e.what());
  } catch (const ValueError& e) {
    throw ValueError(context + e.what());
  } catch (const IndexError& e) {
    throw IndexError(context + e.what());
  } catch (const std::exception& e) {
    throw Error(context + e.what());
  }
}

Tensor from_floats(const float* data, const Shape& sizes) {
  return Tensor::from_host(data, sizes, DType::F32);
}

}  // namespace

uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b) {
  return splitmix64(splitmix64(splitmix64(seed) ^ a) ^ b);
}

// ---- Dataset ---------------------------------------------------------------------------------

Dataset::Dataset(std::string name, DatasetAnnotations a, std::string image_root, DatasetOptions options)
    : name_(std::move(name)),
      image_root_(std::move(image_root)),
      imgname_(std::move(a.imgname)),
      options_(options) {
  HMR_CHECK(options_.res > 0, ValueError, "Dataset '", name_, "': res must be positive but is ",
            options_.res);
  HMR_CHECK(options_.translation_jitter >= 0 && options_.image_cache_bytes >= 0, ValueError, "Dataset '",
            name_, "': translation_jitter and image_cache_bytes must be >= 0 but are ",
            options_.translation_jitter, " and ", options_.image_cache_bytes);
  const int64_t n = static_cast<int64_t>(imgname_.size());
  HMR_CHECK(n > 0, ValueError, "Dataset '", name_, "': no samples");
  const std::vector<float> center = a.center.to(DType::F32).to_vector<float>();
  const std::vector<float> scale = a.scale.to(DType::F32).to_vector<float>();
  const std::vector<float> part = host_floats(a.part), openpose = host_floats(a.openpose),
                           S = host_floats(a.S), pose = host_floats(a.pose), shape = host_floats(a.shape),
                           has_smpl = host_floats(a.has_smpl);
  const Tensor* focal = a.extra.find("focal_length");
  const std::vector<float> focal_length = focal && focal->dim() == 1 && focal->size(0) == n
                                              ? focal->to(DType::F32).to_vector<float>()
                                              : std::vector<float>();

  rows_.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    Row& r = rows_[static_cast<size_t>(i)];
    r.center = {center[static_cast<size_t>(2 * i)], center[static_cast<size_t>(2 * i + 1)]};
    r.scale = scale[static_cast<size_t>(i)];
    // SPIN's keypoint set: OpenPose's 25 first, the 24 ground-truth joints after; absent = 0.
    if (!openpose.empty())
      std::copy_n(openpose.begin() + i * kNumOpenposeJoints * 3, kNumOpenposeJoints * 3, r.keypoints.begin());
    if (!part.empty())
      std::copy_n(part.begin() + i * 24 * 3, 24 * 3, r.keypoints.begin() + kNumOpenposeJoints * 3);
    r.has_smpl =
        !pose.empty() && !shape.empty() && (has_smpl.empty() || has_smpl[static_cast<size_t>(i)] > 0);
    if (!pose.empty()) std::copy_n(pose.begin() + i * 72, 72, r.pose.begin());
    if (!shape.empty()) std::copy_n(shape.begin() + i * 10, 10, r.betas.begin());
    if (!r.has_smpl) {  // SPIN hands out zeros when the fit is not ground truth
      r.pose.fill(0.f);
      r.betas.fill(0.f);
    }
    r.has_pose_3d = !S.empty();
    if (r.has_pose_3d) std::copy_n(S.begin() + i * 24 * 4, 24 * 4, r.S.begin());
    if (!focal_length.empty()) r.focal_length = focal_length[static_cast<size_t>(i)];
  }
}

std::string Dataset::image_path(int64_t index) const {
  return (std::filesystem::path(image_root_) / imgname_[static_cast<size_t>(index)]).string();
}

int64_t Dataset::cached_bytes() const {
  std::lock_guard<std::mutex> lock(cache_mutex_);
  return cache_bytes_;
}

Tensor Dataset::load_image(int64_t index) const {
  if (options_.image_cache_bytes > 0) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(index);
    if (it != cache_.end()) return it->second;
  }
  Tensor image = io::read_image(image_path(index), 3);
  if (options_.image_cache_bytes > 0) {
    // First come, first kept: once the budget is full the rest are decoded every time.
    std::lock_guard<std::mutex> lock(cache_mutex_);
    const int64_t bytes = image.numel();
    if (cache_bytes_ + bytes <= options_.image_cache_bytes && cache_.emplace(index, image).second)
      cache_bytes_ += bytes;
  }
  return image;
}

SampleGeometry Dataset::geometry(int64_t index, int64_t epoch) const {
  const Row& r = rows_[static_cast<size_t>(index)];
  SampleGeometry g;
  g.center = r.center;
  g.scale = r.scale;
  if (!options_.train) return g;
  g.augment = sample_augment(options_.augment, derive_seed(options_.seed, static_cast<uint64_t>(epoch), 0),
                             static_cast<uint64_t>(index));
  g.scale = r.scale * g.augment.scale;
  if (options_.translation_jitter > 0) {
    const Philox4x32 w =
        philox4x32(derive_seed(options_.seed, static_cast<uint64_t>(epoch), 1), static_cast<uint64_t>(index));
    const double box = 200.0 * r.scale, t = options_.translation_jitter;
    g.center[0] += (2 * philox_uniform_double(w.v[0], w.v[1]) - 1) * t * box;
    g.center[1] += (2 * philox_uniform_double(w.v[2], w.v[3]) - 1) * t * box;
  }
  return g;
}

Sample Dataset::get(int64_t index, int64_t epoch, const Tensor& img_out) const {
  HMR_CHECK(index >= 0 && index < size(), IndexError, "Dataset '", name_, "': index ", index,
            " out of range [0, ", size(), ")");
  try {
    return make_sample(index, epoch, img_out);
  } catch (...) {
    rethrow_with_context(str("Dataset '", name_, "' sample ", index, " (", image_path(index), "): "));
  }
}

Sample Dataset::make_sample(int64_t index, int64_t epoch, const Tensor& img_out) const {
  const Row& r = rows_[static_cast<size_t>(index)];
  const SampleGeometry g = geometry(index, epoch);
  const AugmentParams& p = g.augment;
  const int64_t R = options_.res;

  Sample s;
  s.imgname = image_path(index);
  const Tensor image = load_image(index);
  s.orig_shape = {image.size(0), image.size(1)};
  const Tensor crop = crop_image(image, g.center[0], g.center[1], g.scale, R, p.rot, p.flip);  // (R, R, 3) U8

  // SPIN's rgb_processing after the crop: colour noise clipped at 255, then /255, then the
  // ImageNet normalisation, written channels-first.
  if (img_out.defined()) {
    HMR_CHECK(img_out.sizes() == Shape({3, R, R}) && img_out.dtype() == DType::F32 &&
                  img_out.is_contiguous() && !img_out.is_cuda(),
              ShapeError, "Dataset::get: img_out must be a contiguous CPU F32 [3, ", R, ", ", R,
              "] tensor but is ", img_out.shape_str(), " ", img_out.dtype());
    s.img = img_out;
  } else {
    s.img = Tensor::empty({3, R, R}, DType::F32);
  }
  const uint8_t* in = crop.data<uint8_t>();
  float* out = s.img.data<float>();
  for (int c = 0; c < 3; ++c) {
    const float gain = static_cast<float>(p.color[static_cast<size_t>(c)]) / 255.f;
    const float mean = kImageNetMean[static_cast<size_t>(c)],
                inv_std = 1.f / kImageNetStd[static_cast<size_t>(c)];
    float* plane = out + c * R * R;
    for (int64_t i = 0; i < R * R; ++i) plane[i] = (std::min(in[i * 3 + c] * gain, 1.f) - mean) * inv_std;
  }

  s.keypoints = process_keypoints_2d(from_floats(r.keypoints.data(), {kNumKeypoints, 3}), g.center[0],
                                     g.center[1], g.scale, R, p.rot, p.flip);
  // Without a fit the pose stays all zeros (SPIN would rotate the zero root into a non-zero one;
  // the loss masks it out either way, and zeros are easier to recognise).
  s.pose = r.has_smpl ? process_pose(from_floats(r.pose.data(), {72}), p.rot, p.flip)
                      : Tensor::from_vector(std::vector<float>(72, 0.f), {72});
  s.betas = from_floats(r.betas.data(), {10});
  s.pose_3d = process_joints_3d(from_floats(r.S.data(), {24, 4}), p.rot, p.flip);
  s.has_smpl = r.has_smpl;
  s.has_pose_3d = r.has_pose_3d;
  s.scale = g.scale;
  s.center = g.center;
  s.is_flipped = p.flip;
  s.rot_angle = p.rot;
  s.focal_length = r.focal_length;
  s.sample_index = index;
  return s;
}

// ---- MixedDataset ----------------------------------------------------------------------------

MixedDataset::MixedDataset(std::vector<std::shared_ptr<const Dataset>> datasets,
                           std::vector<double> probabilities, uint64_t seed)
    : datasets_(std::move(datasets)), probabilities_(std::move(probabilities)), seed_(seed) {
  HMR_CHECK(!datasets_.empty() && datasets_.size() == probabilities_.size(), ValueError,
            "MixedDataset: expected one probability per dataset but found ", datasets_.size(),
            " datasets and ", probabilities_.size(), " probabilities");
  double total = 0;
  for (size_t k = 0; k < datasets_.size(); ++k) {
    HMR_CHECK(datasets_[k] != nullptr, ValueError, "MixedDataset: dataset ", k, " is null");
    HMR_CHECK(probabilities_[k] >= 0 && std::isfinite(probabilities_[k]), ValueError,
              "MixedDataset: probabilities must be finite and >= 0 but found ", probabilities_);
    HMR_CHECK(datasets_[k]->res() == datasets_[0]->res(), ValueError,
              "MixedDataset: all datasets need one crop size but '", datasets_[k]->name(), "' has ",
              datasets_[k]->res(), " and '", datasets_[0]->name(), "' ", datasets_[0]->res());
    total += probabilities_[k];
    size_ = std::max(size_, datasets_[k]->size());
  }
  HMR_CHECK(total > 0, ValueError, "MixedDataset: probabilities sum to 0: ", probabilities_);
  double running = 0;
  for (double& p : probabilities_) {
    p /= total;
    running += p;
    cumulative_.push_back(running);
  }
  cumulative_.back() = 1.0;  // no index may fall past the end by rounding
}

MixedDataset::MixedDataset(Sequential, std::vector<std::shared_ptr<const Dataset>> datasets)
    : datasets_(std::move(datasets)), sequential_(true) {
  HMR_CHECK(!datasets_.empty(), ValueError, "MixedDataset::sequential: no datasets");
  for (const auto& d : datasets_) {
    HMR_CHECK(d != nullptr, ValueError, "MixedDataset::sequential: a dataset is null");
    HMR_CHECK(d->res() == datasets_[0]->res(), ValueError,
              "MixedDataset::sequential: all datasets need one crop size but '", d->name(), "' has ",
              d->res(), " and '", datasets_[0]->name(), "' ", datasets_[0]->res());
    offsets_.push_back(size_);
    size_ += d->size();
  }
  for (const auto& d : datasets_)
    probabilities_.push_back(static_cast<double>(d->size()) / static_cast<double>(size_));
}

std::shared_ptr<MixedDataset> MixedDataset::sequential(std::vector<std::shared_ptr<const Dataset>> datasets) {
  return std::make_shared<MixedDataset>(Sequential{}, std::move(datasets));
}

std::pair<int64_t, int64_t> MixedDataset::locate(int64_t index, int64_t epoch) const {
  HMR_CHECK(index >= 0 && index < size_, IndexError, "MixedDataset: index ", index, " out of range [0, ",
            size_, ")");
  if (sequential_) {
    const auto k =
        static_cast<int64_t>(std::upper_bound(offsets_.begin(), offsets_.end(), index) - offsets_.begin()) -
        1;
    return {k, index - offsets_[static_cast<size_t>(k)]};
  }
  const Philox4x32 w =
      philox4x32(derive_seed(seed_, static_cast<uint64_t>(epoch), 2), static_cast<uint64_t>(index));
  const double u = philox_uniform_double(w.v[0], w.v[1]);
  const auto k =
      static_cast<int64_t>(std::upper_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin());
  return {k, index % datasets_[static_cast<size_t>(k)]->size()};
}

Sample MixedDataset::get(int64_t index, int64_t epoch, const Tensor& img_out) const {
  const auto [k, row] = locate(index, epoch);
  const Dataset& d = *datasets_[static_cast<size_t>(k)];
  // A smaller dataset's rows come round several times an epoch ("laps" of i mod size); each lap
  // gets its own augmentation by asking for a distinct inner epoch (epoch * laps + lap).
  const int64_t laps = (size_ + d.size() - 1) / d.size();
  const int64_t inner_epoch = sequential_ ? epoch : epoch * laps + index / d.size();
  Sample s = d.get(row, inner_epoch, img_out);
  s.dataset_index = k;
  return s;
}

}  // namespace hmr::data
