#include "tensor/tensor.h"

#include <cstring>

#include "tensor/cuda_context.h"
#include "tensor/dispatch.h"

namespace hmr {

Shape contiguous_strides(const Shape& sizes) {
  Shape strides(sizes.size());
  int64_t s = 1;
  for (int64_t i = static_cast<int64_t>(sizes.size()) - 1; i >= 0; --i) {
    strides[i] = s;
    s *= sizes[i] > 0 ? sizes[i] : 1;
  }
  return strides;
}

int64_t shape_numel(const Shape& sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  HMR_CHECK(dim >= lo && dim <= hi, IndexError, op, ": dimension out of range (expected to be in [",
            lo, ", ", hi, "], but got ", dim, ")");
  return dim < 0 ? dim + (ndim == 0 ? 1 : ndim) : dim;
}

std::ostream& operator<<(std::ostream& os, const Shape& s) {
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  return os << "]";
}

void Tensor::check_numel_matches(int64_t n, const Shape& sizes) {
  for (int64_t s : sizes)
    HMR_CHECK(s >= 0, ShapeError, "Tensor: expected non-negative sizes but found ", sizes);
  HMR_CHECK(n == shape_numel(sizes), ShapeError, "Tensor: ", n, " values do not fill shape ", sizes,
            " (", shape_numel(sizes), " elements)");
}

Tensor Tensor::empty(const Shape& sizes, DType dtype, Device device) {
  for (int64_t s : sizes)
    HMR_CHECK(s >= 0, ShapeError, "empty: expected non-negative sizes but found ", sizes);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = allocate_storage(shape_numel(sizes) * hmr::itemsize(dtype), device);
  impl->sizes = sizes;
  impl->strides = contiguous_strides(sizes);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::make_view(const Storage& storage, const Shape& sizes, const Shape& strides,
                         int64_t offset, DType dtype) {
  HMR_CHECK(sizes.size() == strides.size(), ShapeError, "view: sizes ", sizes, " and strides ",
            strides, " differ in length");
  // The furthest element reached must lie inside the storage.
  int64_t lo = offset, hi = offset;
  bool empty = false;
  for (size_t i = 0; i < sizes.size(); ++i) {
    HMR_CHECK(sizes[i] >= 0, ShapeError, "view: negative size in ", sizes);
    if (sizes[i] == 0) empty = true;
    int64_t reach = (sizes[i] - 1) * strides[i];
    (reach < 0 ? lo : hi) += reach;
  }
  HMR_CHECK(empty || (lo >= 0 && (hi + 1) * hmr::itemsize(dtype) <= storage->nbytes()), IndexError,
            "view: sizes ", sizes, ", strides ", strides, " and offset ", offset,
            " reach outside a storage of ", storage->nbytes(), " bytes");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage;
  impl->sizes = sizes;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::from_host(const void* data, const Shape& sizes, DType dtype, Device device) {
  Tensor t = empty(sizes, dtype, device);
  cuda::memcpy(t.raw_data(), device, data, Device::cpu(), t.numel() * t.itemsize());
  return t;
}

int64_t Tensor::size(int64_t d) const { return sizes()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }
int64_t Tensor::numel() const { return shape_numel(sizes()); }

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;  // as PyTorch: an empty tensor is contiguous whatever its strides
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (sizes()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= sizes()[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  return static_cast<char*>(storage()->data()) + offset() * itemsize();
}

namespace {

// Host copy of the bytes a view can reach, and the element offset of its first element there.
struct HostBytes {
  std::vector<char> bytes;
  int64_t base = 0;  // element index in bytes of the view's offset
};

HostBytes host_bytes(const Tensor& t) {
  HostBytes hb;
  if (t.numel() == 0) return hb;
  int64_t lo = t.offset(), hi = t.offset();
  for (int64_t i = 0; i < t.dim(); ++i) {
    int64_t reach = (t.sizes()[i] - 1) * t.strides()[i];
    (reach < 0 ? lo : hi) += reach;
  }
  int64_t isz = t.itemsize();
  hb.bytes.resize(static_cast<size_t>((hi - lo + 1) * isz));
  const char* src = static_cast<const char*>(t.storage()->data()) + lo * isz;
  cuda::memcpy(hb.bytes.data(), Device::cpu(), src, t.device(), (hi - lo + 1) * isz);
  hb.base = t.offset() - lo;
  return hb;
}

// Calls f(element pointer) for every element of t in row-major order.
template <class T, class F>
void for_each_element(const Tensor& t, const T* base, F&& f) {
  int64_t n = t.numel();
  if (n == 0) return;
  int64_t nd = t.dim();
  std::vector<int64_t> idx(nd, 0);
  const T* p = base;
  for (int64_t k = 0; k < n; ++k) {
    f(*p);
    for (int64_t d = nd - 1; d >= 0; --d) {
      if (++idx[d] < t.sizes()[d]) {
        p += t.strides()[d];
        break;
      }
      p -= (t.sizes()[d] - 1) * t.strides()[d];
      idx[d] = 0;
    }
  }
}

template <class To, class From> To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) return static_cast<float>(v) != 0.0f;
  else if constexpr (std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>)
    return static_cast<To>(static_cast<float>(v));
  else if constexpr (std::is_same_v<To, Half> || std::is_same_v<To, BFloat16>)
    return To(static_cast<float>(v));
  else
    return static_cast<To>(v);
}

}  // namespace

template <class T> std::vector<T> Tensor::to_vector() const {
  std::vector<T> out;
  out.reserve(static_cast<size_t>(numel()));
  HostBytes hb = host_bytes(*this);
  dispatch_all(dtype(), "to_vector", [&](auto tag) {
    using S = typename decltype(tag)::type;
    const S* base = reinterpret_cast<const S*>(hb.bytes.data()) + hb.base;
    for_each_element(*this, base, [&](const S& v) { out.push_back(convert<T>(v)); });
  });
  return out;
}

template <class T> T Tensor::item() const {
  HMR_CHECK(numel() == 1, ValueError, "item: expected a tensor with one element but found shape ",
            sizes(), " (", numel(), " elements)");
  return to_vector<T>()[0];
}

#define HMR_INSTANTIATE(T) \
  template std::vector<T> Tensor::to_vector<T>() const; \
  template T Tensor::item<T>() const;
HMR_INSTANTIATE(bool)
HMR_INSTANTIATE(uint8_t)
HMR_INSTANTIATE(int32_t)
HMR_INSTANTIATE(int64_t)
HMR_INSTANTIATE(Half)
HMR_INSTANTIATE(BFloat16)
HMR_INSTANTIATE(float)
HMR_INSTANTIATE(double)
#undef HMR_INSTANTIATE

std::string Tensor::shape_str() const { return str(sizes()); }

}  // namespace hmr
