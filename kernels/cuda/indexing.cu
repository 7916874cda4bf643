// CUDA backend of the indexed kernels: one thread per element of the index (grid-stride), the
// offsets from indexed_offsets() in kernels/indexing.h, as on the CPU. Accumulating scatters
// use atomicAdd (native for f32/f64/i32/i64, the __half/__nv_bfloat16 intrinsics for 16-bit
// floats, a compare-and-swap on the enclosing word for u8), so duplicates add in any order.
//
// Index range: the dispatcher asks for (min, max) of the index before any kernel dereferences
// it. Here that is a reduction (warp shuffles, then one atomicMin/atomicMax per warp) whose
// two values are read back once: one synchronisation per indexed op, bought for an exact
// IndexError naming the offending value instead of a device-side assert that kills the context.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cub/device/device_scan.cuh>
#include <limits>
#include <vector>

#include "kernels/cast.h"
#include "kernels/elementwise.h"
#include "kernels/indexing.h"
#include "tensor/cuda_context.h"

namespace hmr::kernels::cuda {

namespace {

constexpr int kThreads = 256;

void check_launch(const char* op) {
  cudaError_t err = cudaGetLastError();
  HMR_CHECK(err == cudaSuccess, CudaError, op, ": kernel launch failed: ", cudaGetErrorString(err));
}

cudaStream_t stream_of(const Tensor& t) {
  ::hmr::cuda::set_device(t.device().index);
  return static_cast<cudaStream_t>(::hmr::cuda::current_stream(t.device().index));
}

unsigned blocks_for(int64_t n) {
  return static_cast<unsigned>(std::min<int64_t>((n + kThreads - 1) / kThreads, int64_t(1) << 16));
}

#define HMR_GRID_STRIDE(i, n)                                               \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); \
       i += int64_t(blockDim.x) * gridDim.x)

template <class T, class I>
__global__ void gather_kernel(IndexedLoop loop, const T* x, const I* idx, T* out) {
  HMR_GRID_STRIDE(i, loop.numel) {
    IndexedOffsets o = indexed_offsets(loop, i);
    out[o.dense] = x[o.indexed_base + static_cast<int64_t>(idx[o.index]) * loop.indexed_stride];
  }
}

// self[i] += v, atomically. A is the accumulation type of T (float for the 16-bit floats).
__device__ void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ void atomic_add(double* p, double v) { atomicAdd(p, v); }
__device__ void atomic_add(int32_t* p, int32_t v) { atomicAdd(reinterpret_cast<int*>(p), int(v)); }
__device__ void atomic_add(int64_t* p, int64_t v) {
  // Two's complement: an unsigned add is the signed add.
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}
__device__ void atomic_add(Half* p, float v) { atomicAdd(reinterpret_cast<__half*>(p), __float2half_rn(v)); }
__device__ void atomic_add(BFloat16* p, float v) {
  atomicAdd(reinterpret_cast<__nv_bfloat16*>(p), __float2bfloat16_rn(v));
}
__device__ void atomic_add(uint8_t* p, uint8_t v) {
  // No 8-bit atomics: compare-and-swap the aligned 32-bit word holding the byte.
  auto addr = reinterpret_cast<uintptr_t>(p);
  auto* word = reinterpret_cast<unsigned int*>(addr & ~uintptr_t(3));
  unsigned int shift = static_cast<unsigned int>(addr & 3) * 8;
  unsigned int old = *word, assumed;
  do {
    assumed = old;
    unsigned int byte = ((assumed >> shift) + v) & 0xffu;
    old = atomicCAS(word, assumed, (assumed & ~(0xffu << shift)) | (byte << shift));
  } while (old != assumed);
}

template <class T, class I>
__global__ void scatter_assign_kernel(IndexedLoop loop, T* self, const I* idx, const T* src) {
  HMR_GRID_STRIDE(i, loop.numel) {
    IndexedOffsets o = indexed_offsets(loop, i);
    self[o.indexed_base + static_cast<int64_t>(idx[o.index]) * loop.indexed_stride] = src[o.dense];
  }
}

template <class T, class I>
__global__ void scatter_add_kernel(IndexedLoop loop, T* self, const I* idx, const T* src, acc_t<T> alpha) {
  HMR_GRID_STRIDE(i, loop.numel) {
    IndexedOffsets o = indexed_offsets(loop, i);
    int64_t target = o.indexed_base + static_cast<int64_t>(idx[o.index]) * loop.indexed_stride;
    atomic_add(self + target, static_cast<acc_t<T>>(alpha * cast<acc_t<T>>(src[o.dense])));
  }
}

template <class I>
__global__ void min_max_kernel(const I* p, int64_t n, long long* range) {
  long long lo = std::numeric_limits<long long>::max(), hi = std::numeric_limits<long long>::min();
  HMR_GRID_STRIDE(i, n) {
    lo = min(lo, static_cast<long long>(p[i]));
    hi = max(hi, static_cast<long long>(p[i]));
  }
  for (int s = 16; s > 0; s /= 2) {
    lo = min(lo, __shfl_down_sync(0xffffffffu, lo, s));
    hi = max(hi, __shfl_down_sync(0xffffffffu, hi, s));
  }
  if ((threadIdx.x & 31) == 0) {
    atomicMin(range, lo);
    atomicMax(range + 1, hi);
  }
}

// Coordinates of the flagged elements: row pos[i] - 1 of out (pos is the inclusive scan).
struct Sizes {
  int64_t v[kMaxDims];
};

__global__ void flags_to_int64_kernel(const bool* f, int64_t n, int64_t* out) {
  HMR_GRID_STRIDE(i, n) out[i] = f[i] ? 1 : 0;
}

__global__ void nonzero_write_kernel(const bool* f, const int64_t* pos, int64_t n, Sizes sizes, int ndim,
                                     int64_t* out) {
  HMR_GRID_STRIDE(i, n) {
    if (!f[i]) continue;
    int64_t row = pos[i] - 1, rest = i;
    for (int d = ndim - 1; d >= 0; --d) {
      out[row * ndim + d] = rest % sizes.v[d];
      rest /= sizes.v[d];
    }
  }
}

}  // namespace

