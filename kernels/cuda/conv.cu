// CUDA convolution through cuDNN's convolution API (forward, backward data, backward filter),
// one handle per device bound to our stream, algorithms chosen by cudnnGet*_v7 once per shape
// and cached, workspaces from the caching allocator. Bias and pooling are hand-written kernels,
// and every pooling backward is a gather (one thread per input pixel visiting the windows that
// read it), so no atomics are needed and results are deterministic.
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <type_traits>
#include <vector>

#include "kernels/cast.h"
#include "kernels/conv.h"
#include "kernels/linalg.h"
#include "tensor/cuda_context.h"
#include "tensor/dispatch.h"

namespace hmr::kernels::cuda {

namespace {

#define HMR_CUDNN_CHECK(expr)                                                               \
  do {                                                                                      \
    cudnnStatus_t status_ = (expr);                                                         \
    if (status_ != CUDNN_STATUS_SUCCESS)                                                    \
      throw ::hmr::CudaError(::hmr::str(#expr, " failed: ", cudnnGetErrorString(status_))); \
  } while (0)

void check_launch(const char* op) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw CudaError(str(op, ": kernel launch failed: ", cudaGetErrorString(err)));
}

cudaStream_t stream_of(int device) { return static_cast<cudaStream_t>(hmr::cuda::current_stream(device)); }

// One cuDNN handle per device, bound to its stream; kept for the process's life, as the cuBLAS
// handles are (destroying them in static destruction races the runtime's teardown).
cudnnHandle_t handle_for(int device) {
  static std::mutex mu;
  static std::vector<cudnnHandle_t> handles;
  std::lock_guard<std::mutex> lock(mu);
  if (handles.empty()) handles.assign(hmr::cuda::device_count(), nullptr);
  HMR_CHECK(device >= 0 && device < static_cast<int>(handles.size()), CudaError, "conv2d: no CUDA device ",
            device);
  if (!handles[device]) {
    hmr::cuda::set_device(device);
    cudnnHandle_t h = nullptr;
    HMR_CUDNN_CHECK(cudnnCreate(&h));
    HMR_CUDNN_CHECK(cudnnSetStream(h, stream_of(device)));
    handles[device] = h;
  }
  return handles[device];
}

cudnnDataType_t cudnn_type(DType t) {
  switch (t) {
    case DType::F32:
      return CUDNN_DATA_FLOAT;
    case DType::F64:
      return CUDNN_DATA_DOUBLE;
    case DType::F16:
      return CUDNN_DATA_HALF;
    case DType::BF16:
      return CUDNN_DATA_BFLOAT16;
    default:
      break;
  }
  throw DTypeError(str("conv2d: ", t, " is not supported on CUDA (expected a floating dtype)"));
}

// RAII owners of the descriptors.
struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc(DType t, int64_t n, int64_t c, int64_t h, int64_t w) {
    HMR_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d));
    HMR_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, cudnn_type(t), static_cast<int>(n),
                                               static_cast<int>(c), static_cast<int>(h),
                                               static_cast<int>(w)));
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
};

struct FilterDesc {
  cudnnFilterDescriptor_t d = nullptr;
  FilterDesc(DType t, const ConvGeometry& g) {
    HMR_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d));
    HMR_CUDNN_CHECK(cudnnSetFilter4dDescriptor(d, cudnn_type(t), CUDNN_TENSOR_NCHW,
                                               static_cast<int>(g.out_channels),
                                               static_cast<int>(g.in_channels / g.groups),
                                               static_cast<int>(g.kernel_h), static_cast<int>(g.kernel_w)));
  }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(d); }
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
};

// f32 follows the process-wide TF32 switch of kernels/linalg.h (FMA math keeps full f32
// products); 16-bit types use tensor cores; f64 has only FMA math.
cudnnMathType_t math_type(DType t) {
  if (t == DType::F16 || t == DType::BF16) return CUDNN_TENSOR_OP_MATH;
  if (t == DType::F32 && allow_tf32()) return CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
  return CUDNN_FMA_MATH;
}

struct ConvDesc {
  cudnnConvolutionDescriptor_t d = nullptr;
  ConvDesc(DType t, const ConvGeometry& g) {
    HMR_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d));
    // 16-bit convolutions accumulate in float, as torch's do.
    const cudnnDataType_t compute = t == DType::F64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
    HMR_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
        d, static_cast<int>(g.pad_h), static_cast<int>(g.pad_w), static_cast<int>(g.stride_h),
        static_cast<int>(g.stride_w), static_cast<int>(g.dilation_h), static_cast<int>(g.dilation_w),
        CUDNN_CROSS_CORRELATION, compute));
    HMR_CUDNN_CHECK(cudnnSetConvolutionGroupCount(d, static_cast<int>(g.groups)));
    HMR_CUDNN_CHECK(cudnnSetConvolutionMathType(d, math_type(t)));
  }
  ~ConvDesc() { cudnnDestroyConvolutionDescriptor(d); }
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
};

