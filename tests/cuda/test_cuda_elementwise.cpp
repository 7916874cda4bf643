// The CUDA elementwise kernels against their CPU twins: every op of the unary and binary lists,
// every dtype the op allows, on contiguous, transposed, sliced-with-step, broadcast, misaligned
// and strided-output layouts of awkward sizes (1, 7, 1023, 65537: not multiples of a block or a
// vector). The CPU backend is the reference; its own tests hold it to hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "kernels/elementwise.h"
#include "tensor/cuda_context.h"

using namespace hmr;
using kernels::BinaryOp;
using kernels::UnaryOp;

#define HMR_SKIP_WITHOUT_GPU() \
  if (hmr::cuda::device_count() == 0) GTEST_SKIP() << hmr::cuda::unavailable_reason()

namespace {

const int64_t kSizes[] = {1, 7, 1023, 65537};

std::vector<DType> dtypes_of(const std::string& kind) {
  std::vector<DType> d = {DType::F32, DType::F64, DType::F16, DType::BF16};
  if (kind == "Floating") return d;
  for (DType t : {DType::U8, DType::I32, DType::I64}) d.push_back(t);
  if (kind == "Numeric") return d;
  d.push_back(DType::Bool);
  return d;
}

struct Domain {
  double lo = -3, hi = 3;
  bool integral = false;  // whole numbers, so comparisons meet equal values
};

// Values uniform in the domain (whole numbers for integer dtypes), made in f64 on the CPU and
// converted, so both devices start from the same bits. u8 cannot hold negatives (and a negative
// double converted to u8 is undefined), so its domain starts at 0.
Tensor make_values(const Shape& shape, DType dtype, Domain d, uint64_t seed) {
  if (dtype == DType::U8) {
    d.lo = std::max(d.lo, 0.0);
    d.hi = std::max(d.hi, d.lo + 4);
  }
  Generator gen(seed);
  Tensor v = Tensor::empty(shape, DType::F64);
  kernels::uniform(v, d.lo, d.hi, gen);
  if (dtype == DType::Bool) {
    Tensor b = Tensor::empty(shape, DType::Bool);
    kernels::binary_scalar(BinaryOp::Gt, v, (d.lo + d.hi) / 2, false, b);
    return b;
  }
  if (d.integral || is_integral(dtype)) kernels::unary(UnaryOp::Floor, v, v);
  Tensor out = Tensor::empty(shape, dtype);
  kernels::copy(out, v);
  return out;
}

struct Tolerance {
  double rtol, atol;
};
Tolerance tolerance_of(DType t) {
  switch (t) {
    case DType::F32: return {1e-5, 1e-6};
    case DType::F64: return {1e-12, 1e-12};
    case DType::F16:
    case DType::BF16: return {1e-2, 1e-2};
    default: return {0, 0};
  }
}

// Element-by-element comparison of a CUDA result with the CPU one (NaN equals NaN).
::testing::AssertionResult matches(const Tensor& cuda_result, const Tensor& cpu_result, Tolerance tol) {
  if (cuda_result.sizes() != cpu_result.sizes())
    return ::testing::AssertionFailure() << str("shapes ", cuda_result.sizes(), " vs ", cpu_result.sizes());
  if (cuda_result.dtype() != cpu_result.dtype())
    return ::testing::AssertionFailure() << str("dtypes ", cuda_result.dtype(), " vs ", cpu_result.dtype());
  std::vector<double> got = cuda_result.to_vector<double>(), want = cpu_result.to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) {
    double g = got[i], w = want[i];
    if (std::isnan(g) && std::isnan(w)) continue;
    if (g == w) continue;
    if (std::isfinite(g) && std::isfinite(w) && std::abs(g - w) <= tol.atol + tol.rtol * std::abs(w)) continue;
    return ::testing::AssertionFailure() << "element " << i << ": cuda " << g << " vs cpu " << w;
  }
  return ::testing::AssertionSuccess();
}

// One input as the same view of the same values on both devices.
struct Operand {
  Tensor cpu, cuda;
};
using View = std::function<Tensor(const Tensor&)>;
Operand operand(const Shape& base_shape, const View& view, DType dtype, Domain d, uint64_t seed) {
  Tensor base = make_values(base_shape, dtype, d, seed);
  return {view(base), view(base.to(Device::cuda()))};
}
Tensor identity(const Tensor& t) { return t; }

