// The CUDA elementwise launcher, twin of kernels/cpu/loops.h: runs a functor over a Plan on the
// device's stream, without synchronising. Contiguous plans whose pointers are all aligned move
// 16 bytes per operand per access (float4 for f32, 8 halves for f16/bf16), with the last
// n % VEC elements done one per thread; every other plan turns the flat index into per-operand
// offsets, in 32-bit arithmetic whenever the extents allow it, because 64-bit division costs
// several times more than 32-bit on the GPU. Grids are sized to fill the device once and loop
// (grid-stride), so a launch never needs more blocks than the SMs can hold.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "kernels/cast.h"
#include "kernels/plan.h"
#include "tensor/cuda_context.h"
#include "tensor/error.h"

namespace hmr::kernels::cuda {

constexpr int kBlockSize = 256;

// VEC elements moved as one aligned access.
template <class T, int VEC>
struct alignas(sizeof(T) * VEC) Vec {
  T v[VEC];
};

// Operand base pointers, passed to a kernel by value (operand 0 is the output).
template <int N>
struct Pointers {
  char* p[N];
};

// Elements per vector access: 16 bytes of the widest operand, so no access exceeds 16 bytes.
template <class... Ts>
constexpr int vec_size() {
  size_t widest = 1;
  ((widest = sizeof(Ts) > widest ? sizeof(Ts) : widest), ...);
  return static_cast<int>(16 / widest);
}

// Throws CudaError naming the op when the last launch failed (bad configuration, no kernel
// image for this GPU); errors raised while the kernel runs surface at the next synchronisation.
inline void check_launch(const char* op) {
  cudaError_t err = cudaGetLastError();
  HMR_CHECK(err == cudaSuccess, CudaError, op, ": CUDA kernel launch failed: ", cudaGetErrorString(err));
}

struct Launch {
  cudaStream_t stream;
  int64_t max_blocks;  // blocks that fill every SM once

  // Enough blocks for `work` threads, but never more than fill the device.
  unsigned grid(int64_t work) const {
    int64_t blocks = (work + kBlockSize - 1) / kBlockSize;
    return static_cast<unsigned>(std::max<int64_t>(1, std::min(blocks, max_blocks)));
  }
};

// Makes device current and returns its stream and grid limit.
inline Launch launch_on(int device) {
  ::hmr::cuda::set_device(device);
  const auto& props = ::hmr::cuda::device_properties(device);
  int64_t per_sm = std::max(1, props.max_threads_per_multiprocessor / kBlockSize);
  return {static_cast<cudaStream_t>(::hmr::cuda::current_stream(device)),
          std::max<int64_t>(1, props.multiprocessor_count * per_sm)};
}

namespace detail {

template <class T>
bool is_aligned(const void* p, int vec) {
  return reinterpret_cast<uintptr_t>(p) % (sizeof(T) * vec) == 0;
}

// Whole-vector load; taking the Vec by value makes the compiler issue one wide access instead
// of VEC scalar ones.
template <int VEC, class T>
__device__ __forceinline__ Vec<T, VEC> load_vec(const T* p, int64_t v) {
  return reinterpret_cast<const Vec<T, VEC>*>(p)[v];
}

template <int VEC, class Out, class F, class... Ins>
__device__ __forceinline__ Vec<Out, VEC> apply_vec(const F& f, Vec<Ins, VEC>... x) {
  Vec<Out, VEC> out;
#pragma unroll
  for (int j = 0; j < VEC; ++j) out.v[j] = f(x.v[j]...);
  return out;
}

// __restrict__ stays valid for in-place work (out == in): each element is read and then written
// by one thread, at one index. (A __global__ template's pack must come last, hence F first.)
template <int VEC, class F, class Out, class... Ins>
__global__ void __launch_bounds__(kBlockSize)
    vectorized_kernel(F f, int64_t n, Out* __restrict__ out, const Ins* __restrict__... in) {
  const int64_t nvec = n / VEC;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t v = first; v < nvec; v += step)
    reinterpret_cast<Vec<Out, VEC>*>(out)[v] =
        apply_vec<VEC, Out>(f, load_vec<VEC>(in, v)...);
  const int64_t tail = nvec * VEC + first;  // fewer than VEC elements, one per thread
  if (tail < n) out[tail] = f(in[tail]...);
}

// Per-operand offsets (in elements) of flat index i. The outermost coordinate is what is left
// of i after the inner dims, so an ndim-d plan costs ndim - 1 divisions (none when 1-D). The
// dim loop is unrolled over kMaxDims with constant indices so the plan is read straight from
// the kernel's parameter bank; a runtime index would copy it to local memory.
template <class Index, int N>
__device__ __forceinline__ void offsets_of(const Plan<N>& p, std::make_unsigned_t<Index> i, Index* off) {
  using U = std::make_unsigned_t<Index>;
#pragma unroll
  for (int k = 0; k < N; ++k) off[k] = 0;
#pragma unroll
  for (int d = kMaxDims - 1; d > 0; --d) {
    if (d >= p.ndim) continue;
    const U size = static_cast<U>(p.sizes[d]);
    const U q = i / size;
    const Index c = static_cast<Index>(i - q * size);
    i = q;
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] += c * static_cast<Index>(p.strides[k][d]);
  }
#pragma unroll
  for (int k = 0; k < N; ++k) off[k] += static_cast<Index>(i) * static_cast<Index>(p.strides[k][0]);
}