// Everything one cuDNN convolution call needs, built from the geometry.
struct ConvSetup {
  int device;
  cudnnHandle_t handle;
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
  ConvSetup(const Tensor& like, const ConvGeometry& g)
      : device(like.device().index),
        handle(handle_for(device)),
        x(like.dtype(), g.batch, g.in_channels, g.in_h, g.in_w),
        y(like.dtype(), g.batch, g.out_channels, g.out_h, g.out_w),
        w(like.dtype(), g),
        conv(like.dtype(), g) {
    hmr::cuda::set_device(device);
  }
};

// The algorithm cache key: which pass, and everything cuDNN's choice depends on.
enum class Pass { Forward, BackwardData, BackwardFilter };
using AlgoKey = std::tuple<int, int, int, int, bool, std::vector<int64_t>>;

AlgoKey key_of(Pass pass, const Tensor& like, const ConvGeometry& g) {
  return {static_cast<int>(pass),
          like.device().index,
          static_cast<int>(like.dtype()),
          static_cast<int>(math_type(like.dtype())),
          false,
          {g.batch, g.in_channels, g.in_h, g.in_w, g.out_channels, g.out_h, g.out_w, g.kernel_h, g.kernel_w,
           g.stride_h, g.stride_w, g.pad_h, g.pad_w, g.dilation_h, g.dilation_w, g.groups}};
}

// The first heuristic suggestion cuDNN reports as supported, cached per key. Get*_v7 needs
// no buffers (Find* would run every candidate on real memory), so the choice is cheap.
template <class Algo, class Perf, class GetFn>
Algo choose(Pass pass, const Tensor& like, const ConvGeometry& g, GetFn get) {
  static std::mutex mu;
  static std::map<AlgoKey, Algo> cache;
  const AlgoKey key = key_of(pass, like, g);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  constexpr int kMaxAlgos = 16;
  Perf perf[kMaxAlgos];
  int returned = 0;
  get(kMaxAlgos, &returned, perf);
  for (int i = 0; i < returned; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
    std::lock_guard<std::mutex> lock(mu);
    cache[key] = perf[i].algo;
    return perf[i].algo;
  }
  throw CudaError(str("conv2d: cuDNN found no algorithm for input (", g.batch, ", ", g.in_channels, ", ",
                      g.in_h, ", ", g.in_w, "), ", g.out_channels, " outputs, kernel ", g.kernel_h, "x",
                      g.kernel_w, ", groups ", g.groups));
}

// A workspace from the caching allocator; it returns to the pool in stream order when freed.
Storage workspace(size_t nbytes, int device) {
  return nbytes == 0 ? Storage() : hmr::cuda::allocate(static_cast<int64_t>(nbytes), device);
}
void* data_of(const Storage& s) { return s ? s->data() : nullptr; }

// alpha = 1 and beta = 0 in the scalar type cuDNN expects (double for f64, float otherwise).
struct Scalars {
  double one_d = 1, zero_d = 0;
  float one_f = 1, zero_f = 0;
  bool wide;
  explicit Scalars(DType t) : wide(t == DType::F64) {}
  const void* one() const { return wide ? static_cast<const void*>(&one_d) : &one_f; }
  const void* zero() const { return wide ? static_cast<const void*>(&zero_d) : &zero_f; }
};

constexpr int kThreads = 256;
unsigned blocks_for(int64_t count) {
  return static_cast<unsigned>(std::min<int64_t>((count + kThreads - 1) / kThreads, int64_t{1} << 20));
}

template <class T>
using Acc = std::conditional_t<std::is_same_v<T, double>, double, float>;

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const ConvGeometry& g, const Tensor& y) {
  ConvSetup s(y, g);
  const auto algo = choose<cudnnConvolutionFwdAlgo_t, cudnnConvolutionFwdAlgoPerf_t>(
      Pass::Forward, y, g, [&](int n, int* got, cudnnConvolutionFwdAlgoPerf_t* perf) {
        HMR_CUDNN_CHECK(
            cudnnGetConvolutionForwardAlgorithm_v7(s.handle, s.x.d, s.w.d, s.conv.d, s.y.d, n, got, perf));
      });
  size_t bytes = 0;
  HMR_CUDNN_CHECK(
      cudnnGetConvolutionForwardWorkspaceSize(s.handle, s.x.d, s.w.d, s.conv.d, s.y.d, algo, &bytes));
  Storage ws = workspace(bytes, s.device);
  Scalars k(y.dtype());
  HMR_CUDNN_CHECK(cudnnConvolutionForward(s.handle, k.one(), s.x.d, x.raw_data(), s.w.d, w.raw_data(),
                                          s.conv.d, algo, data_of(ws), bytes, k.zero(), s.y.d, y.raw_data()));
}

