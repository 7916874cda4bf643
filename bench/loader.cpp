// The training data loader's throughput in images per second: 224 x 224 crops with SPIN's
// augmentation from 640 x 480 JPEGs (about COCO's size), 1 and 2 worker threads, with the
// decoded-image cache off and on (cache on: every source image decoded once, so the figure is
// crop + augment + collate alone). The set is written to a temp folder when the program starts.
#include "hmr/data/loader.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench/common.h"
#include "hmr/data/dataset.h"
#include "io/image.h"

namespace hmr::bench {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kImages = 64, kHeight = 480, kWidth = 640, kBatch = 32, kRes = 224;

// Smooth colour ramps plus mild noise: compresses about like a photo (~10:1), unlike pure noise.
data::DatasetAnnotations write_set(const fs::path& root) {
  fs::create_directories(root / "images");
  std::mt19937 rng(0);
  std::normal_distribution<double> noise(0, 6);
  data::DatasetAnnotations a;
  std::vector<float> center, scale;
  for (int64_t i = 0; i < kImages; ++i) {
    std::vector<uint8_t> px(static_cast<size_t>(kHeight * kWidth * 3));
    for (int64_t y = 0; y < kHeight; ++y)
      for (int64_t x = 0; x < kWidth; ++x)
        for (int64_t c = 0; c < 3; ++c) {
          const double v = 128 +
                           90 * std::sin(0.013 * static_cast<double>(x * (c + 1) + y * (i % 5 + 1)) + i) +
                           noise(rng);
          px[static_cast<size_t>((y * kWidth + x) * 3 + c)] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
        }
    const std::string name = "images/" + std::to_string(i) + ".jpg";
    io::write_jpeg((root / name).string(), Tensor::from_vector<uint8_t>(px, {kHeight, kWidth, 3}), 90);
    a.imgname.push_back(name);
    center.insert(center.end(),
                  {320.f + static_cast<float>(i % 7) * 5, 240.f - static_cast<float>(i % 3) * 7});
    scale.push_back(1.6f + 0.1f * static_cast<float>(i % 4));  // a 320-380 px person box
  }
  a.center = Tensor::from_vector<float>(center, {kImages, 2});
  a.scale = Tensor::from_vector<float>(scale, {kImages});
  return a;
}

struct BenchSet {
  fs::path root = fs::temp_directory_path() / ("hmr_bench_loader_" + std::to_string(::getpid()));
  data::DatasetAnnotations annotations = write_set(root);
  ~BenchSet() { fs::remove_all(root); }
};

// CPU seconds of the whole process (all threads): on a shared machine the wall-clock rate
// depends on the neighbours, the CPU cost per image does not.
double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

BenchSet& bench_set() {
  static BenchSet set;
  return set;
}

void images_per_second(benchmark::State& state, int workers, bool cache) {
  data::DatasetOptions o;
  o.res = kRes;
  o.image_cache_bytes = cache ? int64_t{1} << 30 : 0;
  auto dataset =
      std::make_shared<data::Dataset>("bench", bench_set().annotations, bench_set().root.string(), o);
  data::LoaderOptions lo;
  lo.batch_size = kBatch;
  lo.num_workers = workers;
  data::DataLoader loader(dataset, lo);
  int64_t epoch = 0;
  loader.start_epoch(epoch);
  auto next_batch = [&] {
    std::optional<data::Batch> b = loader.next();
    if (!b) {
      loader.start_epoch(++epoch);
      b = loader.next();
    }
    return b->size();
  };
  if (cache)  // fill the cache first: the cached figure is the steady state of epoch 2 onwards
    for (int64_t i = 0; i < kImages / kBatch; ++i) next_batch();
  int64_t images = 0;
  const double cpu_start = process_cpu_seconds();
  for (auto _ : state) images += next_batch();
  state.SetItemsProcessed(images);
  state.counters["cpu_ms_per_img"] = 1e3 * (process_cpu_seconds() - cpu_start) / static_cast<double>(images);
}

void register_cases() {
  for (int workers : {1, 2})
    for (bool cache : {false, true})
      benchmark::RegisterBenchmark(
          ("loader_224/workers" + std::to_string(workers) + (cache ? "/cache" : "/decode")).c_str(),
          images_per_second, workers, cache)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace hmr::bench

HMR_BENCH_MAIN(hmr::bench::register_cases)
