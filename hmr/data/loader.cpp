// DataLoader (see loader.h). Each worker claims the next batch index, builds all of its samples
// and files the result under that index; the consumer takes index after index, so the order of
// completion never shows. Batch memory is one block per batch, recycled through a pool (pinned
// when CUDA is present: cudaMallocHost is far too slow to call per batch; and fresh host blocks
// of this size would cost page faults on every batch), and images are cropped straight into it.
#include "hmr/data/loader.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <numeric>

#include "tensor/cuda_context.h"
#include "tensor/error.h"
#include "tensor/philox.h"

namespace hmr::data {

// Host blocks (page-locked or plain) handed out as storages whose deleter returns the block for
// reuse. The pool lives as long as any batch built from it (each lease holds a reference).
class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  BufferPool(bool pinned, size_t max_free) : pinned_(pinned), max_free_(max_free) {}

  Storage acquire(int64_t nbytes) {
    Storage block;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it =
          std::find_if(free_.begin(), free_.end(), [&](const Storage& s) { return s->nbytes() >= nbytes; });
      if (it != free_.end()) {
        block = std::move(*it);
        free_.erase(it);
      }
    }
    if (!block) block = pinned_ ? cuda::allocate_pinned(nbytes) : allocate_storage(nbytes, Device::cpu());
    void* data = block->data();
    auto lease = std::make_unique<Lease>(Lease{shared_from_this(), std::move(block)});
    // The storage's deleter owns the lease from here on (see give_back).
    return wrap_storage(data, nbytes, Device::cpu(), &BufferPool::give_back, lease.release());
  }

 private:
  struct Lease {
    std::shared_ptr<BufferPool> pool;
    Storage block;
  };
  static void give_back(void*, void* ctx) {
    std::unique_ptr<Lease> lease(static_cast<Lease*>(ctx));
    std::lock_guard<std::mutex> lock(lease->pool->mutex_);
    if (lease->pool->free_.size() < lease->pool->max_free_)
      lease->pool->free_.push_back(std::move(lease->block));
  }
  const bool pinned_;
  const size_t max_free_;
  std::mutex mutex_;
  std::vector<Storage> free_;
};

namespace {

// Assigns 64-byte aligned byte offsets to the batch fields, then views them in one storage.
class BatchLayout {
 public:
  void add(Tensor* field, Shape sizes, DType dtype) {
    fields_.push_back({field, std::move(sizes), dtype, bytes_});
    bytes_ += (shape_numel(fields_.back().sizes) * itemsize(dtype) + 63) / 64 * 64;
  }
  int64_t bytes() const { return std::max<int64_t>(bytes_, 64); }
  void bind(const Storage& storage) const {
    for (const Field& f : fields_)
      *f.field = Tensor::make_view(storage, f.sizes, contiguous_strides(f.sizes),
                                   f.offset / itemsize(f.dtype), f.dtype);
  }