// An output on a device: contiguous, or every other element of a buffer twice as long.
Tensor make_out(const Shape& shape, DType dtype, Device device, bool strided) {
  if (!strided) return Tensor::empty(shape, dtype, device);
  Shape wide = shape;
  wide.back() *= 2;
  return Tensor::empty(wide, dtype, device).slice(-1, 0, wide.back(), 2);
}

// The layouts every op runs on; n is the length of the awkward dim.
struct Layout {
  std::string name;
  Shape a_base, b_base;  // shapes the values are made in
  View a_view, b_view;   // the views the kernels see
  Shape out;
  bool strided_out = false;
};

std::vector<Layout> layouts(int64_t n) {
  auto transpose = [](const Tensor& t) { return t.t(); };
  auto every_other = [n](const Tensor& t) { return t.slice(0, 0, 5, 2).slice(1, 1, 2 * n, 2); };
  auto every_third = [n](const Tensor& t) { return t.slice(1, 0, 3 * n, 3); };
  // One element in: contiguous, but the data pointer is off the 16-byte vector alignment.
  auto skip_one = [n](const Tensor& t) { return t.slice(0, 1, n + 1); };
  auto skip_three = [n](const Tensor& t) { return t.slice(0, 3, n + 3); };
  return {
      {"contiguous", {n}, {n}, identity, identity, {n}},
      {"transposed", {3, n}, {n, 3}, transpose, identity, {n, 3}},
      {"sliced-with-step", {5, 2 * n}, {3, 3 * n}, every_other, every_third, {3, n}},
      {"broadcast", {n, 1}, {4}, identity, identity, {n, 4}},
      {"scalar-tensor", {n}, {}, identity, identity, {n}},
      {"misaligned", {n + 1}, {n + 3}, skip_one, skip_three, {n}},
      {"strided-output", {n}, {n}, identity, identity, {n}, true},
  };
}

std::string describe(const char* op, DType t, const Layout& l, int64_t n) {
  return str(op, " ", t, " ", l.name, " n=", n);
}

// ---- per-op inputs ---------------------------------------------------------------------------

Domain unary_domain(UnaryOp op) {
  switch (op) {
    case UnaryOp::Log:
    case UnaryOp::Log1p:
    case UnaryOp::Sqrt:
    case UnaryOp::Rsqrt:
    case UnaryOp::Reciprocal:
    case UnaryOp::PowScalar: return {0.1, 3};
    case UnaryOp::Asin:
    case UnaryOp::Acos: return {-0.95, 0.95};
    case UnaryOp::Tan: return {-1.2, 1.2};
    case UnaryOp::IsNan:
    case UnaryOp::IsInf:
    case UnaryOp::IsFinite:
    case UnaryOp::LogicalNot: return {-2, 2, true};  // zeros matter for logical_not
    default: return {-3, 3};
  }
}

kernels::UnaryParams unary_params(UnaryOp op, DType t) {
  bool whole = !is_floating(t);  // integer bounds: a negative bound is undefined for u8
  switch (op) {
    case UnaryOp::Clamp: return whole ? kernels::UnaryParams{1, 3} : kernels::UnaryParams{-0.5, 0.7};
    case UnaryOp::ClampMin: return whole ? kernels::UnaryParams{1, 0} : kernels::UnaryParams{-0.3, 0};
    case UnaryOp::ClampMax: return whole ? kernels::UnaryParams{2, 0} : kernels::UnaryParams{0.4, 0};
    case UnaryOp::PowScalar: return {2.5, 0};
    case UnaryOp::LeakyRelu: return {0.1, 0};
    case UnaryOp::Elu: return {1.3, 0};
    case UnaryOp::Softplus: return {2.0, 0};
    default: return {};
  }
}

