// The elementwise loop plan (kernels/plan.h): broadcasting of shapes and strides, dropping of
// size-1 dims and merging of dims that are contiguous in every operand. Expected plans are
// worked out by hand from the strides.
#include <gtest/gtest.h>

#include <string>

#include "kernels/plan.h"

using namespace hmr;
using namespace hmr::kernels;

namespace {

// A plan for out (contiguous, shape out_sizes) and inputs given by their own sizes and strides.
template <int N>
Plan<N> plan_for(const Shape& out_sizes, const std::vector<std::pair<Shape, Shape>>& inputs) {
  const Storage storage = allocate_storage(4096 * 4, Device::cpu());
  Shape strides[N];
  const Shape* ptrs[N];
  strides[0] = contiguous_strides(out_sizes);
  for (int i = 1; i < N; ++i) {
    Tensor t = Tensor::make_view(storage, inputs[i - 1].first, inputs[i - 1].second, 0, DType::F32);
    strides[i] = broadcast_strides(t, out_sizes, "test");
  }
  for (int i = 0; i < N; ++i) ptrs[i] = &strides[i];
  return make_plan<N>(out_sizes, ptrs, "test");
}

template <int N>
Shape plan_sizes(const Plan<N>& p) {
  return Shape(p.sizes, p.sizes + p.ndim);
}
template <int N>
Shape plan_strides(const Plan<N>& p, int operand) {
  return Shape(p.strides[operand], p.strides[operand] + p.ndim);
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ShapeError& e) {
    return e.what();
  }
  return "(no ShapeError)";
}

}  // namespace

TEST(BroadcastShapes, FollowsNumpyRules) {
  EXPECT_EQ(broadcast_shapes({3, 1}, {1, 4}, "op"), (Shape{3, 4}));
  EXPECT_EQ(broadcast_shapes({2, 3, 4}, {4}, "op"), (Shape{2, 3, 4}));
  EXPECT_EQ(broadcast_shapes({}, {2, 5}, "op"), (Shape{2, 5}));
  EXPECT_EQ(broadcast_shapes({5, 1, 3}, {2, 1}, "op"), (Shape{5, 2, 3}));
  // A size-0 dim broadcasts against 1 and stays 0.
  EXPECT_EQ(broadcast_shapes({0, 3}, {1, 3}, "op"), (Shape{0, 3}));
}