 private:
  struct Field {
    Tensor* field;
    Shape sizes;
    DType dtype;
    int64_t offset;
  };
  std::vector<Field> fields_;
  int64_t bytes_ = 0;
};

// A batch of B rows of R x R crops in one block from allocate, fields uninitialised.
Batch allocate_batch(int64_t B, int64_t R, const std::function<Storage(int64_t)>& allocate) {
  Batch b;
  BatchLayout layout;
  layout.add(&b.img, {B, 3, R, R}, DType::F32);
  layout.add(&b.keypoints, {B, kNumKeypoints, 3}, DType::F32);
  layout.add(&b.pose, {B, 72}, DType::F32);
  layout.add(&b.betas, {B, 10}, DType::F32);
  layout.add(&b.pose_3d, {B, 24, 4}, DType::F32);
  for (Tensor* t : {&b.has_smpl, &b.has_pose_3d, &b.scale, &b.is_flipped, &b.rot_angle, &b.focal_length})
    layout.add(t, {B}, DType::F32);
  layout.add(&b.center, {B, 2}, DType::F32);
  layout.add(&b.orig_shape, {B, 2}, DType::I64);
  layout.add(&b.dataset_index, {B}, DType::I64);
  layout.add(&b.sample_index, {B}, DType::I64);
  layout.bind(allocate(layout.bytes()));
  b.imgname.resize(static_cast<size_t>(B));
  return b;
}

// Row i of b from s (the image is skipped when s.img already is that row).
void fill_row(Batch& b, int64_t i, const Sample& s) {
  auto copy_row = [&](const Tensor& dst, const Tensor& src) {
    const int64_t row = dst.numel() / dst.size(0);
    HMR_CHECK(src.numel() == row && src.dtype() == DType::F32, ShapeError, "collate: sample ", i, " has a ",
              src.shape_str(), " ", src.dtype(), " field where the batch expects ", row, " F32 values");
    const Tensor c = src.contiguous();
    float* d = dst.data<float>() + i * row;
    if (c.data<float>() != d) std::memcpy(d, c.data<float>(), static_cast<size_t>(row) * sizeof(float));
  };
  copy_row(b.img, s.img);
  copy_row(b.keypoints, s.keypoints);
  copy_row(b.pose, s.pose);
  copy_row(b.betas, s.betas);
  copy_row(b.pose_3d, s.pose_3d);
  b.has_smpl.data<float>()[i] = s.has_smpl ? 1.f : 0.f;
  b.has_pose_3d.data<float>()[i] = s.has_pose_3d ? 1.f : 0.f;
  b.scale.data<float>()[i] = static_cast<float>(s.scale);
  b.is_flipped.data<float>()[i] = s.is_flipped ? 1.f : 0.f;
  b.rot_angle.data<float>()[i] = static_cast<float>(s.rot_angle);
  b.focal_length.data<float>()[i] = static_cast<float>(s.focal_length);
  b.center.data<float>()[2 * i] = static_cast<float>(s.center[0]);
  b.center.data<float>()[2 * i + 1] = static_cast<float>(s.center[1]);
  b.orig_shape.data<int64_t>()[2 * i] = s.orig_shape[0];
  b.orig_shape.data<int64_t>()[2 * i + 1] = s.orig_shape[1];
  b.dataset_index.data<int64_t>()[i] = s.dataset_index;
  b.sample_index.data<int64_t>()[i] = s.sample_index;
  b.imgname[static_cast<size_t>(i)] = s.imgname;
}

// Thrown inside a worker to abandon a batch when the loader stops; never leaves the loader.
struct Cancelled {};

}  // namespace

Batch collate(const std::vector<Sample>& samples) {
  HMR_CHECK(!samples.empty(), ValueError, "collate: no samples");
  const int64_t B = static_cast<int64_t>(samples.size());
  Batch b =
      allocate_batch(B, samples[0].img.size(1), [](int64_t n) { return allocate_storage(n, Device::cpu()); });
  for (int64_t i = 0; i < B; ++i) fill_row(b, i, samples[static_cast<size_t>(i)]);
  return b;
}

Batch Batch::to(Device device) const {
  Batch b = *this;
  for (Tensor* t :
       {&b.img, &b.keypoints, &b.pose, &b.betas, &b.pose_3d, &b.has_smpl, &b.has_pose_3d, &b.scale, &b.center,
        &b.orig_shape, &b.is_flipped, &b.rot_angle, &b.focal_length, &b.dataset_index, &b.sample_index})
    if (t->defined()) *t = t->to(device);
  return b;
}

// ---- DataLoader ------------------------------------------------------------------------------