// Domains of (a, b) for a binary op.
std::pair<Domain, Domain> binary_domains(BinaryOp op, DType t) {
  bool whole = !is_floating(t);
  switch (op) {
    case BinaryOp::Pow:
      // Small whole powers stay in range for every integer type.
      return whole ? std::pair<Domain, Domain>{{-3, 4}, {0, 5}} : std::pair<Domain, Domain>{{0.1, 3}, {-2, 2}};
    case BinaryOp::Mul: return {{-50, 50}, {-50, 50}};
    case BinaryOp::Eq:
    case BinaryOp::Ne:
    case BinaryOp::Lt:
    case BinaryOp::Le:
    case BinaryOp::Gt:
    case BinaryOp::Ge:
    case BinaryOp::Maximum:
    case BinaryOp::Minimum:
    case BinaryOp::LogicalAnd:
    case BinaryOp::LogicalOr:
    case BinaryOp::LogicalXor: return {{-2, 2, true}, {-2, 2, true}};
    default: return {{-20, 20}, {-20, 20}};
  }
}

struct UnaryInfo {
  UnaryOp op;
  const char* name;
  const char* kind;
  bool bool_out;
};
struct BinaryInfo {
  BinaryOp op;
  const char* name;
  const char* kind;
  bool bool_out;
};
#define HMR_TEST_IS_BOOL_Same false
#define HMR_TEST_IS_BOOL_Bool true
#define HMR_UNARY_INFO(Name, Fn, kind, out) {UnaryOp::Name, #Name, #kind, HMR_TEST_IS_BOOL_##out},
#define HMR_BINARY_INFO(Name, Fn, kind, out) {BinaryOp::Name, #Name, #kind, HMR_TEST_IS_BOOL_##out},
const UnaryInfo kUnaryOps[] = {HMR_UNARY_OPS(HMR_UNARY_INFO)};
const BinaryInfo kBinaryOps[] = {HMR_BINARY_OPS(HMR_BINARY_INFO)};

uint64_t seed_of(int op, DType t, int64_t n) {
  return 1000003ull * static_cast<uint64_t>(op) + 101ull * static_cast<uint64_t>(t) + static_cast<uint64_t>(n);
}

}  // namespace

TEST(CudaElementwise, EveryUnaryOpMatchesCpuOnEveryDtypeAndLayout) {
  HMR_SKIP_WITHOUT_GPU();
  for (const UnaryInfo& info : kUnaryOps) {
    for (DType t : dtypes_of(info.kind)) {
      for (int64_t n : kSizes) {
        for (const Layout& l : layouts(n)) {
          SCOPED_TRACE(describe(info.name, t, l, n));
          Operand x = operand(l.a_base, l.a_view, t, unary_domain(info.op), seed_of(int(info.op), t, n));
          DType out_t = info.bool_out ? DType::Bool : t;
          // The layouts' first operand: in "broadcast" an (n, 1) input fills an (n, 4) output.
          Tensor out_cpu = make_out(l.out, out_t, Device::cpu(), l.strided_out);
          Tensor out_cuda = make_out(l.out, out_t, Device::cuda(), l.strided_out);
          kernels::UnaryParams p = unary_params(info.op, t);
          kernels::unary(info.op, x.cpu, out_cpu, p);
          kernels::unary(info.op, x.cuda, out_cuda, p);
          ASSERT_TRUE(matches(out_cuda, out_cpu, tolerance_of(t)));
        }
      }
    }
  }
}

TEST(CudaElementwise, EveryBinaryOpMatchesCpuOnEveryDtypeAndLayout) {
  HMR_SKIP_WITHOUT_GPU();
  for (const BinaryInfo& info : kBinaryOps) {
    for (DType t : dtypes_of(info.kind)) {
      auto [da, db] = binary_domains(info.op, t);
      for (int64_t n : kSizes) {
        for (const Layout& l : layouts(n)) {
          SCOPED_TRACE(describe(info.name, t, l, n));
          uint64_t seed = seed_of(100 + int(info.op), t, n);
          Operand a = operand(l.a_base, l.a_view, t, da, seed);
          Operand b = operand(l.b_base, l.b_view, t, db, seed + 7);
          DType out_t = info.bool_out ? DType::Bool : t;
          Tensor out_cpu = make_out(l.out, out_t, Device::cpu(), l.strided_out);
          Tensor out_cuda = make_out(l.out, out_t, Device::cuda(), l.strided_out);
          kernels::binary(info.op, a.cpu, b.cpu, out_cpu);
          kernels::binary(info.op, a.cuda, b.cuda, out_cuda);
          ASSERT_TRUE(matches(out_cuda, out_cpu, tolerance_of(t)));
        }
      }
    }
  }
}

