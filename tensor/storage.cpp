#include "tensor/storage.h"

#include <cstdlib>
#include <new>

#include "tensor/cuda_context.h"
#include "tensor/error.h"

namespace hmr {

namespace {
constexpr size_t kHostAlignment = 64;
void free_host(void* p, void*) { std::free(p); }
}  // namespace

Storage allocate_storage(int64_t nbytes, Device device) {
  HMR_CHECK(nbytes >= 0, ValueError, "allocate: expected a non-negative size but found ", nbytes);
  if (device.is_cuda()) return cuda::allocate(nbytes, device.index);
  size_t rounded = (static_cast<size_t>(nbytes) + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
  void* p = rounded ? std::aligned_alloc(kHostAlignment, rounded) : nullptr;
  if (rounded && !p)
    throw Error(str("allocate: out of host memory allocating ", nbytes, " bytes"));
  return std::make_shared<StorageImpl>(p, nbytes, device, &free_host, nullptr);
}

Storage wrap_storage(void* data, int64_t nbytes, Device device, DeleterFn deleter, void* ctx) {
  return std::make_shared<StorageImpl>(data, nbytes, device, deleter, ctx);
}

}  // namespace hmr
