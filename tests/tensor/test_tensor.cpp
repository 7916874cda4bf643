// The data layer: tensor geometry (empty, make_view, contiguity, size/stride, to_vector, item)
// and the creation ops of autograd/ops/factory.cpp. Expected values are worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.h"

using namespace hmr;

namespace {

// Runs f, expects an exception of type E whose message contains every one of parts.
template <class E, class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no exception thrown";
  } catch (const E& e) {
    std::string msg = e.what();
    for (const std::string& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

// A 1-D f32 tensor 0, 1, ..., n-1 and its storage, for building views by hand.
Tensor iota_f32(int64_t n) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(i);
  return Tensor::from_vector(v, {n});
}

}  // namespace

// ---- geometry ---------------------------------------------------------------------------------

TEST(Tensor, EmptyIsContiguousWithRowMajorStrides) {
  Tensor t = Tensor::empty({2, 3, 4}, DType::I32);
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.dim(), 3);
  EXPECT_EQ(t.dtype(), DType::I32);
  EXPECT_EQ(t.offset(), 0);
  EXPECT_GE(t.storage()->nbytes(), 24 * 4);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_TRUE(t.device().is_cpu());
}

TEST(Tensor, EmptyWithZeroSizeKeepsTorchStrides) {
  // torch.empty(2, 0, 3).stride() == (3, 3, 1): zero sizes count as one for the strides.
  Tensor t = Tensor::empty({2, 0, 3});
  EXPECT_EQ(t.strides(), (Shape{3, 3, 1}));
  EXPECT_EQ(t.numel(), 0);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_TRUE(t.to_vector<float>().empty());
}

TEST(Tensor, ZeroDimHasOneElement) {
  Tensor t = Tensor::empty({});
  EXPECT_EQ(t.dim(), 0);
  EXPECT_EQ(t.numel(), 1);
  EXPECT_TRUE(t.is_contiguous());
}

TEST(Tensor, EmptyRejectsNegativeSizes) {
  expect_error<ShapeError>([] { Tensor::empty({2, -1}); }, {"empty", "[2, -1]"});
}

TEST(Tensor, MakeViewChecksBounds) {
  Tensor base = iota_f32(12);  // 48 bytes
  const Storage& s = base.storage();
  // The last element reached is offset + sum((size - 1) * stride) = 2 + 1*6 + 3*1 = 11: fits.
  Tensor v = Tensor::make_view(s, {2, 4}, {6, 1}, 2, DType::F32);
  EXPECT_EQ(v.to_vector<float>(), (std::vector<float>{2, 3, 4, 5, 8, 9, 10, 11}));
  // One further is outside.
  expect_error<IndexError>(
      [&] {
        Tensor::make_view(s, {2, 4}, {6, 1}, 3, DType::F32);
      },
      {"view", "[2, 4]", "[6, 1]", "offset 3", "48 bytes"});
  // Reinterpreting as a wider dtype needs twice the bytes: 12 f64 do not fit in 48 bytes.
  expect_error<IndexError>([&] { Tensor::make_view(s, {12}, {1}, 0, DType::F64); }, {"view"});
  EXPECT_EQ(Tensor::make_view(s, {6}, {1}, 0, DType::F64).numel(), 6);
  // A negative stride may not reach below the start of the storage.
  Tensor rev = Tensor::make_view(s, {12}, {-1}, 11, DType::F32);
  EXPECT_EQ(rev.to_vector<float>()[0], 11.0f);
  EXPECT_EQ(rev.to_vector<float>()[11], 0.0f);
  expect_error<IndexError>([&] { Tensor::make_view(s, {12}, {-1}, 10, DType::F32); }, {"view"});
  expect_error<IndexError>([&] { Tensor::make_view(s, {1}, {1}, -1, DType::F32); }, {"view"});
  // Geometry errors.
  expect_error<ShapeError>(
      [&] {
        Tensor::make_view(s, {2, 2}, {1}, 0, DType::F32);
      },
      {"view", "[2, 2]", "[1]"});
  expect_error<ShapeError>([&] { Tensor::make_view(s, {-2}, {1}, 0, DType::F32); }, {"view", "[-2]"});
  // An empty view reaches nothing, wherever it starts.
  EXPECT_EQ(Tensor::make_view(s, {0, 5}, {5, 1}, 100, DType::F32).numel(), 0);
}