TEST(CudaElementwise, EveryBinaryOpWithAScalarMatchesCpuInBothOrders) {
  HMR_SKIP_WITHOUT_GPU();
  for (const BinaryInfo& info : kBinaryOps) {
    for (DType t : dtypes_of(info.kind)) {
      auto [da, db] = binary_domains(info.op, t);
      // A scalar inside b's domain that every dtype holds exactly (u8 included).
      double s = info.op == BinaryOp::Pow ? 2.0 : (db.integral || !is_floating(t) ? 1.0 : 1.5);
      for (int64_t n : kSizes) {
        for (const Layout& l : layouts(n)) {
          if (l.name == "broadcast" || l.name == "scalar-tensor") continue;  // one operand here
          for (bool scalar_first : {false, true}) {
            SCOPED_TRACE(describe(info.name, t, l, n) + (scalar_first ? " scalar first" : " scalar second"));
            Operand a = operand(l.a_base, l.a_view, t, da, seed_of(200 + int(info.op), t, n));
            DType out_t = info.bool_out ? DType::Bool : t;
            Tensor out_cpu = make_out(l.out, out_t, Device::cpu(), l.strided_out);
            Tensor out_cuda = make_out(l.out, out_t, Device::cuda(), l.strided_out);
            kernels::binary_scalar(info.op, a.cpu, s, scalar_first, out_cpu);
            kernels::binary_scalar(info.op, a.cuda, s, scalar_first, out_cuda);
            ASSERT_TRUE(matches(out_cuda, out_cpu, tolerance_of(t)));
          }
        }
      }
    }
  }
}

TEST(CudaElementwise, WhereMatchesCpuWithBroadcastCondition) {
  HMR_SKIP_WITHOUT_GPU();
  for (DType t : dtypes_of("All")) {
    for (int64_t n : kSizes) {
      SCOPED_TRACE(str(t, " n=", n));
      Operand cond = operand({n, 1}, identity, DType::Bool, {}, seed_of(300, t, n));
      Operand a = operand({3, n}, [](const Tensor& x) { return x.t(); }, t, {}, seed_of(301, t, n));
      Operand b = operand({4}, identity, t, {}, seed_of(302, t, n));
      Tensor out_cpu = Tensor::empty({n, 4}, t), out_cuda = Tensor::empty({n, 4}, t, Device::cuda());
      // a is (n, 3) transposed: broadcast it over 4 columns through a (n, 1) slice.
      Tensor a_cpu = a.cpu.slice(1, 0, 1), a_cuda = a.cuda.slice(1, 0, 1);
      kernels::where(cond.cpu, a_cpu, b.cpu, out_cpu);
      kernels::where(cond.cuda, a_cuda, b.cuda, out_cuda);
      ASSERT_TRUE(matches(out_cuda, out_cpu, {0, 0}));
    }
  }
}

TEST(CudaElementwise, FillAndArangeMatchCpu) {
  HMR_SKIP_WITHOUT_GPU();
  for (DType t : dtypes_of("All")) {
    for (int64_t n : kSizes) {
      SCOPED_TRACE(str(t, " n=", n));
      Tensor cpu = make_out({3, n}, t, Device::cpu(), true);
      Tensor gpu = make_out({3, n}, t, Device::cuda(), true);
      kernels::fill(cpu, 2.5);
      kernels::fill(gpu, 2.5);
      ASSERT_TRUE(matches(gpu, cpu, {0, 0}));
      if (t == DType::Bool) continue;
      // A step that is a power of two makes start + i * step exact on every backend. A step
      // that rounds may round differently where the GPU fuses the multiply-add, which
      // truncation to an integer would magnify, so it runs on floating dtypes only.
      bool half = t == DType::F16 || t == DType::BF16;
      double start = t == DType::U8 ? 0 : -3;
      double exact_step = half ? 1.0 / 128 : 0.5;
      if (t == DType::U8 && start + n * exact_step > 255) continue;  // past u8 is undefined
      Tensor a_cpu = Tensor::empty({n}, t), a_gpu = Tensor::empty({n}, t, Device::cuda());
      kernels::arange(a_cpu, start, exact_step);
      kernels::arange(a_gpu, start, exact_step);
      ASSERT_TRUE(matches(a_gpu, a_cpu, {0, 0}));
      if (!is_floating(t)) continue;
      double rounding_step = half ? 0.001 : 0.1;
      kernels::arange(a_cpu, start, rounding_step);
      kernels::arange(a_gpu, start, rounding_step);
      ASSERT_TRUE(matches(a_gpu, a_cpu, tolerance_of(t)));
    }
  }
}

