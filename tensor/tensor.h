// Tensor: a strided view (sizes, strides in elements, offset) of a refcounted Storage, with
// a dtype and a device. Copying a Tensor copies the handle, never the data.
//
// This header is the data layer: geometry, raw element access and raw views. The operations
// users call (x.sum(), x.reshape(), a + b, loss.backward()) are declared here too, so the API
// reads like PyTorch's, but they are defined in autograd/ — one place per op, forward and
// backward together. tensor/ and kernels/ must only use the data members.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/error.h"
#include "tensor/storage.h"

namespace hmr {

using Shape = std::vector<int64_t>;

struct AutogradMeta;  // autograd/: requires_grad, grad, grad_fn, hooks
class Node;

// A number that takes part in tensor arithmetic (x * 2, x + 0.5). Integral, floating or bool
// "kind" matters for type promotion, as for PyTorch's Python scalars.
class Scalar {
 public:
  enum class Kind : uint8_t { Bool, Int, Float };
  Scalar(double v) : d_(v), i_(static_cast<int64_t>(v)), kind_(Kind::Float) {}
  Scalar(float v) : Scalar(static_cast<double>(v)) {}
  Scalar(int v) : d_(v), i_(v), kind_(Kind::Int) {}
  Scalar(long v) : d_(static_cast<double>(v)), i_(v), kind_(Kind::Int) {}
  Scalar(long long v) : d_(static_cast<double>(v)), i_(v), kind_(Kind::Int) {}
  Scalar(bool v) : d_(v), i_(v), kind_(Kind::Bool) {}
  double to_double() const { return d_; }
  int64_t to_int() const { return i_; }
  Kind kind() const { return kind_; }
  bool is_floating() const { return kind_ == Kind::Float; }

 private:
  double d_;
  int64_t i_;
  Kind kind_;
};

struct TensorImpl {
  Storage storage;
  Shape sizes;
  Shape strides;  // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::F32;
  std::shared_ptr<AutogradMeta> autograd;  // null until autograd needs it
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- data layer (tensor/) ----------------------------------------------------------------
  // Uninitialised contiguous memory.
  static Tensor empty(const Shape& sizes, DType dtype = kDefaultFloat, Device device = Device::cpu());
  // A view of existing storage with the given geometry (no autograd; bounds are checked).
  static Tensor make_view(const Storage& storage, const Shape& sizes, const Shape& strides,
                          int64_t offset, DType dtype);
  // Copies host data into a new tensor on device.
  static Tensor from_host(const void* data, const Shape& sizes, DType dtype, Device device = Device::cpu());
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& sizes, Device device = Device::cpu()) {
    check_numel_matches(static_cast<int64_t>(values.size()), sizes);
    return from_host(values.data(), sizes, dtype_of_v<T>, device);
  }

  bool defined() const { return impl_ != nullptr; }
  int64_t dim() const { return static_cast<int64_t>(impl().sizes.size()); }
  const Shape& sizes() const { return impl().sizes; }
  const Shape& strides() const { return impl().strides; }
  int64_t size(int64_t d) const;    // negative d counts from the end
  int64_t stride(int64_t d) const;
  int64_t numel() const;
  int64_t offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  bool is_cuda() const { return device().is_cuda(); }
  bool is_floating_point() const { return is_floating(dtype()); }
  int64_t itemsize() const { return hmr::itemsize(dtype()); }
  const Storage& storage() const { return impl().storage; }
  bool is_contiguous() const;
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }
  bool shares_storage(const Tensor& o) const { return defined() && o.defined() && storage() == o.storage(); }

  // Pointer to the first element (storage base + offset). The typed form checks the dtype.
  void* raw_data() const;
  template <class T> T* data() const {
    HMR_CHECK(dtype_of_v<T> == dtype(), DTypeError, "Tensor::data: expected ", dtype(),
              " but the requested element type is ", dtype_of_v<T>);
    return static_cast<T*>(raw_data());
  }

  // Copies the whole tensor, in logical (row-major) order, to a host vector of T (any
  // dtype converts). Works for any device and any strides.
  template <class T> std::vector<T> to_vector() const;

  // The value of a one-element tensor, converted to T.
  template <class T> T item() const;
  double item() const { return item<double>(); }

  uint32_t version() const { return storage()->version(); }
  void bump_version() const { storage()->bump_version(); }

  TensorImpl* impl_ptr() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_shared() const { return impl_; }
  std::string shape_str() const;
  std::string to_string() const;  // PyTorch-style: tensor([[...]], dtype=..., device=...)

  static void check_numel_matches(int64_t n, const Shape& sizes);

  // ---- operations (defined in autograd/) ----------------------------------------------------
  // Autograd state.
  bool requires_grad() const;
  Tensor& requires_grad_(bool requires = true);
  Tensor grad() const;               // undefined until backward reaches this leaf
  void set_grad(const Tensor& g) const;
  void zero_grad() const;            // drops .grad
  bool is_leaf() const;
  std::shared_ptr<Node> grad_fn() const;
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;
  void retain_grad() const;
  // hook(grad) may return a replacement gradient (or an undefined Tensor to keep it).
  void register_hook(std::function<Tensor(const Tensor&)> hook) const;

  // Views and copies.
  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const;
  Tensor permute(const Shape& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor expand(const Shape& sizes) const;
  Tensor expand_as(const Tensor& other) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor to(Device device, DType dtype) const;
  Tensor cpu() const { return to(Device::cpu()); }
  Tensor cuda(int index = 0) const { return to(Device::cuda(index)); }
  Tensor operator[](int64_t index) const { return select(0, index); }

  // Common reductions and math, as methods for readability (free functions are in autograd/ops.h).
  Tensor sum() const;
  Tensor sum(const Shape& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const Shape& dims, bool keepdim = false) const;
  Tensor abs() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor pow(const Scalar& exponent) const;
  Tensor matmul(const Tensor& other) const;

  // In-place (bump the version counter; refuse leaves that require grad).
  Tensor& copy_(const Tensor& src);
  Tensor& fill_(const Scalar& value);
  Tensor& zero_();
  Tensor& add_(const Tensor& other, const Scalar& alpha = 1);
  Tensor& sub_(const Tensor& other, const Scalar& alpha = 1);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(const Scalar& other);
  Tensor& div_(const Tensor& other);
  Tensor& div_(const Scalar& other);

 private:
  TensorImpl& impl() const {
    HMR_CHECK(impl_, ValueError, "Tensor: operation on an undefined tensor");
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::ostream& operator<<(std::ostream& os, const Shape& s);

// Contiguous (row-major) strides for sizes.
Shape contiguous_strides(const Shape& sizes);
int64_t shape_numel(const Shape& sizes);
// Wraps a possibly negative dim into [0, ndim); op names the caller in the error.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

}  // namespace hmr