TEST(BroadcastShapes, ErrorNamesTheOpAndBothShapes) {
  std::string msg = error_of([] { broadcast_shapes({2, 3}, {4}, "myop"); });
  EXPECT_NE(msg.find("myop"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4]"), std::string::npos) << msg;
  EXPECT_NE(error_of([] { broadcast_shapes({0}, {2}, "op"); }).find("[0]"), std::string::npos);
}

TEST(BroadcastStrides, BroadcastDimsGetStrideZero) {
  const Storage s = allocate_storage(64 * 4, Device::cpu());
  Tensor col = Tensor::make_view(s, {3, 1}, {1, 1}, 0, DType::F32);
  EXPECT_EQ(broadcast_strides(col, {2, 3, 4}, "op"), (Shape{0, 1, 0}));
  Tensor row = Tensor::make_view(s, {4}, {2}, 0, DType::F32);
  EXPECT_EQ(broadcast_strides(row, {3, 4}, "op"), (Shape{0, 2}));
  std::string msg = error_of([&] { broadcast_strides(row, {4, 3}, "myop"); });
  EXPECT_NE(msg.find("myop"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4, 3]"), std::string::npos) << msg;
  // More dims than the target cannot broadcast.
  EXPECT_NE(error_of([&] { broadcast_strides(col, {3}, "op"); }).find("[3, 1]"), std::string::npos);
}

TEST(Plan, ContiguousOperandsMergeIntoOneDim) {
  auto p = plan_for<3>({2, 3, 4}, {{{2, 3, 4}, {12, 4, 1}}, {{2, 3, 4}, {12, 4, 1}}});
  EXPECT_EQ(p.ndim, 1);
  EXPECT_EQ(plan_sizes(p), Shape{24});
  EXPECT_EQ(p.numel, 24);
  EXPECT_TRUE(p.contiguous);
}

TEST(Plan, ColumnTimesRowKeepsTwoDims) {
  // (3, 1) x (1, 4): a walks rows (strides 1, 0), b walks columns (0, 1); nothing merges.
  auto p = plan_for<3>({3, 4}, {{{3, 1}, {1, 1}}, {{1, 4}, {4, 1}}});
  EXPECT_EQ(p.ndim, 2);
  EXPECT_EQ(plan_sizes(p), (Shape{3, 4}));
  EXPECT_EQ(plan_strides(p, 0), (Shape{4, 1}));
  EXPECT_EQ(plan_strides(p, 1), (Shape{1, 0}));
  EXPECT_EQ(plan_strides(p, 2), (Shape{0, 1}));
  EXPECT_FALSE(p.contiguous);
}

TEST(Plan, BroadcastLeadingDimsMerge) {
  // (2, 3, 4) x (4): the two leading dims are contiguous in out and a, and stride 0 in b.
  auto p = plan_for<3>({2, 3, 4}, {{{2, 3, 4}, {12, 4, 1}}, {{4}, {1}}});
  EXPECT_EQ(p.ndim, 2);
  EXPECT_EQ(plan_sizes(p), (Shape{6, 4}));
  EXPECT_EQ(plan_strides(p, 0), (Shape{4, 1}));
  EXPECT_EQ(plan_strides(p, 1), (Shape{4, 1}));
  EXPECT_EQ(plan_strides(p, 2), (Shape{0, 1}));
}

TEST(Plan, ScalarOperandIsStrideZeroEverywhere) {
  // A 0-dim input against (5, 6): one merged dim of 30 with stride 0 for the input.
  auto p = plan_for<2>({5, 6}, {{{}, {}}});
  EXPECT_EQ(p.ndim, 1);
  EXPECT_EQ(plan_sizes(p), Shape{30});
  EXPECT_EQ(plan_strides(p, 1), Shape{0});
  EXPECT_FALSE(p.contiguous);
}

TEST(Plan, SizeOneDimsAreDropped) {
  // (2, 1, 3) with a transposed-like input (strides 1, 99, 2): the size-1 dim disappears,
  // whatever its stride, and the other two cannot merge.
  auto p = plan_for<2>({2, 1, 3}, {{{2, 1, 3}, {1, 99, 2}}});
  EXPECT_EQ(p.ndim, 2);
  EXPECT_EQ(plan_sizes(p), (Shape{2, 3}));
  EXPECT_EQ(plan_strides(p, 0), (Shape{3, 1}));
  EXPECT_EQ(plan_strides(p, 1), (Shape{1, 2}));
  // With contiguous operands everything merges across the dropped dim.
  auto q = plan_for<2>({2, 1, 3}, {{{2, 1, 3}, {3, 3, 1}}});
  EXPECT_EQ(q.ndim, 1);
  EXPECT_TRUE(q.contiguous);
  // All dims of size 1: nothing left to loop over, one element.
  auto r = plan_for<2>({1, 1}, {{{1}, {1}}});
  EXPECT_EQ(r.ndim, 0);
  EXPECT_EQ(r.numel, 1);
  EXPECT_TRUE(r.contiguous);
}

TEST(Plan, TransposedAndSteppedInputsStayStrided) {
  auto t = plan_for<2>({3, 4}, {{{3, 4}, {1, 3}}});
  EXPECT_EQ(t.ndim, 2);
  EXPECT_EQ(plan_strides(t, 1), (Shape{1, 3}));
  EXPECT_FALSE(t.contiguous);
  // Every other element of a (3, 8) matrix: strides (8, 2) merge into one dim only if
  // 8 == 2 * 4, which holds, so a (3, 4) view with those strides is a single run of stride 2.
  auto s = plan_for<2>({3, 4}, {{{3, 4}, {8, 2}}});
  EXPECT_EQ(s.ndim, 1);
  EXPECT_EQ(plan_strides(s, 1), Shape{2});
  EXPECT_FALSE(s.contiguous);
  // Padded rows (stride 5 for rows of 4) cannot merge.
  auto pr = plan_for<2>({3, 4}, {{{3, 4}, {5, 1}}});
  EXPECT_EQ(pr.ndim, 2);
  EXPECT_EQ(plan_strides(pr, 1), (Shape{5, 1}));
}

TEST(Plan, EmptyOutputHasNoElements) {
  auto p = plan_for<2>({0, 3}, {{{0, 3}, {3, 1}}});
  EXPECT_EQ(p.numel, 0);
}

TEST(Plan, TooManyDimsIsAShapeError) {
  Shape big(kMaxDims + 1, 2);
  Shape strides = contiguous_strides(big);
  const Shape* ptrs[1] = {&strides};
  std::string msg = error_of([&] { make_plan<1>(big, ptrs, "myop"); });
  EXPECT_NE(msg.find("myop"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(kMaxDims + 1)), std::string::npos) << msg;
}