TEST(Tensor, IsContiguousForVariousStrides) {
  Tensor base = iota_f32(64);
  const Storage& s = base.storage();
  auto contiguous = [&](const Shape& sizes, const Shape& strides) {
    return Tensor::make_view(s, sizes, strides, 0, DType::F32).is_contiguous();
  };
  EXPECT_TRUE(contiguous({2, 3}, {3, 1}));
  EXPECT_FALSE(contiguous({3, 2}, {1, 3}));  // a transpose
  EXPECT_FALSE(contiguous({2, 3}, {6, 2}));  // every other element
  EXPECT_FALSE(contiguous({2, 3}, {4, 1}));  // padded rows
  // Size-1 dims may have any stride (PyTorch ignores them).
  EXPECT_TRUE(contiguous({2, 1, 3}, {3, 77, 1}));
  EXPECT_TRUE(contiguous({1, 1}, {5, 9}));
  // A broadcast (stride 0) dim of size > 1 is not contiguous.
  EXPECT_FALSE(contiguous({4, 3}, {0, 1}));
  EXPECT_FALSE(contiguous({3}, {0}));
  // Empty tensors are contiguous whatever their strides.
  EXPECT_TRUE(contiguous({0, 3}, {1, 5}));
  EXPECT_TRUE(contiguous({3, 0}, {1, 5}));
  EXPECT_TRUE(contiguous({}, {}));
  // Views made by the ops.
  Tensor m = Tensor::empty({3, 4});
  EXPECT_FALSE(m.t().is_contiguous());
  EXPECT_TRUE(m.t().contiguous().is_contiguous());
  EXPECT_TRUE(m.select(0, 1).is_contiguous());
  EXPECT_FALSE(m.select(1, 1).is_contiguous());
  EXPECT_TRUE(m.narrow(0, 1, 2).is_contiguous());
  EXPECT_FALSE(m.narrow(1, 1, 2).is_contiguous());
}

TEST(Tensor, SizeAndStrideAcceptNegativeDims) {
  Tensor t = Tensor::empty({2, 3, 4});
  EXPECT_EQ(t.size(-1), 4);
  EXPECT_EQ(t.size(-3), 2);
  EXPECT_EQ(t.size(1), 3);
  EXPECT_EQ(t.stride(-1), 1);
  EXPECT_EQ(t.stride(-2), 4);
  EXPECT_EQ(t.stride(0), 12);
  expect_error<IndexError>([&] { t.size(3); }, {"size", "[-3, 2]", "3"});
  expect_error<IndexError>([&] { t.stride(-4); }, {"stride", "-4"});
  // A 0-dim tensor accepts dims -1 and 0 in wrap_dim, like PyTorch; it has no size to return.
  EXPECT_EQ(wrap_dim(-1, 0, "op"), 0);
  EXPECT_EQ(wrap_dim(0, 0, "op"), 0);
  expect_error<IndexError>([] { wrap_dim(1, 0, "myop"); }, {"myop"});
}

