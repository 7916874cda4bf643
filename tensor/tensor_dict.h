// TensorDict: named tensors in insertion order — what a state dict, an .npz archive, a
// safetensors file or a checkpoint holds. Shared by nn/ (Module::state_dict, optimizers) and
// io/ (file formats), so it lives in the data layer. Like Python's OrderedDict[str, Tensor].
#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace hmr {

class TensorDict {
 public:
  TensorDict() = default;

  // Inserts or replaces; a replaced entry keeps its position.
  void set(const std::string& name, Tensor t) {
    auto it = index_.find(name);
    if (it != index_.end()) {
      items_[it->second].second = std::move(t);
      return;
    }
    index_.emplace(name, items_.size());
    items_.emplace_back(name, std::move(t));
  }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // The tensor under name; IndexError naming the key when absent.
  const Tensor& at(const std::string& name) const {
    auto it = index_.find(name);
    HMR_CHECK(it != index_.end(), IndexError, "TensorDict: no entry named '", name, "'");
    return items_[it->second].second;
  }
  Tensor& at(const std::string& name) {
    auto it = index_.find(name);
    HMR_CHECK(it != index_.end(), IndexError, "TensorDict: no entry named '", name, "'");
    return items_[it->second].second;
  }
  const Tensor* find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &items_[it->second].second;
  }
  // Removes name if present; returns whether it was.
  bool erase(const std::string& name) {
    auto it = index_.find(name);
    if (it == index_.end()) return false;
    items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(it->second));
    index_.clear();
    for (size_t i = 0; i < items_.size(); ++i) index_.emplace(items_[i].first, i);
    return true;
  }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  std::vector<std::string> keys() const {
    std::vector<std::string> k;
    k.reserve(items_.size());
    for (const auto& [name, t] : items_) k.push_back(name);
    return k;
  }

  using Item = std::pair<std::string, Tensor>;
  std::vector<Item>::const_iterator begin() const { return items_.begin(); }
  std::vector<Item>::const_iterator end() const { return items_.end(); }
  std::vector<Item>::iterator begin() { return items_.begin(); }
  std::vector<Item>::iterator end() { return items_.end(); }

 private:
  std::vector<Item> items_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace hmr
