// Checks and device dispatch for the elementwise kernels.
#include "kernels/elementwise.h"

#include "kernels/backend.h"
#include "kernels/plan.h"
#include "tensor/cuda_context.h"

namespace hmr::kernels {

#define HMR_NAME_ENTRY(Name, Fn, kind, out) #Name,
#define HMR_BOOL_ENTRY(Name, Fn, kind, out) HMR_IS_BOOL_OUT_##out,
namespace {
const char* const kUnaryNames[] = {HMR_UNARY_OPS(HMR_NAME_ENTRY)};
const char* const kBinaryNames[] = {HMR_BINARY_OPS(HMR_NAME_ENTRY)};
const bool kUnaryBool[] = {HMR_UNARY_OPS(HMR_BOOL_ENTRY)};
const bool kBinaryBool[] = {HMR_BINARY_OPS(HMR_BOOL_ENTRY)};
}  // namespace
const char* op_name(UnaryOp op) { return kUnaryNames[static_cast<int>(op)]; }
const char* op_name(BinaryOp op) { return kBinaryNames[static_cast<int>(op)]; }
bool returns_bool(UnaryOp op) { return kUnaryBool[static_cast<int>(op)]; }
bool returns_bool(BinaryOp op) { return kBinaryBool[static_cast<int>(op)]; }

void check_same_device(const char* op, const Tensor& out, std::initializer_list<const Tensor*> ins) {
  for (const Tensor* t : ins)
    HMR_CHECK(t->device() == out.device(), DeviceError, op, ": expected all tensors on ",
              out.device(), " but found one on ", t->device());
}

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  HMR_CHECK(a.dtype() == b.dtype(), DTypeError, op, ": expected operands of one dtype but found ",
            a.dtype(), " and ", b.dtype());
}

namespace {
void check_out_dtype(const char* op, bool bool_out, DType in, const Tensor& out) {
  DType want = bool_out ? DType::Bool : in;
  HMR_CHECK(out.dtype() == want, DTypeError, op, ": expected an output of dtype ", want,
            " but found ", out.dtype());
}
}  // namespace

void unary(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams params) {
  check_same_device(op_name(op), out, {&x});
  check_out_dtype(op_name(op), returns_bool(op), x.dtype(), out);
  HMR_DISPATCH_DEVICE(out, unary(op, x, out, params));
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  check_same_device(op_name(op), out, {&a, &b});
  check_same_dtype(op_name(op), a, b);
  check_out_dtype(op_name(op), returns_bool(op), a.dtype(), out);
  HMR_DISPATCH_DEVICE(out, binary(op, a, b, out));
}

void binary_scalar(BinaryOp op, const Tensor& a, double s, bool scalar_first, const Tensor& out) {
  check_same_device(op_name(op), out, {&a});
  check_out_dtype(op_name(op), returns_bool(op), a.dtype(), out);
  HMR_DISPATCH_DEVICE(out, binary_scalar(op, a, s, scalar_first, out));
}

void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  check_same_device("where", out, {&cond, &a, &b});
  HMR_CHECK(cond.dtype() == DType::Bool, DTypeError, "where: expected a bool condition but found ",
            cond.dtype());
  check_same_dtype("where", a, b);
  check_same_dtype("where", a, out);
  HMR_DISPATCH_DEVICE(out, where(cond, a, b, out));
}

void copy(const Tensor& dst, const Tensor& src) {
  if (dst.numel() == 0) return;
  if (dst.device() == src.device()) {
    HMR_DISPATCH_DEVICE(dst, copy_same_device(dst, src));
    return;
  }
  // Across devices: bring src over as one contiguous block of its own dtype, then finish on dst's device.
  Tensor src_c = src;
  if (!src.is_contiguous()) {
    src_c = Tensor::empty(src.sizes(), src.dtype(), src.device());
    HMR_DISPATCH_DEVICE(src, copy_same_device(src_c, src));
  }
  bool direct = dst.is_contiguous() && dst.dtype() == src.dtype() && dst.sizes() == src.sizes();
  Tensor landing = direct ? dst : Tensor::empty(src.sizes(), src.dtype(), dst.device());
  ::hmr::cuda::memcpy(landing.raw_data(), dst.device(), src_c.raw_data(), src.device(),
               src_c.numel() * src_c.itemsize());
  if (!direct) HMR_DISPATCH_DEVICE(dst, copy_same_device(dst, landing));
}

void fill(const Tensor& dst, double value) { HMR_DISPATCH_DEVICE(dst, fill(dst, value)); }

void arange(const Tensor& out, double start, double step) {
  HMR_CHECK(out.is_contiguous(), ValueError, "arange: expected a contiguous output");
  HMR_DISPATCH_DEVICE(out, arange(out, start, step));
}

void uniform(const Tensor& out, double low, double high, Generator& gen) {
  HMR_CHECK(out.is_floating_point(), DTypeError, "uniform: expected a floating output but found ", out.dtype());
  uint64_t offset = gen.reserve(random_counters(out.numel()));
  Tensor dst = out.is_contiguous() ? out : Tensor::empty(out.sizes(), out.dtype(), out.device());
  HMR_DISPATCH_DEVICE(dst, uniform(dst, low, high, gen.seed(), offset));
  if (!dst.is_same(out)) copy(out, dst);
}

void normal(const Tensor& out, double mean, double std, Generator& gen) {
  HMR_CHECK(out.is_floating_point(), DTypeError, "normal: expected a floating output but found ", out.dtype());
  HMR_CHECK(std >= 0, ValueError, "normal: expected std >= 0 but found ", std);
  uint64_t offset = gen.reserve(random_counters(out.numel()));
  Tensor dst = out.is_contiguous() ? out : Tensor::empty(out.sizes(), out.dtype(), out.device());
  HMR_DISPATCH_DEVICE(dst, normal(dst, mean, std, gen.seed(), offset));
  if (!dst.is_same(out)) copy(out, dst);
}

void randint(const Tensor& out, int64_t low, int64_t high, Generator& gen) {
  HMR_CHECK(low < high, ValueError, "randint: expected low < high but found [", low, ", ", high, ")");
  uint64_t offset = gen.reserve(random_counters(out.numel()));
  Tensor dst = out.is_contiguous() ? out : Tensor::empty(out.sizes(), out.dtype(), out.device());
  HMR_DISPATCH_DEVICE(dst, randint(dst, low, high, gen.seed(), offset));
  if (!dst.is_same(out)) copy(out, dst);
}

void bernoulli(const Tensor& out, double p, Generator& gen) {
  HMR_CHECK(p >= 0 && p <= 1, ValueError, "bernoulli: expected 0 <= p <= 1 but found ", p);
  uint64_t offset = gen.reserve(random_counters(out.numel()));
  Tensor dst = out.is_contiguous() ? out : Tensor::empty(out.sizes(), out.dtype(), out.device());
  HMR_DISPATCH_DEVICE(dst, bernoulli(dst, p, gen.seed(), offset));
  if (!dst.is_same(out)) copy(out, dst);
}

}  // namespace hmr::kernels