TEST(Tensor, ToVectorReadsNonContiguousViewsInLogicalOrder) {
  Tensor base = iota_f32(12);
  const Storage& s = base.storage();
  // (3, 4) transposed: element (i, j) of the (4, 3) view is base[j * 4 + i].
  Tensor tr = Tensor::make_view(s, {4, 3}, {1, 4}, 0, DType::F32);
  EXPECT_EQ(tr.to_vector<float>(), (std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
  // Every third element from 1: 1, 4, 7, 10.
  Tensor step = Tensor::make_view(s, {4}, {3}, 1, DType::F32);
  EXPECT_EQ(step.to_vector<float>(), (std::vector<float>{1, 4, 7, 10}));
  // Negative strides in two dims, from the far corner.
  Tensor rev = Tensor::make_view(s, {2, 3}, {-4, -1}, 6, DType::F32);
  EXPECT_EQ(rev.to_vector<float>(), (std::vector<float>{6, 5, 4, 2, 1, 0}));
  // Broadcast (stride 0): a row repeated.
  Tensor bc = Tensor::make_view(s, {3, 2}, {0, 1}, 5, DType::F32);
  EXPECT_EQ(bc.to_vector<float>(), (std::vector<float>{5, 6, 5, 6, 5, 6}));
  // Converting while reading: f32 -> int64 truncates toward zero, -> bool is "!= 0".
  Tensor f = tensor({-1.75, 0, 2.5});
  EXPECT_EQ(f.to_vector<int64_t>(), (std::vector<int64_t>{-1, 0, 2}));
  EXPECT_EQ(f.to_vector<bool>(), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(f.to_vector<double>(), (std::vector<double>{-1.75, 0, 2.5}));
  // Through the view ops.
  Tensor m = arange(0, 12, 1, DType::F64).reshape({3, 4});
  EXPECT_EQ(m.slice(1, 1, 4, 2).to_vector<double>(), (std::vector<double>{1, 3, 5, 7, 9, 11}));
  EXPECT_EQ(m.t().select(0, 2).to_vector<double>(), (std::vector<double>{2, 6, 10}));
}

TEST(Tensor, FromVectorChecksTheElementCount) {
  expect_error<ShapeError>([] { Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2}); }, {"3", "[2, 2]"});
  expect_error<ShapeError>([] { Tensor::from_vector(std::vector<float>{}, {-1}); }, {"[-1]"});
}

TEST(Tensor, ItemReadsOneElementAndRefusesOthers) {
  EXPECT_EQ(tensor({2.5}).item(), 2.5);
  EXPECT_EQ(tensor({7}, DType::I64).reshape({1, 1}).item<int64_t>(), 7);
  EXPECT_EQ(scalar_tensor(-3, DType::I32).item<int32_t>(), -3);
  EXPECT_EQ(scalar_tensor(true, DType::Bool).item<bool>(), true);
  // Element (1, 2) of a (2, 3) matrix through a strided select.
  EXPECT_EQ(arange(0, 6, 1, DType::F32).reshape({2, 3}).select(0, 1).select(0, 2).item<float>(), 5.0f);
  expect_error<ValueError>([] { tensor({1, 2}).item(); }, {"item", "[2]", "2 elements"});
  expect_error<ValueError>([] { zeros({2, 3}).item<float>(); }, {"item", "[2, 3]"});
  expect_error<ValueError>([] { zeros({0}).item(); }, {"item", "[0]"});
}

TEST(Tensor, TypedDataChecksTheDtype) {
  Tensor t = zeros({2}, DType::F64);
  EXPECT_NE(t.data<double>(), nullptr);
  expect_error<DTypeError>([&] { t.data<float>(); }, {"float64", "float32"});
}

TEST(Tensor, UndefinedTensorThrows) {
  Tensor t;
  EXPECT_FALSE(t.defined());
  expect_error<ValueError>([&] { t.sizes(); }, {"undefined"});
}

TEST(Tensor, ShapeHelpers) {
  EXPECT_EQ(contiguous_strides({}), Shape{});
  EXPECT_EQ(contiguous_strides({5}), Shape{1});
  EXPECT_EQ(contiguous_strides({2, 1, 3}), (Shape{3, 3, 1}));
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(shape_numel({4, 0}), 0);
  EXPECT_EQ(shape_numel({2, 3, 4}), 24);
  EXPECT_EQ(Tensor::empty({2, 3}).shape_str(), "[2, 3]");
}

// ---- factories --------------------------------------------------------------------------------

TEST(Factory, ZerosOnesFullValuesAndDtypes) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.dtype(), DType::F32);
  EXPECT_EQ(z.sizes(), (Shape{2, 3}));
  EXPECT_EQ(z.to_vector<float>(), std::vector<float>(6, 0.0f));
  Tensor o = ones({4}, DType::I64);
  EXPECT_EQ(o.dtype(), DType::I64);
  EXPECT_EQ(o.to_vector<int64_t>(), std::vector<int64_t>(4, 1));
  Tensor f = full({3}, 2.5, DType::F64);
  EXPECT_EQ(f.to_vector<double>(), std::vector<double>(3, 2.5));
  // Filling an integer tensor with 7 and a bool tensor with a nonzero value.
  EXPECT_EQ(full({2}, 7, DType::I32).to_vector<int32_t>(), (std::vector<int32_t>{7, 7}));
  EXPECT_EQ(full({2}, 3, DType::Bool).to_vector<bool>(), (std::vector<bool>{true, true}));
  // 16-bit floats round the fill value: 0.1 in half is 0x2e66.
  EXPECT_EQ(full({1}, 0.1, DType::F16).to_vector<Half>()[0].bits, 0x2e66);
  EXPECT_EQ(zeros({}).dim(), 0);
  EXPECT_EQ(zeros({0, 2}).numel(), 0);
  // *_like keep shape and dtype.
  Tensor l = ones_like(Tensor::empty({2, 2}, DType::U8));
  EXPECT_EQ(l.dtype(), DType::U8);
  EXPECT_EQ(l.to_vector<int>(), (std::vector<int>{1, 1, 1, 1}));
  EXPECT_EQ(full_like(z, -1).to_vector<float>(), std::vector<float>(6, -1.0f));
  EXPECT_EQ(zeros_like(o).dtype(), DType::I64);
  EXPECT_EQ(empty_like(o).sizes(), (Shape{4}));
  EXPECT_TRUE(zeros({2}, TensorOptions().with_requires_grad()).requires_grad());
}

