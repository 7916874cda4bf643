// Creation ops: memory from tensor/, values from the fill, arange and random kernels.
#include <cmath>

#include "autograd/ops.h"
#include "kernels/elementwise.h"

namespace hmr {

namespace {
Tensor finish(Tensor t, const TensorOptions& opts) {
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}
Generator& gen_or_default(Generator* g) { return g ? *g : default_generator(); }
}  // namespace

Tensor empty(const Shape& sizes, TensorOptions opts) {
  return finish(Tensor::empty(sizes, opts.dtype, opts.device), opts);
}

Tensor full(const Shape& sizes, const Scalar& value, TensorOptions opts) {
  Tensor t = Tensor::empty(sizes, opts.dtype, opts.device);
  kernels::fill(t, value.to_double());
  return finish(t, opts);
}

Tensor full(const Shape& sizes, const Scalar& value) {
  DType dtype = kDefaultFloat;
  if (value.kind() == Scalar::Kind::Bool) dtype = DType::Bool;
  else if (value.kind() == Scalar::Kind::Int) dtype = DType::I64;
  return full(sizes, value, TensorOptions(dtype));
}

Tensor zeros(const Shape& sizes, TensorOptions opts) { return full(sizes, 0, opts); }
Tensor ones(const Shape& sizes, TensorOptions opts) { return full(sizes, 1, opts); }
Tensor zeros_like(const Tensor& t) { return zeros(t.sizes(), {t.dtype(), t.device()}); }
Tensor ones_like(const Tensor& t) { return ones(t.sizes(), {t.dtype(), t.device()}); }
Tensor full_like(const Tensor& t, const Scalar& v) { return full(t.sizes(), v, {t.dtype(), t.device()}); }
Tensor empty_like(const Tensor& t) { return Tensor::empty(t.sizes(), t.dtype(), t.device()); }
Tensor scalar_tensor(const Scalar& value, TensorOptions opts) { return full({}, value, opts); }

Tensor arange(const Scalar& end, std::optional<TensorOptions> opts) { return arange(0, end, 1, opts); }

Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step, std::optional<TensorOptions> opts) {
  double s = start.to_double(), e = end.to_double(), st = step.to_double();
  HMR_CHECK(st != 0, ValueError, "arange: step must be nonzero");
  HMR_CHECK(std::isfinite(s) && std::isfinite(e), ValueError, "arange: unsupported range [", s, ", ", e, ")");
  HMR_CHECK((st > 0 && e >= s) || (st < 0 && e <= s), ValueError,
            "arange: upper bound and step sign are inconsistent (start ", s, ", end ", e, ", step ", st, ")");
  TensorOptions o = opts ? *opts : TensorOptions(DType::I64);
  if (!opts && (start.is_floating() || end.is_floating() || step.is_floating())) o.dtype = kDefaultFloat;
  auto n = static_cast<int64_t>(std::ceil((e - s) / st));
  Tensor t = Tensor::empty({n}, o.dtype, o.device);
  kernels::arange(t, s, st);
  return finish(t, o);
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions opts) {
  HMR_CHECK(steps >= 0, ValueError, "linspace: number of steps must be non-negative, found ", steps);
  Tensor t = Tensor::empty({steps}, opts.dtype, opts.device);
  double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  // As PyTorch: the first half counts up from start, the second half down from end, so both
  // ends are exact. The second half is written through a reversed view of t.
  int64_t half = steps / 2;
  if (half == 0) {
    kernels::arange(t, start, step);
    return finish(t, opts);
  }
  kernels::arange(Tensor::make_view(t.storage(), {half}, {1}, 0, t.dtype()), start, step);
  int64_t rest = steps - half;
  Tensor tail = Tensor::empty({rest}, opts.dtype, opts.device);
  kernels::arange(tail, end, -step);
  kernels::copy(Tensor::make_view(t.storage(), {rest}, {-1}, steps - 1, t.dtype()), tail);
  return finish(t, opts);
}

Tensor eye(int64_t n, std::optional<int64_t> m, TensorOptions opts) {
  int64_t cols = m ? *m : n;
  HMR_CHECK(n >= 0 && cols >= 0, ValueError, "eye: expected non-negative sizes, found ", n, "x", cols);
  Tensor t = Tensor::empty({n, cols}, opts.dtype, opts.device);
  kernels::fill(t, 0.0);
  // The diagonal is a 1-D view with stride cols + 1.
  Tensor diag = Tensor::make_view(t.storage(), {std::min(n, cols)}, {cols + 1}, 0, t.dtype());
  kernels::fill(diag, 1.0);
  return finish(t, opts);
}

Tensor rand(const Shape& sizes, TensorOptions opts, Generator* gen) {
  Tensor t = Tensor::empty(sizes, opts.dtype, opts.device);
  kernels::uniform(t, 0.0, 1.0, gen_or_default(gen));
  return finish(t, opts);
}

Tensor randn(const Shape& sizes, TensorOptions opts, Generator* gen) {
  Tensor t = Tensor::empty(sizes, opts.dtype, opts.device);
  kernels::normal(t, 0.0, 1.0, gen_or_default(gen));
  return finish(t, opts);
}

Tensor randint(int64_t low, int64_t high, const Shape& sizes, TensorOptions opts, Generator* gen) {
  Tensor t = Tensor::empty(sizes, opts.dtype, opts.device);
  kernels::randint(t, low, high, gen_or_default(gen));
  return finish(t, opts);
}

Tensor rand_like(const Tensor& t, Generator* gen) { return rand(t.sizes(), {t.dtype(), t.device()}, gen); }
Tensor randn_like(const Tensor& t, Generator* gen) { return randn(t.sizes(), {t.dtype(), t.device()}, gen); }

Tensor tensor(const std::vector<double>& values, const Shape& sizes, TensorOptions opts) {
  Shape shape = sizes.empty() ? Shape{static_cast<int64_t>(values.size())} : sizes;
  Tensor::check_numel_matches(static_cast<int64_t>(values.size()), shape);
  Tensor host = Tensor::from_vector(values, shape);
  Tensor t = Tensor::empty(shape, opts.dtype, opts.device);
  kernels::copy(t, host);
  return finish(t, opts);
}

Tensor tensor(std::initializer_list<double> values, TensorOptions opts) {
  return tensor(std::vector<double>(values), {}, opts);
}

}  // namespace hmr
