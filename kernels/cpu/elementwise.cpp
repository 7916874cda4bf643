// CPU backend of the elementwise kernels: dtype dispatch around the loop driver.
#include "kernels/cpu/loops.h"
#include "kernels/elementwise.h"
#include "kernels/random.h"
#include "tensor/dispatch.h"

namespace hmr::kernels::cpu {

namespace {


}  // namespace

void unary(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams params) {
  auto plan = plan_of<2>(op_name(op), out, {&x});
  char* base[2] = {static_cast<char*>(out.raw_data()), static_cast<char*>(x.raw_data())};
  switch (op) {
#define HMR_CASE(Name, Fn, kind, outk)                                                   \
  case UnaryOp::Name:                                                                    \
    HMR_DISPATCH_KIND_##kind(x.dtype(), #Name, [&](auto tag) {                           \
      using T = typename decltype(tag)::type;                                            \
      using A = acc_t<T>;                                                                \
      using O = std::conditional_t<HMR_IS_BOOL_OUT_##outk, bool, T>;                     \
      Fn fn;                                                                             \
      fn.a = params.a;                                                                   \
      fn.b = params.b;                                                                   \
      for_each<O, T>(plan, base, [fn](T v) { return cast<O>(fn(cast<A>(v))); });        \
    });                                                                                  \
    return;
    HMR_UNARY_OPS(HMR_CASE)
#undef HMR_CASE
  }
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  auto plan = plan_of<3>(op_name(op), out, {&a, &b});
  char* base[3] = {static_cast<char*>(out.raw_data()), static_cast<char*>(a.raw_data()),
                   static_cast<char*>(b.raw_data())};
  switch (op) {
#define HMR_CASE(Name, Fn, kind, outk)                                                     \
  case BinaryOp::Name:                                                                     \
    HMR_DISPATCH_KIND_##kind(a.dtype(), #Name, [&](auto tag) {                             \
      using T = typename decltype(tag)::type;                                              \
      using A = acc_t<T>;                                                                  \
      using O = std::conditional_t<HMR_IS_BOOL_OUT_##outk, bool, T>;                       \
      for_each<O, T, T>(plan, base,                                                        \
                        [](T u, T v) { return cast<O>(Fn{}(cast<A>(u), cast<A>(v))); });   \
    });                                                                                    \
    return;
    HMR_BINARY_OPS(HMR_CASE)
#undef HMR_CASE
  }
}

void binary_scalar(BinaryOp op, const Tensor& a, double s, bool scalar_first, const Tensor& out) {
  auto plan = plan_of<2>(op_name(op), out, {&a});
  char* base[2] = {static_cast<char*>(out.raw_data()), static_cast<char*>(a.raw_data())};
  switch (op) {
#define HMR_CASE(Name, Fn, kind, outk)                                                      \
  case BinaryOp::Name:                                                                      \
    HMR_DISPATCH_KIND_##kind(a.dtype(), #Name, [&](auto tag) {                              \
      using T = typename decltype(tag)::type;                                               \
      using A = acc_t<T>;                                                                   \
      using O = std::conditional_t<HMR_IS_BOOL_OUT_##outk, bool, T>;                        \
      const A sv = cast<A>(cast<T>(s));                                                     \
      if (scalar_first)                                                                     \
        for_each<O, T>(plan, base, [sv](T u) { return cast<O>(Fn{}(sv, cast<A>(u))); });    \
      else                                                                                  \
        for_each<O, T>(plan, base, [sv](T u) { return cast<O>(Fn{}(cast<A>(u), sv)); });    \
    });                                                                                     \
    return;
    HMR_BINARY_OPS(HMR_CASE)
#undef HMR_CASE
  }
}

void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  auto plan = plan_of<4>("where", out, {&cond, &a, &b});
  char* base[4] = {static_cast<char*>(out.raw_data()), static_cast<char*>(cond.raw_data()),
                   static_cast<char*>(a.raw_data()), static_cast<char*>(b.raw_data())};
  dispatch_all(a.dtype(), "where", [&](auto tag) {
    using T = typename decltype(tag)::type;
    for_each<T, bool, T, T>(plan, base, [](bool c, T u, T v) { return c ? u : v; });
  });
}

void copy_same_device(const Tensor& dst, const Tensor& src) {
  auto plan = plan_of<2>("copy", dst, {&src});
  char* base[2] = {static_cast<char*>(dst.raw_data()), static_cast<char*>(src.raw_data())};
  dispatch_all(dst.dtype(), "copy", [&](auto otag) {
    using O = typename decltype(otag)::type;
    dispatch_all(src.dtype(), "copy", [&](auto itag) {
      using I = typename decltype(itag)::type;
      for_each<O, I>(plan, base, [](I v) { return cast<O>(v); });
    });
  });
}

void fill(const Tensor& dst, double value) {
  auto plan = plan_of<1>("fill", dst, {});
  char* base[1] = {static_cast<char*>(dst.raw_data())};
  dispatch_all(dst.dtype(), "fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = cast<T>(value);
    for_each<T>(plan, base, [v]() { return v; });
  });
}

void arange(const Tensor& out, double start, double step) {
  dispatch_numeric(out.dtype(), "arange", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = out.data<T>();
    parallel_for(0, out.numel(), kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) o[i] = cast<T>(start + static_cast<double>(i) * step);
    });
  });
}

namespace {
template <bool Floating, class F>
void random_fill(const Tensor& out, const char* op, F draw) {
  auto body = [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = out.data<T>();
    parallel_for(0, out.numel(), kGrain / 8, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) o[i] = draw(tag, i);
    });
  };
  if constexpr (Floating) dispatch_floating(out.dtype(), op, body);
  else dispatch_all(out.dtype(), op, body);
}
}  // namespace

void uniform(const Tensor& out, double low, double high, uint64_t seed, uint64_t offset) {
  random_fill<true>(out, "uniform", [=](auto tag, int64_t i) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    A u = random_unit<A>(random_words(seed, offset, i));
    return cast<T>(static_cast<A>(low) + static_cast<A>(high - low) * u);
  });
}

void normal(const Tensor& out, double mean, double std, uint64_t seed, uint64_t offset) {
  random_fill<true>(out, "normal", [=](auto tag, int64_t i) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    A z = random_normal<A>(random_words(seed, offset, i));
    return cast<T>(static_cast<A>(mean) + static_cast<A>(std) * z);
  });
}

void randint(const Tensor& out, int64_t low, int64_t high, uint64_t seed, uint64_t offset) {
  random_fill<false>(out, "randint", [=](auto tag, int64_t i) {
    using T = typename decltype(tag)::type;
    return cast<T>(random_int(random_words(seed, offset, i), low, high));
  });
}

void bernoulli(const Tensor& out, double p, uint64_t seed, uint64_t offset) {
  random_fill<false>(out, "bernoulli", [=](auto tag, int64_t i) {
    using T = typename decltype(tag)::type;
    return cast<T>(random_unit<double>(random_words(seed, offset, i)) < p ? 1.0 : 0.0);
  });
}

}  // namespace hmr::kernels::cpu