TEST(Factory, ArangeIntegerForm) {
  Tensor a = arange(5);
  EXPECT_EQ(a.dtype(), DType::I64);
  EXPECT_EQ(a.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(2, 11, 3).to_vector<int64_t>(), (std::vector<int64_t>{2, 5, 8}));
  // Negative step: 5, 3, 1 (0 is the excluded end).
  EXPECT_EQ(arange(5, 0, -2).to_vector<int64_t>(), (std::vector<int64_t>{5, 3, 1}));
  EXPECT_EQ(arange(3, 3).numel(), 0);
  EXPECT_EQ(arange(4, DType::F64).dtype(), DType::F64);
  EXPECT_EQ(arange(4, DType::F64).to_vector<double>(), (std::vector<double>{0, 1, 2, 3}));
}

TEST(Factory, ArangeFloatForm) {
  // Any fractional bound makes it float32; n = ceil((end - start) / step).
  Tensor a = arange(0, 1, 0.25);
  EXPECT_EQ(a.dtype(), DType::F32);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{0, 0.25f, 0.5f, 0.75f}));
  EXPECT_EQ(arange(2.5).to_vector<float>(), (std::vector<float>{0, 1, 2}));
  Tensor b = arange(1.0, 2.0, 0.3);  // ceil(1 / 0.3) = 4
  ASSERT_EQ(b.numel(), 4);
  std::vector<float> bv = b.to_vector<float>();
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(bv[i], 1.0f + 0.3f * i);
  Tensor c = arange(0, -1, -0.25);
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{0, -0.25f, -0.5f, -0.75f}));
}

TEST(Factory, ArangeRejectsBadSteps) {
  expect_error<ValueError>([] { arange(0, 5, 0); }, {"arange", "nonzero"});
  expect_error<ValueError>([] { arange(0, 5, -1); }, {"arange", "start 0", "end 5", "step -1"});
  expect_error<ValueError>([] { arange(5, 0, 1); }, {"arange"});
}

TEST(Factory, LinspaceHitsBothEndsExactly) {
  Tensor a = linspace(0, 1, 5);
  EXPECT_EQ(a.dtype(), DType::F32);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{0, 0.25f, 0.5f, 0.75f, 1}));
  // start + (steps - 1) * step misses 2.9 in double; PyTorch fills the second half from the end.
  for (int64_t n : {2, 3, 5, 8, 13}) {
    std::vector<double> v = linspace(-1.3, 2.9, n, DType::F64).to_vector<double>();
    ASSERT_EQ(static_cast<int64_t>(v.size()), n);
    EXPECT_EQ(v.front(), -1.3);
    EXPECT_EQ(v.back(), 2.9) << "steps " << n;
    double step = (2.9 - -1.3) / static_cast<double>(n - 1);
    for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(v[i], -1.3 + step * i, 1e-14);
  }
  EXPECT_EQ(linspace(3, 7, 1).to_vector<float>(), (std::vector<float>{3}));
  EXPECT_EQ(linspace(3, 7, 0).numel(), 0);
  EXPECT_EQ(linspace(4, 0, 3).to_vector<float>(), (std::vector<float>{4, 2, 0}));
  expect_error<ValueError>([] { linspace(0, 1, -1); }, {"linspace", "-1"});
}

TEST(Factory, EyeSquareAndRectangular) {
  EXPECT_EQ(eye(3).to_vector<float>(), (std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
  Tensor r = eye(2, 4, DType::I64);
  EXPECT_EQ(r.sizes(), (Shape{2, 4}));
  EXPECT_EQ(r.to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 0, 0, 0, 1, 0, 0}));
  EXPECT_EQ(eye(3, 2).to_vector<float>(), (std::vector<float>{1, 0, 0, 1, 0, 0}));
  EXPECT_EQ(eye(0).numel(), 0);
  expect_error<ValueError>([] { eye(-1); }, {"eye"});
}

TEST(Factory, TensorAndScalarTensor) {
  Tensor t = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, DType::I32);
  EXPECT_EQ(t.sizes(), (Shape{2, 3}));
  EXPECT_EQ(t.dtype(), DType::I32);
  EXPECT_EQ(t.to_vector<int32_t>(), (std::vector<int32_t>{1, 2, 3, 4, 5, 6}));
  Tensor u = tensor({0.5, -1});
  EXPECT_EQ(u.dtype(), DType::F32);
  EXPECT_EQ(u.sizes(), Shape{2});
  expect_error<ShapeError>([] { tensor({1, 2, 3}, {2, 2}); }, {"[2, 2]"});
  Tensor s = scalar_tensor(3);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.dtype(), DType::F32);  // torch.scalar_tensor(3) is float32
  EXPECT_EQ(s.item(), 3.0);
  EXPECT_EQ(scalar_tensor(2.5, DType::F64).item(), 2.5);
}