void conv2d_backward_input(const Tensor& grad_y, const Tensor& w, const ConvGeometry& g,
                           const Tensor& grad_x) {
  ConvSetup s(grad_x, g);
  const auto algo = choose<cudnnConvolutionBwdDataAlgo_t, cudnnConvolutionBwdDataAlgoPerf_t>(
      Pass::BackwardData, grad_x, g, [&](int n, int* got, cudnnConvolutionBwdDataAlgoPerf_t* perf) {
        HMR_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(s.handle, s.w.d, s.y.d, s.conv.d, s.x.d,
                                                                    n, got, perf));
      });
  size_t bytes = 0;
  HMR_CUDNN_CHECK(
      cudnnGetConvolutionBackwardDataWorkspaceSize(s.handle, s.w.d, s.y.d, s.conv.d, s.x.d, algo, &bytes));
  Storage ws = workspace(bytes, s.device);
  Scalars k(grad_x.dtype());
  HMR_CUDNN_CHECK(cudnnConvolutionBackwardData(s.handle, k.one(), s.w.d, w.raw_data(), s.y.d,
                                               grad_y.raw_data(), s.conv.d, algo, data_of(ws), bytes,
                                               k.zero(), s.x.d, grad_x.raw_data()));
}

void conv2d_backward_weight(const Tensor& grad_y, const Tensor& x, const ConvGeometry& g,
                            const Tensor& grad_w) {
  ConvSetup s(grad_w, g);
  const auto algo = choose<cudnnConvolutionBwdFilterAlgo_t, cudnnConvolutionBwdFilterAlgoPerf_t>(
      Pass::BackwardFilter, grad_w, g, [&](int n, int* got, cudnnConvolutionBwdFilterAlgoPerf_t* perf) {
        HMR_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(s.handle, s.x.d, s.y.d, s.conv.d, s.w.d,
                                                                      n, got, perf));
      });
  size_t bytes = 0;
  HMR_CUDNN_CHECK(
      cudnnGetConvolutionBackwardFilterWorkspaceSize(s.handle, s.x.d, s.y.d, s.conv.d, s.w.d, algo, &bytes));
  Storage ws = workspace(bytes, s.device);
  Scalars k(grad_w.dtype());
  HMR_CUDNN_CHECK(cudnnConvolutionBackwardFilter(s.handle, k.one(), s.x.d, x.raw_data(), s.y.d,
                                                 grad_y.raw_data(), s.conv.d, algo, data_of(ws), bytes,
                                                 k.zero(), s.w.d, grad_w.raw_data()));
}

// ---- bias and pooling kernels -------------------------------------------------------------------

namespace {

template <class T>
__global__ void add_bias_kernel(T* y, const T* bias, int64_t count, int64_t plane, int64_t channels) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x)
    y[i] = cast<T>(cast<Acc<T>>(y[i]) + cast<Acc<T>>(bias[(i / plane) % channels]));
}

// One thread per output: (plane, oh, ow) from the flat index.
struct OutPos {
  int64_t p, oh, ow;
};
HMR_HOST_DEVICE OutPos out_pos(int64_t i, const PoolGeometry& g) {
  return {i / (g.out_h * g.out_w), (i / g.out_w) % g.out_h, i % g.out_w};
}

template <class T>
__global__ void max_pool_kernel(const T* x, PoolGeometry g, T* out, int64_t* indices, int64_t count) {
  using A = Acc<T>;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const OutPos o = out_pos(i, g);
    const T* src = x + o.p * g.in_h * g.in_w;
    A best = cast<A>(-INFINITY);
    int64_t best_index = -1;
    for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
      const int64_t ih = o.oh * g.stride_h - g.pad_h + ki * g.dilation_h;
      if (ih < 0 || ih >= g.in_h) continue;
      for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
        const int64_t iw = o.ow * g.stride_w - g.pad_w + kj * g.dilation_w;
        if (iw < 0 || iw >= g.in_w) continue;
        const A v = cast<A>(src[ih * g.in_w + iw]);
        // Greater, or NaN (the last NaN in the window wins, as in torch and the CPU twin).
        if (v > best || v != v || best_index < 0) {
          best = v;
          best_index = ih * g.in_w + iw;
        }
      }
    }
    out[i] = cast<T>(best);
    indices[i] = best_index;
  }
}