TEST(CudaElementwise, RandomFillsDrawTheSameNumbersAsCpuForTheSameSeed) {
  HMR_SKIP_WITHOUT_GPU();
  for (DType t : dtypes_of("Floating")) {
    for (int64_t n : kSizes) {
      SCOPED_TRACE(str(t, " n=", n));
      Generator g_cpu(1234), g_gpu(1234);
      auto both = [&](const std::function<void(const Tensor&, Generator&)>& fill, Tolerance tol) {
        Tensor c = Tensor::empty({n}, t), g = Tensor::empty({n}, t, Device::cuda());
        fill(c, g_cpu);
        fill(g, g_gpu);
        return matches(g, c, tol);
      };
      // [0, 1) is a power-of-two scaling of the Philox bits: exact on every backend.
      EXPECT_TRUE(both([](const Tensor& o, Generator& g) { kernels::uniform(o, 0, 1, g); }, {0, 0}));
      // Other ranges round once (an FMA on the GPU may round differently), Box-Muller goes
      // through log/cos, whose last bits differ between the libraries.
      EXPECT_TRUE(both([](const Tensor& o, Generator& g) { kernels::uniform(o, -2, 5, g); }, tolerance_of(t)));
      // Absolute slack too: mean + std * z crosses zero, where a relative bound says nothing.
      Tolerance normal_tol = tolerance_of(t);
      if (t == DType::F32) normal_tol = {1e-5, 1e-5};
      if (t == DType::F64) normal_tol = {1e-9, 1e-9};
      EXPECT_TRUE(both([](const Tensor& o, Generator& g) { kernels::normal(o, 0.5, 2, g); }, normal_tol));
      EXPECT_EQ(g_cpu.offset(), g_gpu.offset());
    }
  }
  for (DType t : dtypes_of("All")) {
    for (int64_t n : kSizes) {
      SCOPED_TRACE(str(t, " n=", n));
      Generator g_cpu(99), g_gpu(99);
      int64_t lo = t == DType::U8 || t == DType::Bool ? 0 : -100, hi = t == DType::Bool ? 2 : 100;
      Tensor c = Tensor::empty({n}, t), g = Tensor::empty({n}, t, Device::cuda());
      kernels::randint(c, lo, hi, g_cpu);
      kernels::randint(g, lo, hi, g_gpu);
      EXPECT_TRUE(matches(g, c, {0, 0}));
      kernels::bernoulli(c, 0.3, g_cpu);
      kernels::bernoulli(g, 0.3, g_gpu);
      EXPECT_TRUE(matches(g, c, {0, 0}));
    }
  }
}

TEST(CudaElementwise, RandomFillOfANonContiguousOutputMatchesCpu) {
  HMR_SKIP_WITHOUT_GPU();
  Generator g_cpu(7), g_gpu(7);
  Tensor c = Tensor::empty({1023, 5}).t(), g = Tensor::empty({1023, 5}, DType::F32, Device::cuda()).t();
  kernels::uniform(c, 0, 1, g_cpu);
  kernels::uniform(g, 0, 1, g_gpu);
  EXPECT_TRUE(matches(g, c, {0, 0}));
}

