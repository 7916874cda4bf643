// The training data loader: worker threads build whole batches of Samples (decode, crop,
// augment) ahead of the consumer, at most `prefetch` batches in flight, and hand them out in
// batch order, so the bytes depend on the seed only, never on the number of threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hmr/data/dataset.h"
#include "tensor/tensor.h"

namespace hmr::data {

class BufferPool;

// B samples stacked. Flags are F32 0/1 so losses can multiply by them; indices are I64.
struct Batch {
  Tensor img;            // (B, 3, R, R) F32
  Tensor keypoints;      // (B, 49, 3) F32
  Tensor pose;           // (B, 72) F32
  Tensor betas;          // (B, 10) F32
  Tensor pose_3d;        // (B, 24, 4) F32
  Tensor has_smpl;       // (B,) F32
  Tensor has_pose_3d;    // (B,) F32
  Tensor scale;          // (B,) F32
  Tensor center;         // (B, 2) F32
  Tensor orig_shape;     // (B, 2) I64 height, width
  Tensor is_flipped;     // (B,) F32
  Tensor rot_angle;      // (B,) F32 degrees
  Tensor focal_length;   // (B,) F32, 0 where unknown
  Tensor dataset_index;  // (B,) I64
  Tensor sample_index;   // (B,) I64
  std::vector<std::string> imgname;
  int64_t epoch = 0, index = 0;  // which batch of which epoch

  int64_t size() const { return img.defined() ? img.size(0) : 0; }
  // Every tensor copied to device (strings and counters kept). From pinned host memory the copy
  // is a plain DMA.
  Batch to(Device device) const;
};

// Stacks samples (all of one crop size) into a batch in ordinary host memory.
Batch collate(const std::vector<Sample>& samples);

struct LoaderOptions {
  int64_t batch_size = 64;
  int num_workers = 2;     // 0 builds each batch on the consumer's thread when asked
  int prefetch = 4;        // batches built ahead of the consumer (queue capacity), >= 1
  bool shuffle = true;     // a new permutation each epoch, from (seed, epoch)
  bool drop_last = true;   // drop the last, smaller batch
  bool pin_memory = true;  // page-locked batch buffers when a CUDA device is present
  uint64_t seed = 0;
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const SampleSource> source, LoaderOptions options);
  ~DataLoader();  // stops and joins the workers, even mid-epoch
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t num_batches() const;
  // Starts (or restarts) an epoch; the workers begin filling the queue at once.
  // first_batch > 0 skips the epoch's first batches without building them (exact resume).
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch of the current epoch in order; nullopt when the epoch is done. A worker's
  // exception is rethrown here (its message names the sample's image file).
  std::optional<Batch> next();
  // The sample order of an epoch (the identity without shuffle).
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  bool pinned() const { return pinned_; }

 private:
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };
  void worker_loop();
  Batch build_batch(int64_t batch_index) const;
  void stop_workers();

  std::shared_ptr<const SampleSource> source_;
  LoaderOptions options_;
  bool pinned_ = false;
  std::shared_ptr<BufferPool> pool_;

  // Epoch state, guarded by mutex_.
  std::mutex mutex_;
  std::condition_variable work_cv_, ready_cv_;
  std::vector<int64_t> order_;
  int64_t epoch_ = 0;
  int64_t next_claim_ = 0;  // next batch a worker may start
  int64_t next_out_ = 0;    // next batch the consumer takes
  int64_t num_batches_ = 0;
  std::map<int64_t, Slot> done_;
  std::atomic<bool> stopping_{false};  // also read between samples, without the lock
  bool started_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace hmr::data