// The range [first, last] of outputs along one dim whose windows may read input position in.
HMR_HOST_DEVICE void windows_reading(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                                     int64_t dilation, int64_t out_size, int64_t& first, int64_t& last) {
  const int64_t reach = in + pad;  // position within the padded input
  const int64_t span = dilation * (kernel - 1);
  first = reach < span ? 0 : (reach - span + stride - 1) / stride;
  last = reach / stride;
  if (last > out_size - 1) last = out_size - 1;
}

template <class T>
__global__ void max_pool_backward_kernel(const T* grad_out, const int64_t* indices, PoolGeometry g, T* grad_x,
                                         int64_t count) {
  using A = Acc<T>;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t plane = i / (g.in_h * g.in_w), ih = (i / g.in_w) % g.in_h, iw = i % g.in_w;
    const int64_t self = ih * g.in_w + iw, base = plane * g.out_h * g.out_w;
    int64_t h0, h1, w0, w1;
    windows_reading(ih, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h, g.out_h, h0, h1);
    windows_reading(iw, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w, g.out_w, w0, w1);
    A acc = A(0);
    for (int64_t oh = h0; oh <= h1; ++oh)
      for (int64_t ow = w0; ow <= w1; ++ow)
        if (indices[base + oh * g.out_w + ow] == self) acc += cast<A>(grad_out[base + oh * g.out_w + ow]);
    grad_x[i] = cast<T>(acc);
  }
}

template <class T>
__global__ void avg_pool_kernel(const T* x, PoolGeometry g, bool count_include_pad, T* out, int64_t count) {
  using A = Acc<T>;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const OutPos o = out_pos(i, g);
    const T* src = x + o.p * g.in_h * g.in_w;
    const int64_t h0 = o.oh * g.stride_h - g.pad_h, w0 = o.ow * g.stride_w - g.pad_w;
    A sum = A(0);
    for (int64_t ih = h0 < 0 ? 0 : h0; ih < h0 + g.kernel_h && ih < g.in_h; ++ih)
      for (int64_t iw = w0 < 0 ? 0 : w0; iw < w0 + g.kernel_w && iw < g.in_w; ++iw)
        sum += cast<A>(src[ih * g.in_w + iw]);
    const int64_t divisor = avg_pool_divisor(g, o.oh, o.ow, count_include_pad);
    out[i] = cast<T>(divisor > 0 ? sum / A(divisor) : A(0));
  }
}

template <class T>
__global__ void avg_pool_backward_kernel(const T* grad_out, PoolGeometry g, bool count_include_pad, T* grad_x,
                                         int64_t count) {
  using A = Acc<T>;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t plane = i / (g.in_h * g.in_w), ih = (i / g.in_w) % g.in_h, iw = i % g.in_w;
    const int64_t base = plane * g.out_h * g.out_w;
    int64_t h0, h1, w0, w1;
    windows_reading(ih, g.kernel_h, g.stride_h, g.pad_h, 1, g.out_h, h0, h1);
    windows_reading(iw, g.kernel_w, g.stride_w, g.pad_w, 1, g.out_w, w0, w1);
    A acc = A(0);
    for (int64_t oh = h0; oh <= h1; ++oh)
      for (int64_t ow = w0; ow <= w1; ++ow) {
        const int64_t divisor = avg_pool_divisor(g, oh, ow, count_include_pad);
        if (divisor > 0) acc += cast<A>(grad_out[base + oh * g.out_w + ow]) / A(divisor);
      }
    grad_x[i] = cast<T>(acc);
  }
}

template <class T>
__global__ void adaptive_avg_pool_kernel(const T* x, PoolGeometry g, T* out, int64_t count) {
  using A = Acc<T>;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const OutPos o = out_pos(i, g);
    const T* src = x + o.p * g.in_h * g.in_w;
    const int64_t h0 = adaptive_start(o.oh, g.in_h, g.out_h), h1 = adaptive_end(o.oh, g.in_h, g.out_h);
    const int64_t w0 = adaptive_start(o.ow, g.in_w, g.out_w), w1 = adaptive_end(o.ow, g.in_w, g.out_w);
    A sum = A(0);
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) sum += cast<A>(src[ih * g.in_w + iw]);
    out[i] = cast<T>(sum / A((h1 - h0) * (w1 - w0)));
  }
}

