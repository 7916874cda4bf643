// CUDA backend of the elementwise kernels: the same functors (kernels/functors.h), op lists,
// conversions and Philox element->counter mapping as kernels/cpu/elementwise.cpp, run through
// the CUDA launcher (loops.cuh). Each op is a small struct with a __device__ call operator
// rather than a lambda, so no extended-lambda flag is needed and the kernel name says the op.

// The shared functors compare with zero generically; for unsigned T that is always false, which
// is intended and folds away, so nvcc's front-end remark about it is noise here. (Placed before
// the includes: the remark is reported at the functor's line, in functors.h.)
#pragma nv_diag_suppress 186

#include <cuda_runtime_api.h>

#include <vector>

#include "kernels/cuda/loops.cuh"
#include "kernels/elementwise.h"
#include "kernels/random.h"
#include "tensor/dispatch.h"

namespace hmr::kernels::cuda {

namespace {

char* bytes(const Tensor& t) { return static_cast<char*>(t.raw_data()); }


// ---- the per-element operations ------------------------------------------------------------
// Math happens in acc_t<T> (float for the 16-bit floats), as on the CPU.

template <class Fn, class T, class O>
struct UnaryOpFn {
  Fn fn;
  __device__ __forceinline__ O operator()(T v) const { return cast<O>(fn(cast<acc_t<T>>(v))); }
};

template <class Fn, class T, class O>
struct BinaryOpFn {
  __device__ __forceinline__ O operator()(T u, T v) const {
    return cast<O>(Fn{}(cast<acc_t<T>>(u), cast<acc_t<T>>(v)));
  }
};

// One kernel serves both operand orders: the branch is uniform across the grid.
template <class Fn, class T, class O>
struct BinaryScalarOpFn {
  acc_t<T> s;
  bool scalar_first;
  __device__ __forceinline__ O operator()(T u) const {
    const acc_t<T> x = cast<acc_t<T>>(u);
    return cast<O>(scalar_first ? Fn{}(s, x) : Fn{}(x, s));
  }
};

template <class T>
struct WhereFn {
  __device__ __forceinline__ T operator()(bool c, T u, T v) const { return c ? u : v; }
};

template <class O, class I>
struct CastFn {
  __device__ __forceinline__ O operator()(I v) const { return cast<O>(v); }
};

template <class T>
struct FillFn {
  T value;
  __device__ __forceinline__ T operator()() const { return value; }
};

template <class T>
struct ArangeFn {
  double start, step;
  __device__ __forceinline__ T operator()(int64_t i) const {
    return cast<T>(start + static_cast<double>(i) * step);
  }
};

template <class T>
struct UniformFn {
  double low, high;
  uint64_t seed, offset;
  __device__ __forceinline__ T operator()(int64_t i) const {
    using A = acc_t<T>;
    A u = random_unit<A>(random_words(seed, offset, i));
    return cast<T>(static_cast<A>(low) + static_cast<A>(high - low) * u);
  }
};

template <class T>
struct NormalFn {
  double mean, std;
  uint64_t seed, offset;
  __device__ __forceinline__ T operator()(int64_t i) const {
    using A = acc_t<T>;
    A z = random_normal<A>(random_words(seed, offset, i));
    return cast<T>(static_cast<A>(mean) + static_cast<A>(std) * z);
  }
};

template <class T>
struct RandintFn {
  int64_t low, high;
  uint64_t seed, offset;
  __device__ __forceinline__ T operator()(int64_t i) const {
    return cast<T>(random_int(random_words(seed, offset, i), low, high));
  }
};

template <class T>
struct BernoulliFn {
  double p;
  uint64_t seed, offset;
  __device__ __forceinline__ T operator()(int64_t i) const {
    return cast<T>(random_unit<double>(random_words(seed, offset, i)) < p ? 1.0 : 0.0);
  }
};

int device_of(const Tensor& t) { return t.device().index; }

}  // namespace

// ---- entry points ---------------------------------------------------------------------------

void unary(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams params) {
  auto plan = plan_of<2>(op_name(op), out, {&x});
  char* base[2] = {bytes(out), bytes(x)};
  switch (op) {
#define HMR_CASE(Name, Fn, kind, outk)                                                  \
  case UnaryOp::Name:                                                                   \
    HMR_DISPATCH_KIND_##kind(x.dtype(), #Name, [&](auto tag) {                          \
      using T = typename decltype(tag)::type;                                           \
      using O = std::conditional_t<HMR_IS_BOOL_OUT_##outk, bool, T>;                    \
      UnaryOpFn<Fn, T, O> f;                                                            \
      f.fn.a = params.a;                                                                \
      f.fn.b = params.b;                                                                \
      for_each<O, T>(plan, base, f, device_of(out), #Name);                             \
    });                                                                                 \
    return;
    HMR_UNARY_OPS(HMR_CASE)
#undef HMR_CASE
  }
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  auto plan = plan_of<3>(op_name(op), out, {&a, &b});
  char* base[3] = {bytes(out), bytes(a), bytes(b)};
  switch (op) {
#define HMR_CASE(Name, Fn, kind, outk)                                                  \
  case BinaryOp::Name:                                                                  \
    HMR_DISPATCH_KIND_##kind(a.dtype(), #Name, [&](auto tag) {                          \
      using T = typename decltype(tag)::type;                                           \
      using O = std::conditional_t<HMR_IS_BOOL_OUT_##outk, bool, T>;                    \
      for_each<O, T, T>(plan, base, BinaryOpFn<Fn, T, O>{}, device_of(out), #Name);     \
    });                                                                                 \
    return;
    HMR_BINARY_OPS(HMR_CASE)
#undef HMR_CASE
  }
}