TEST(CudaElementwise, CopiesBetweenDevicesAndDtypesMatchCpu) {
  HMR_SKIP_WITHOUT_GPU();
  const int64_t n = 1023;
  for (DType from : dtypes_of("All")) {
    for (DType to : dtypes_of("All")) {
      SCOPED_TRACE(str(from, " -> ", to));
      // Values that every dtype holds or truncates the same way: [0, 100) with fractions.
      Tensor src = make_values({3, n}, from, {0, 100}, seed_of(400, from, int64_t(to)));
      Tensor src_gpu = src.to(Device::cuda());
      Tensor want = Tensor::empty({3, n}, to);
      kernels::copy(want, src);

      Tensor host_to_device = Tensor::empty({3, n}, to, Device::cuda());
      kernels::copy(host_to_device, src);
      EXPECT_TRUE(matches(host_to_device, want, {0, 0})) << "host to device";

      Tensor device_to_host = Tensor::empty({n, 3}, to).t();  // strided destination
      kernels::copy(device_to_host, src_gpu);
      EXPECT_TRUE(matches(device_to_host, want, {0, 0})) << "device to host";

      Tensor on_device = make_out({3, n}, to, Device::cuda(), true);
      kernels::copy(on_device, src_gpu.t().contiguous().t());  // transposed source
      EXPECT_TRUE(matches(on_device, want, {0, 0})) << "on the device";

      Tensor row_cpu = Tensor::empty({3, n}, to), row_gpu = Tensor::empty({3, n}, to, Device::cuda());
      kernels::copy(row_cpu, src.slice(0, 1, 2));  // broadcast one row over three
      kernels::copy(row_gpu, src_gpu.slice(0, 1, 2));
      EXPECT_TRUE(matches(row_gpu, row_cpu, {0, 0})) << "broadcast source";
    }
  }
}

TEST(CudaElementwise, MixingDevicesThrowsDeviceErrorNamingOpAndDevices) {
  HMR_SKIP_WITHOUT_GPU();
  Tensor a = Tensor::empty({4}), b = Tensor::empty({4}, DType::F32, Device::cuda());
  Tensor out = Tensor::empty({4}, DType::F32, Device::cuda());
  try {
    kernels::binary(BinaryOp::Add, a, b, out);
    FAIL() << "expected DeviceError";
  } catch (const DeviceError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("Add"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cuda:0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cpu"), std::string::npos) << msg;
  }
}

TEST(CudaElementwise, OpsThroughTheUserApiMatchCpu) {
  HMR_SKIP_WITHOUT_GPU();
  Tensor x = randn({65537, 3}), y = randn({3});
  Tensor want = sigmoid(x * y + 1.0);
  Tensor got = sigmoid(x.cuda() * y.cuda() + 1.0);
  EXPECT_TRUE(got.is_cuda());
  EXPECT_TRUE(matches(got, want, {1e-5, 1e-6}));
}

// Past 2^31 elements (and offsets) the launcher must switch to 64-bit index math. The expected
// values come from the definition (u8 negation wraps modulo 256), read back at sample points.
TEST(CudaElementwise, TensorsPast32BitIndexingUse64BitOffsets) {
  HMR_SKIP_WITHOUT_GPU();
  const int64_t n = (int64_t(1) << 31) + 9;
  if (cuda::device_properties(0).total_memory < 3 * 2 * n) GTEST_SKIP() << "needs ~13 GB of device memory";
  Tensor base = Tensor::empty({2 * n}, DType::U8, Device::cuda());
  Generator gen(5);
  kernels::randint(base, 0, 256, gen);
  Tensor out = Tensor::empty({n}, DType::U8, Device::cuda());
  kernels::unary(UnaryOp::Neg, base.slice(0, 0, 2 * n, 2), out);  // numel > INT32_MAX
  // Three elements, but offsets past INT32_MAX.
  const int64_t far = (int64_t(1) << 31) + 5;
  Tensor few = Tensor::empty({3}, DType::U8, Device::cuda());
  kernels::unary(UnaryOp::Neg, Tensor::make_view(base.storage(), {3}, {far}, 0, DType::U8), few);

  auto at = [](const Tensor& t, int64_t i) { return t.slice(0, i, i + 1).to_vector<int64_t>()[0]; };
  for (int64_t i : {int64_t(0), int64_t(1), n / 2, (int64_t(1) << 31) - 1, int64_t(1) << 31, n - 2, n - 1})
    EXPECT_EQ(at(out, i), (256 - at(base, 2 * i)) % 256) << "i=" << i;
  for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(at(few, j), (256 - at(base, j * far)) % 256) << "j=" << j;
}