template <class T>
__global__ void adaptive_avg_pool_backward_kernel(const T* grad_out, PoolGeometry g, T* grad_x,
                                                  int64_t count) {
  using A = Acc<T>;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < count;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t plane = i / (g.in_h * g.in_w), ih = (i / g.in_w) % g.in_h, iw = i % g.in_w;
    const int64_t base = plane * g.out_h * g.out_w;
    A acc = A(0);
    // Output cell o covers [floor(o in / out), ceil((o + 1) in / out)); those covering ih lie
    // between floor(ih out / in) and ceil((ih + 1) out / in).
    for (int64_t oh = (ih * g.out_h) / g.in_h; oh < ((ih + 1) * g.out_h + g.in_h - 1) / g.in_h; ++oh) {
      const int64_t h0 = adaptive_start(oh, g.in_h, g.out_h), h1 = adaptive_end(oh, g.in_h, g.out_h);
      if (ih < h0 || ih >= h1) continue;
      for (int64_t ow = (iw * g.out_w) / g.in_w; ow < ((iw + 1) * g.out_w + g.in_w - 1) / g.in_w; ++ow) {
        const int64_t w0 = adaptive_start(ow, g.in_w, g.out_w), w1 = adaptive_end(ow, g.in_w, g.out_w);
        if (iw < w0 || iw >= w1) continue;
        acc += cast<A>(grad_out[base + oh * g.out_w + ow]) / A((h1 - h0) * (w1 - w0));
      }
    }
    grad_x[i] = cast<T>(acc);
  }
}

// Runs body(T tag) on t's device and stream with the floating type of t.
template <class F>
void launch_floating(const Tensor& t, const char* op, F&& body) {
  hmr::cuda::set_device(t.device().index);
  dispatch_floating(t.dtype(), op, body);
  check_launch(op);
}

}  // namespace

void add_channel_bias(const Tensor& y, const Tensor& bias) {
  launch_floating(y, "conv bias", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t count = y.numel();
    add_bias_kernel<T><<<blocks_for(count), kThreads, 0, stream_of(y.device().index)>>>(
        y.data<T>(), bias.data<T>(), count, y.size(2) * y.size(3), y.size(1));
  });
}

void max_pool2d_forward(const Tensor& x, const PoolGeometry& g, const Tensor& out, const Tensor& indices) {
  launch_floating(out, "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t count = out.numel();
    max_pool_kernel<T><<<blocks_for(count), kThreads, 0, stream_of(out.device().index)>>>(
        x.data<T>(), g, out.data<T>(), indices.data<int64_t>(), count);
  });
}

void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const PoolGeometry& g,
                         const Tensor& grad_x) {
  launch_floating(grad_x, "max_pool2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t count = grad_x.numel();
    max_pool_backward_kernel<T><<<blocks_for(count), kThreads, 0, stream_of(grad_x.device().index)>>>(
        grad_out.data<T>(), indices.data<int64_t>(), g, grad_x.data<T>(), count);
  });
}

void avg_pool2d_forward(const Tensor& x, const PoolGeometry& g, bool count_include_pad, const Tensor& out) {
  launch_floating(out, "avg_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t count = out.numel();
    avg_pool_kernel<T><<<blocks_for(count), kThreads, 0, stream_of(out.device().index)>>>(
        x.data<T>(), g, count_include_pad, out.data<T>(), count);
  });
}

void avg_pool2d_backward(const Tensor& grad_out, const PoolGeometry& g, bool count_include_pad,
                         const Tensor& grad_x) {
  launch_floating(grad_x, "avg_pool2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t count = grad_x.numel();
    avg_pool_backward_kernel<T><<<blocks_for(count), kThreads, 0, stream_of(grad_x.device().index)>>>(
        grad_out.data<T>(), g, count_include_pad, grad_x.data<T>(), count);
  });
}

void adaptive_avg_pool2d_forward(const Tensor& x, const PoolGeometry& g, const Tensor& out) {
  launch_floating(out, "adaptive_avg_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t count = out.numel();
    adaptive_avg_pool_kernel<T><<<blocks_for(count), kThreads, 0, stream_of(out.device().index)>>>(
        x.data<T>(), g, out.data<T>(), count);
  });
}

void adaptive_avg_pool2d_backward(const Tensor& grad_out, const PoolGeometry& g, const Tensor& grad_x) {
  launch_floating(grad_x, "adaptive_avg_pool2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t count = grad_x.numel();
    adaptive_avg_pool_backward_kernel<T>
        <<<blocks_for(count), kThreads, 0, stream_of(grad_x.device().index)>>>(grad_out.data<T>(), g,
                                                                               grad_x.data<T>(), count);
  });
}

}  // namespace hmr::kernels::cuda