template <class Out, class... Ins, class F, class Index, size_t... I>
__device__ __forceinline__ void apply_at(const F& f, char* const* base, const Index* off,
                                         std::index_sequence<I...>) {
  reinterpret_cast<Out*>(base[0])[off[0]] =
      f(reinterpret_cast<const Ins*>(base[1 + I])[off[1 + I]]...);
}

template <class Index, class F, class Out, class... Ins>
__global__ void __launch_bounds__(kBlockSize)
    strided_kernel(F f, Plan<1 + sizeof...(Ins)> p, Pointers<1 + sizeof...(Ins)> base) {
  constexpr int N = 1 + sizeof...(Ins);
  using U = std::make_unsigned_t<Index>;
  // The loop counter is 64-bit so i + step cannot overflow; the index math uses Index.
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = first; i < p.numel; i += step) {
    Index off[N];
    offsets_of<Index, N>(p, static_cast<U>(i), off);
    apply_at<Out, Ins...>(f, base.p, off, std::index_sequence_for<Ins...>{});
  }
}

// Whether every offset of the plan (and the flat index) fits a signed 32-bit integer.
template <int N>
bool fits_int32(const Plan<N>& p) {
  if (p.numel > INT32_MAX) return false;
  for (int k = 0; k < N; ++k) {
    int64_t extent = 0;
    for (int d = 0; d < p.ndim; ++d) {
      int64_t s = p.strides[k][d] < 0 ? -p.strides[k][d] : p.strides[k][d];
      extent += (p.sizes[d] - 1) * s;
    }
    if (extent > INT32_MAX) return false;
  }
  return true;
}

template <int VEC, class Out, class... Ins, size_t... I>
bool all_aligned(char* const* base, std::index_sequence<I...>) {
  return is_aligned<Out>(base[0], VEC) && (is_aligned<Ins>(base[1 + I], VEC) && ...);
}

template <int VEC, class Out, class... Ins, class F, size_t... I>
void launch_vectorized(const Launch& l, const F& f, int64_t n, char* const* base, std::index_sequence<I...>) {
  vectorized_kernel<VEC, F, Out, Ins...><<<l.grid((n + VEC - 1) / VEC), kBlockSize, 0, l.stream>>>(
      f, n, reinterpret_cast<Out*>(base[0]), reinterpret_cast<const Ins*>(base[1 + I])...);
}

template <int VEC, class T, class G>
__global__ void __launch_bounds__(kBlockSize) generate_kernel(G g, int64_t n, T* __restrict__ out) {
  const int64_t nvec = n / VEC;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t v = first; v < nvec; v += step) {
    Vec<T, VEC> o;
#pragma unroll
    for (int j = 0; j < VEC; ++j) o.v[j] = g(v * VEC + j);
    reinterpret_cast<Vec<T, VEC>*>(out)[v] = o;
  }
  const int64_t tail = nvec * VEC + first;
  if (tail < n) out[tail] = g(tail);
}

}  // namespace detail

// out[i] = f(in0[i], in1[i], ...) over the plan, on device's stream. Out and Ins are the element
// types of the operands; f is a functor with a __device__ call operator taking the input values
// and returning an Out (conversions are f's job). op names the caller in launch errors.
template <class Out, class... Ins, class F>
void for_each(const Plan<1 + sizeof...(Ins)>& p, char* const* base, const F& f, int device, const char* op) {
  constexpr int N = 1 + sizeof...(Ins);
  constexpr int VEC = vec_size<Out, Ins...>();
  using Seq = std::index_sequence_for<Ins...>;
  if (p.numel == 0) return;
  const Launch l = launch_on(device);
  if (p.contiguous && detail::all_aligned<VEC, Out, Ins...>(base, Seq{})) {
    detail::launch_vectorized<VEC, Out, Ins...>(l, f, p.numel, base, Seq{});
  } else {
    // Also the contiguous-but-misaligned case (a view starting mid-vector): a 1-D plan with
    // unit strides costs no division here.
    Pointers<N> ptrs;
    for (int k = 0; k < N; ++k) ptrs.p[k] = base[k];
    if (detail::fits_int32(p))
      detail::strided_kernel<int32_t, F, Out, Ins...><<<l.grid(p.numel), kBlockSize, 0, l.stream>>>(f, p, ptrs);
    else
      detail::strided_kernel<int64_t, F, Out, Ins...><<<l.grid(p.numel), kBlockSize, 0, l.stream>>>(f, p, ptrs);
  }
  check_launch(op);
}

// out[i] = g(i) for i in [0, n) of a contiguous out (arange, random fills), on device's stream.
template <class T, class G>
void generate(T* out, int64_t n, const G& g, int device, const char* op) {
  constexpr int VEC = vec_size<T>();
  if (n == 0) return;
  const Launch l = launch_on(device);
  if (detail::is_aligned<T>(out, VEC))
    detail::generate_kernel<VEC, T><<<l.grid((n + VEC - 1) / VEC), kBlockSize, 0, l.stream>>>(g, n, out);
  else
    detail::generate_kernel<1, T><<<l.grid(n), kBlockSize, 0, l.stream>>>(g, n, out);
  check_launch(op);
}

}  // namespace hmr::kernels::cuda
