// SPIN's fits dictionary (methods doc §B4): for every training example the best SMPL fit seen
// so far, (72 axis-angle pose + 10 betas) per row, stored in the example's un-augmented frame.
// Reads apply the sample's augmentation (rotate the global orientation, then flip); writes
// apply the inverse. Saved as <dataset>_fits.npy (N, 82) f32, SPIN's file layout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hmr::train {

class FitsDict {
 public:
  FitsDict() = default;
  // One table per dataset; rows start at the mean pose and zero betas, marked as "no fit yet"
  // (score() of such a row is +inf so that the first in-loop fit always replaces it).
  FitsDict(const std::vector<std::string>& dataset_names, const std::vector<int64_t>& sizes);

  // Loads <dir>/<name>_fits.npy for each dataset that has one (SPIN's static fits); rows
  // loaded count as fits. ShapeError when a file's row count differs. Returns how many loaded.
  int64_t load_static(const std::string& dir);
  void save(const std::string& dir) const;  // atomic per file

  // (B, 72) pose and (B, 10) betas for the batch, in the augmented frame of each sample.
  // dataset, index (B,) I64; rot (B,) degrees, flip (B,) 0/1.
  std::pair<Tensor, Tensor> get(const Tensor& dataset, const Tensor& index, const Tensor& rot,
                                const Tensor& flip) const;
  // Whether each row holds a fit (B,) F32 0/1.
  Tensor has_fit(const Tensor& dataset, const Tensor& index) const;
  // Stores pose/betas (augmented frame) where update (B,) != 0, undoing the augmentation.
  void set(const Tensor& dataset, const Tensor& index, const Tensor& rot, const Tensor& flip,
           const Tensor& pose, const Tensor& betas, const Tensor& update);

  int64_t num_datasets() const { return static_cast<int64_t>(tables_.size()); }
  const Tensor& table(int64_t d) const { return tables_.at(static_cast<size_t>(d)); }

 private:
  std::vector<std::string> names_;
  std::vector<Tensor> tables_;                // (N_d, 82) F32 on the CPU
  std::vector<std::vector<uint8_t>> filled_;  // N_d flags
};

}  // namespace hmr::train