void gather(const IndexedLoop& loop, const Tensor& x, const Tensor& index, const Tensor& out) {
  cudaStream_t stream = stream_of(out);
  dispatch_all(x.dtype(), "gather", [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_index(index.dtype(), "gather", [&](auto itag) {
      using I = typename decltype(itag)::type;
      gather_kernel<T, I><<<blocks_for(loop.numel), kThreads, 0, stream>>>(
          loop, static_cast<const T*>(x.raw_data()), static_cast<const I*>(index.raw_data()),
          static_cast<T*>(out.raw_data()));
    });
  });
  check_launch("gather");
}

void scatter(const IndexedLoop& loop, const Tensor& self, const Tensor& index, const Tensor& src,
             ScatterMode mode, double alpha) {
  cudaStream_t stream = stream_of(self);
  unsigned blocks = blocks_for(loop.numel);
  if (mode == ScatterMode::Assign) {
    dispatch_all(self.dtype(), "scatter", [&](auto tag) {
      using T = typename decltype(tag)::type;
      dispatch_index(index.dtype(), "scatter", [&](auto itag) {
        using I = typename decltype(itag)::type;
        scatter_assign_kernel<T, I><<<blocks, kThreads, 0, stream>>>(loop, static_cast<T*>(self.raw_data()),
                                                                     static_cast<const I*>(index.raw_data()),
                                                                     static_cast<const T*>(src.raw_data()));
      });
    });
  } else {
    dispatch_numeric(self.dtype(), "scatter_add", [&](auto tag) {
      using T = typename decltype(tag)::type;
      dispatch_index(index.dtype(), "scatter_add", [&](auto itag) {
        using I = typename decltype(itag)::type;
        scatter_add_kernel<T, I><<<blocks, kThreads, 0, stream>>>(
            loop, static_cast<T*>(self.raw_data()), static_cast<const I*>(index.raw_data()),
            static_cast<const T*>(src.raw_data()), cast<acc_t<T>>(alpha));
      });
    });
  }
  check_launch("scatter");
}

void index_min_max(const Tensor& index, int64_t* min, int64_t* max) {
  Tensor flat = index;
  if (!index.is_contiguous()) {
    flat = Tensor::empty(index.sizes(), index.dtype(), index.device());
    copy_same_device(flat, index);
  }
  std::vector<int64_t> init = {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()};
  Tensor range = Tensor::from_vector(init, {2}, index.device());
  cudaStream_t stream = stream_of(index);
  dispatch_index(index.dtype(), "index", [&](auto itag) {
    using I = typename decltype(itag)::type;
    min_max_kernel<I><<<blocks_for(flat.numel()), kThreads, 0, stream>>>(
        static_cast<const I*>(flat.raw_data()), flat.numel(), static_cast<long long*>(range.raw_data()));
  });
  check_launch("index range check");
  std::vector<int64_t> host = range.to_vector<int64_t>();  // synchronises
  *min = host[0];
  *max = host[1];
}

void nonzero_flags(const Tensor& flags, const Shape& sizes, Tensor* out) {
  const int64_t n = flags.numel();
  const int ndim = static_cast<int>(sizes.size());
  const Device device = flags.device();
  cudaStream_t stream = stream_of(flags);
  const bool* f = static_cast<const bool*>(flags.raw_data());
  Tensor ones = Tensor::empty({n}, DType::I64, device), pos = Tensor::empty({n}, DType::I64, device);
  auto* ones_p = static_cast<int64_t*>(ones.raw_data());
  auto* pos_p = static_cast<int64_t*>(pos.raw_data());
  int64_t count = 0;
  if (n > 0) {
    flags_to_int64_kernel<<<blocks_for(n), kThreads, 0, stream>>>(f, n, ones_p);
    check_launch("nonzero");
    size_t temp_bytes = 0;
    cub::DeviceScan::InclusiveSum(nullptr, temp_bytes, ones_p, pos_p, n, stream);
    Tensor temp = Tensor::empty({static_cast<int64_t>(temp_bytes)}, DType::U8, device);
    cudaError_t err = cub::DeviceScan::InclusiveSum(temp.raw_data(), temp_bytes, ones_p, pos_p, n, stream);
    HMR_CHECK(err == cudaSuccess, CudaError, "nonzero: scan failed: ", cudaGetErrorString(err));
    // The result's size depends on the data: one read back, as in PyTorch.
    ::hmr::cuda::memcpy(&count, Device::cpu(), pos_p + n - 1, device, sizeof(int64_t));
  }
  *out = Tensor::empty({count, static_cast<int64_t>(ndim)}, DType::I64, device);
  if (count == 0 || ndim == 0) return;
  Sizes s{};
  for (int d = 0; d < ndim; ++d) s.v[d] = sizes[d];
  nonzero_write_kernel<<<blocks_for(n), kThreads, 0, stream>>>(f, pos_p, n, s, ndim,
                                                               static_cast<int64_t*>(out->raw_data()));
  check_launch("nonzero");
}

}  // namespace hmr::kernels::cuda