DataLoader::DataLoader(std::shared_ptr<const SampleSource> source, LoaderOptions options)
    : source_(std::move(source)), options_(options) {
  HMR_CHECK(source_ != nullptr, ValueError, "DataLoader: source is null");
  HMR_CHECK(options_.batch_size > 0 && options_.num_workers >= 0 && options_.prefetch >= 1, ValueError,
            "DataLoader: expected batch_size > 0, num_workers >= 0, prefetch >= 1 but found ",
            options_.batch_size, ", ", options_.num_workers, ", ", options_.prefetch);
  HMR_CHECK(source_->size() >= options_.batch_size || !options_.drop_last, ValueError,
            "DataLoader: ", source_->size(), " samples make no full batch of ", options_.batch_size,
            " with drop_last");
  pinned_ = options_.pin_memory && cuda::is_available();
  // Blocks in circulation: the prefetched batches, one per busy worker, two held by the consumer.
  pool_ = std::make_shared<BufferPool>(pinned_,
                                       static_cast<size_t>(options_.prefetch + options_.num_workers + 2));
}

DataLoader::~DataLoader() { stop_workers(); }

int64_t DataLoader::num_batches() const {
  const int64_t n = source_->size(), B = options_.batch_size;
  return options_.drop_last ? n / B : (n + B - 1) / B;
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(source_->size()));
  std::iota(order.begin(), order.end(), 0);
  if (!options_.shuffle) return order;
  // Fisher-Yates with one Philox block per swap (the 64-bit draw's modulo bias is < 2^-40 here).
  const uint64_t key = derive_seed(options_.seed, static_cast<uint64_t>(epoch), 3);
  for (size_t i = order.size(); i > 1; --i) {
    const Philox4x32 w = philox4x32(key, i);
    const uint64_t r = (static_cast<uint64_t>(w.v[0]) << 32) | w.v[1];
    std::swap(order[i - 1], order[static_cast<size_t>(r % i)]);
  }
  return order;
}

void DataLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

void DataLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  stop_workers();
  order_ = epoch_order(epoch);
  epoch_ = epoch;
  num_batches_ = num_batches();
  HMR_CHECK(first_batch >= 0 && first_batch <= num_batches_, IndexError, "DataLoader::start_epoch: first_batch ",
            first_batch, " outside [0, ", num_batches_, "]");
  next_claim_ = next_out_ = first_batch;
  done_.clear();
  stopping_ = false;
  started_ = true;
  for (int w = 0; w < options_.num_workers; ++w) workers_.emplace_back([this] { worker_loop(); });
}

void DataLoader::worker_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [&] {
      return stopping_.load() || (next_claim_ < num_batches_ && next_claim_ < next_out_ + options_.prefetch);
    });
    if (stopping_) return;
    const int64_t b = next_claim_++;
    lock.unlock();
    Slot slot;
    try {
      slot.batch = build_batch(b);
    } catch (const Cancelled&) {
      return;
    } catch (...) {
      slot.error = std::current_exception();
    }
    lock.lock();
    done_[b] = std::move(slot);
    ready_cv_.notify_all();
  }
}

Batch DataLoader::build_batch(int64_t batch_index) const {
  const int64_t n = static_cast<int64_t>(order_.size());
  const int64_t begin = batch_index * options_.batch_size, end = std::min(n, begin + options_.batch_size);
  Batch b =
      allocate_batch(end - begin, source_->res(), [this](int64_t bytes) { return pool_->acquire(bytes); });
  for (int64_t i = 0; i < end - begin; ++i) {
    if (stopping_) throw Cancelled{};
    fill_row(b, i, source_->get(order_[static_cast<size_t>(begin + i)], epoch_, b.img[i]));
  }
  b.epoch = epoch_;
  b.index = batch_index;
  return b;
}

std::optional<Batch> DataLoader::next() {
  HMR_CHECK(started_, ValueError, "DataLoader::next: call start_epoch(epoch) first");
  if (next_out_ >= num_batches_) return std::nullopt;
  if (workers_.empty()) return build_batch(next_out_++);
  std::unique_lock<std::mutex> lock(mutex_);
  ready_cv_.wait(lock, [&] { return done_.count(next_out_) != 0; });
  Slot slot = std::move(done_.at(next_out_));
  done_.erase(next_out_);
  ++next_out_;
  lock.unlock();
  work_cv_.notify_all();
  if (slot.error) std::rethrow_exception(slot.error);
  return std::move(slot.batch);
}

}  // namespace hmr::data