void binary_scalar(BinaryOp op, const Tensor& a, double s, bool scalar_first, const Tensor& out) {
  auto plan = plan_of<2>(op_name(op), out, {&a});
  char* base[2] = {bytes(out), bytes(a)};
  switch (op) {
#define HMR_CASE(Name, Fn, kind, outk)                                                  \
  case BinaryOp::Name:                                                                  \
    HMR_DISPATCH_KIND_##kind(a.dtype(), #Name, [&](auto tag) {                          \
      using T = typename decltype(tag)::type;                                           \
      using O = std::conditional_t<HMR_IS_BOOL_OUT_##outk, bool, T>;                    \
      /* Rounded through T first, as the CPU does: 0.1 added to f16 is f16's 0.1. */    \
      BinaryScalarOpFn<Fn, T, O> f{cast<acc_t<T>>(cast<T>(s)), scalar_first};           \
      for_each<O, T>(plan, base, f, device_of(out), #Name);                             \
    });                                                                                 \
    return;
    HMR_BINARY_OPS(HMR_CASE)
#undef HMR_CASE
  }
}

void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  auto plan = plan_of<4>("where", out, {&cond, &a, &b});
  char* base[4] = {bytes(out), bytes(cond), bytes(a), bytes(b)};
  dispatch_all(a.dtype(), "where", [&](auto tag) {
    using T = typename decltype(tag)::type;
    for_each<T, bool, T, T>(plan, base, WhereFn<T>{}, device_of(out), "where");
  });
}

void copy_same_device(const Tensor& dst, const Tensor& src) {
  auto plan = plan_of<2>("copy", dst, {&src});
  if (plan.numel == 0) return;
  if (plan.contiguous && dst.dtype() == src.dtype()) {
    // A plain device-to-device copy: the copy engine or the driver's tuned kernel.
    const Launch l = launch_on(device_of(dst));
    cudaError_t err = cudaMemcpyAsync(dst.raw_data(), src.raw_data(),
                                      static_cast<size_t>(plan.numel * dst.itemsize()),
                                      cudaMemcpyDeviceToDevice, l.stream);
    HMR_CHECK(err == cudaSuccess, CudaError, "copy: cudaMemcpyAsync failed: ", cudaGetErrorString(err));
    return;
  }
  char* base[2] = {bytes(dst), bytes(src)};
  dispatch_all(dst.dtype(), "copy", [&](auto otag) {
    using O = typename decltype(otag)::type;
    dispatch_all(src.dtype(), "copy", [&](auto itag) {
      using I = typename decltype(itag)::type;
      for_each<O, I>(plan, base, CastFn<O, I>{}, device_of(dst), "copy");
    });
  });
}

void fill(const Tensor& dst, double value) {
  auto plan = plan_of<1>("fill", dst, {});
  char* base[1] = {bytes(dst)};
  dispatch_all(dst.dtype(), "fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    for_each<T>(plan, base, FillFn<T>{cast<T>(value)}, device_of(dst), "fill");
  });
}

void arange(const Tensor& out, double start, double step) {
  dispatch_numeric(out.dtype(), "arange", [&](auto tag) {
    using T = typename decltype(tag)::type;
    generate(out.data<T>(), out.numel(), ArangeFn<T>{start, step}, device_of(out), "arange");
  });
}

void uniform(const Tensor& out, double low, double high, uint64_t seed, uint64_t offset) {
  dispatch_floating(out.dtype(), "uniform", [&](auto tag) {
    using T = typename decltype(tag)::type;
    generate(out.data<T>(), out.numel(), UniformFn<T>{low, high, seed, offset}, device_of(out), "uniform");
  });
}

void normal(const Tensor& out, double mean, double std, uint64_t seed, uint64_t offset) {
  dispatch_floating(out.dtype(), "normal", [&](auto tag) {
    using T = typename decltype(tag)::type;
    generate(out.data<T>(), out.numel(), NormalFn<T>{mean, std, seed, offset}, device_of(out), "normal");
  });
}

void randint(const Tensor& out, int64_t low, int64_t high, uint64_t seed, uint64_t offset) {
  dispatch_all(out.dtype(), "randint", [&](auto tag) {
    using T = typename decltype(tag)::type;
    generate(out.data<T>(), out.numel(), RandintFn<T>{low, high, seed, offset}, device_of(out), "randint");
  });
}

void bernoulli(const Tensor& out, double p, uint64_t seed, uint64_t offset) {
  dispatch_all(out.dtype(), "bernoulli", [&](auto tag) {
    using T = typename decltype(tag)::type;
    generate(out.data<T>(), out.numel(), BernoulliFn<T>{p, seed, offset}, device_of(out), "bernoulli");
  });
}

}  // namespace hmr::kernels::cuda
