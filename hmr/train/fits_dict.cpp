// SPIN's fits dictionary (see fits_dict.h). Host code: the batch is small and the transforms
// are per-sample axis-angle manipulations.
#include "hmr/train/fits_dict.h"

#include <filesystem>

#include "autograd/ops.h"
#include "hmr/data/augment.h"
#include "io/npy.h"
#include "tensor/error.h"

namespace hmr::train {

namespace {

std::vector<int64_t> as_i64(const Tensor& t) {
  Tensor c = t.to(Device::cpu(), DType::I64).contiguous();
  return std::vector<int64_t>(c.data<int64_t>(), c.data<int64_t>() + c.numel());
}
std::vector<double> as_f64(const Tensor& t) {
  Tensor c = t.to(Device::cpu(), DType::F64).contiguous();
  return std::vector<double>(c.data<double>(), c.data<double>() + c.numel());
}

}  // namespace

FitsDict::FitsDict(const std::vector<std::string>& dataset_names, const std::vector<int64_t>& sizes)
    : names_(dataset_names) {
  HMR_CHECK(dataset_names.size() == sizes.size(), ValueError, "FitsDict: ", dataset_names.size(),
            " names but ", sizes.size(), " sizes");
  for (int64_t n : sizes) {
    tables_.push_back(zeros({n, 82}));
    filled_.emplace_back(static_cast<size_t>(n), uint8_t{0});
  }
}

int64_t FitsDict::load_static(const std::string& dir) {
  int64_t loaded = 0;
  for (size_t d = 0; d < names_.size(); ++d) {
    const std::string path = (std::filesystem::path(dir) / (names_[d] + "_fits.npy")).string();
    if (!std::filesystem::exists(path)) continue;
    Tensor t = io::load_npy(path).to(DType::F32).contiguous();
    HMR_CHECK(t.dim() == 2 && t.size(1) == 82 && t.size(0) == tables_[d].size(0), ShapeError,
              "FitsDict: ", path, " has shape ", t.shape_str(), "; expected (", tables_[d].size(0),
              ", 82) for dataset '", names_[d], "'");
    tables_[d] = t;
    std::fill(filled_[d].begin(), filled_[d].end(), uint8_t{1});
    ++loaded;
  }
  return loaded;
}

void FitsDict::save(const std::string& dir) const {
  std::filesystem::create_directories(dir);
  for (size_t d = 0; d < names_.size(); ++d)
    io::save_npy((std::filesystem::path(dir) / (names_[d] + "_fits.npy")).string(), tables_[d]);
}

std::pair<Tensor, Tensor> FitsDict::get(const Tensor& dataset, const Tensor& index, const Tensor& rot,
                                        const Tensor& flip) const {
  const auto ds = as_i64(dataset), ix = as_i64(index);
  const auto r = as_f64(rot), f = as_f64(flip);
  const int64_t b = static_cast<int64_t>(ds.size());
  HMR_CHECK(static_cast<int64_t>(ix.size()) == b && static_cast<int64_t>(r.size()) == b &&
                static_cast<int64_t>(f.size()) == b,
            ShapeError, "FitsDict::get: dataset, index, rot and flip must all have ", b, " entries");
  Tensor pose = empty({b, 72}), betas = empty({b, 10});
  for (int64_t i = 0; i < b; ++i) {
    HMR_CHECK(ds[i] >= 0 && ds[i] < num_datasets(), IndexError, "FitsDict::get: dataset ", ds[i],
              " out of range [0, ", num_datasets(), ")");
    const Tensor& table = tables_[static_cast<size_t>(ds[i])];
    HMR_CHECK(ix[i] >= 0 && ix[i] < table.size(0), IndexError, "FitsDict::get: index ", ix[i],
              " out of range [0, ", table.size(0), ") of dataset '", names_[static_cast<size_t>(ds[i])], "'");
    const float* row = table.data<float>() + ix[i] * 82;
    Tensor p = Tensor::from_host(row, {72}, DType::F32);
    p = data::process_pose(p, r[i], f[i] != 0.0);
    std::copy(p.contiguous().data<float>(), p.contiguous().data<float>() + 72, pose.data<float>() + i * 72);
    std::copy(row + 72, row + 82, betas.data<float>() + i * 10);
  }
  return {pose, betas};
}

Tensor FitsDict::has_fit(const Tensor& dataset, const Tensor& index) const {
  const auto ds = as_i64(dataset), ix = as_i64(index);
  Tensor out = empty({static_cast<int64_t>(ds.size())});
  for (size_t i = 0; i < ds.size(); ++i)
    out.data<float>()[i] = filled_.at(static_cast<size_t>(ds[i])).at(static_cast<size_t>(ix[i])) ? 1.f : 0.f;
  return out;
}

void FitsDict::set(const Tensor& dataset, const Tensor& index, const Tensor& rot, const Tensor& flip,
                   const Tensor& pose, const Tensor& betas, const Tensor& update) {
  const auto ds = as_i64(dataset), ix = as_i64(index);
  const auto r = as_f64(rot), f = as_f64(flip), u = as_f64(update);
  Tensor pose_c = pose.detach().to(Device::cpu(), DType::F32).contiguous();
  Tensor betas_c = betas.detach().to(Device::cpu(), DType::F32).contiguous();
  HMR_CHECK(pose_c.dim() == 2 && pose_c.size(1) == 72 && betas_c.dim() == 2 && betas_c.size(1) == 10 &&
                pose_c.size(0) == static_cast<int64_t>(ds.size()) && betas_c.size(0) == pose_c.size(0),
            ShapeError, "FitsDict::set: expected pose (B, 72) and betas (B, 10) with B = ", ds.size(),
            ", got ", pose.shape_str(), " and ", betas.shape_str());
  for (size_t i = 0; i < ds.size(); ++i) {
    if (u[i] == 0.0) continue;
    Tensor& table = tables_.at(static_cast<size_t>(ds[i]));
    HMR_CHECK(ix[i] >= 0 && ix[i] < table.size(0), IndexError, "FitsDict::set: index ", ix[i],
              " out of range");
    // Inverse of process_pose (rotate, then flip): flip back, then rotate by -rot.
    Tensor p = narrow(pose_c, 0, static_cast<int64_t>(i), 1).reshape({72});
    if (f[i] != 0.0) p = data::flip_pose(p);
    p = data::process_pose(p, -r[i], false).contiguous();
    float* row = table.data<float>() + ix[i] * 82;
    std::copy(p.data<float>(), p.data<float>() + 72, row);
    std::copy(betas_c.data<float>() + i * 10, betas_c.data<float>() + i * 10 + 10, row + 72);
    filled_[static_cast<size_t>(ds[i])][static_cast<size_t>(ix[i])] = 1;
  }
}

}  // namespace hmr::train
