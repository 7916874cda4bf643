// Memory held by the graph: a node keeps a detached alias of what it saves (never the output
// tensor itself), backward frees saved tensors, dropping the loss frees the whole graph, and a
// training loop's live host memory stays flat from step to step (hmr::host_memory_stats()).
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "autograd/ops.h"
#include "tensor/storage.h"

using namespace hmr;

namespace {

int64_t live_bytes() { return host_memory_stats().current_bytes; }
int64_t live_storages() { return host_memory_stats().current_storages; }

}  // namespace

TEST(Memory, HostStatsCountAllocationAndFree) {
  int64_t bytes0 = live_bytes(), storages0 = live_storages();
  {
    Tensor t = Tensor::empty({10, 10}, DType::F64);
    EXPECT_EQ(live_bytes(), bytes0 + 800);
    EXPECT_EQ(live_storages(), storages0 + 1);
    Tensor view = t.slice(0, 2, 5);  // a view allocates nothing
    EXPECT_EQ(live_bytes(), bytes0 + 800);
    EXPECT_GE(host_memory_stats().peak_bytes, bytes0 + 800);
  }
  EXPECT_EQ(live_bytes(), bytes0);
  EXPECT_EQ(live_storages(), storages0);
}

TEST(Memory, NodeDoesNotOwnItsOutput) {
  Tensor x = tensor({0.0, 1.0, 2.0}, DType::F64).requires_grad_();
  Tensor y = exp(x);  // exp saves its output for backward
  Tensor loss = y.sum();
  std::weak_ptr<TensorImpl> y_impl = y.impl_shared();
  std::weak_ptr<StorageImpl> y_storage = y.storage();
  y = Tensor();
  // The graph still reaches exp's node through loss, but not y's TensorImpl (which holds the
  // node through grad_fn: owning it would be a cycle). The data stays for backward.
  EXPECT_TRUE(y_impl.expired());
  EXPECT_FALSE(y_storage.expired());
  loss.backward();
  std::vector<double> g = x.grad().to_vector<double>();
  EXPECT_NEAR(g[0], 1.0, 1e-12);
  EXPECT_NEAR(g[2], std::exp(2.0), 1e-12);
  // Without retain_graph, backward drops what the nodes saved although loss is still alive.
  EXPECT_TRUE(y_storage.expired());
}

TEST(Memory, RetainGraphKeepsSavedTensorsUntilTheLossIsDropped) {
  Tensor x = tensor({1.0, 2.0}, DType::F64).requires_grad_();
  Tensor loss = exp(x).sum();
  std::weak_ptr<Node> node = loss.grad_fn();
  loss.backward(Tensor(), /*retain_graph=*/true);
  EXPECT_FALSE(node.expired());
  loss = Tensor();
  EXPECT_TRUE(node.expired());
}

TEST(Memory, DroppingTheLossFreesTheGraph) {
  Tensor x = randn({64, 32}, DType::F64).requires_grad_();
  Tensor w = randn({32}, DType::F64).requires_grad_();
  int64_t bytes0 = live_bytes(), storages0 = live_storages();
  Tensor loss;
  std::weak_ptr<Node> first_node;
  {
    Tensor h = x * w;  // (64, 32)
    first_node = h.grad_fn();
    Tensor v = h.t().slice(0, 0, 32, 2);  // views keep their base alive, not a copy
    Tensor s = sigmoid(v) * tanh(h.t().slice(0, 1, 32, 2));
    Tensor b = s * 1.0;
    b.narrow(1, 0, 8).mul_(2.0);  // CopySlices in the graph
    loss = b.mean();
  }
  EXPECT_GT(live_bytes(), bytes0);  // intermediate results saved for backward
  EXPECT_FALSE(first_node.expired());
  loss = Tensor();
  EXPECT_TRUE(first_node.expired());
  EXPECT_EQ(live_bytes(), bytes0);
  EXPECT_EQ(live_storages(), storages0);
}

namespace {

// A linear regression through broadcasting (no matmul needed): pred = sum_k X[:, k] W[k, :] + bias.
struct TinyModel {
  Tensor W = (randn({4, 3}, DType::F64) * 0.1).detach().requires_grad_();
  Tensor bias = zeros({3}, DType::F64).requires_grad_();
};

double training_step(TinyModel& m, const Tensor& X, const Tensor& T, double lr) {
  Tensor pred = (X.unsqueeze(2) * m.W.unsqueeze(0)).sum({1}) + m.bias;  // (N, 3)
  pred.retain_grad();
  Tensor scaled = pred * 1.0;
  scaled.narrow(1, 0, 1).mul_(1.0);  // an in-place write through a view, as real code does
  Tensor d = scaled - T;
  Tensor loss = (d * d).mean();
  loss.backward();
  {
    NoGradGuard no_grad;
    m.W.sub_(m.W.grad() * lr);
    m.bias.sub_(m.bias.grad() * lr);
  }
  m.W.zero_grad();
  m.bias.zero_grad();
  return loss.item<double>();
}

}  // namespace

TEST(Memory, TrainingLoopLiveBytesStayFlat) {
  Generator gen(7);
  Tensor X = randn({16, 4}, DType::F64, &gen);
  Tensor W_true = randn({4, 3}, DType::F64, &gen);
  Tensor T = (X.unsqueeze(2) * W_true.unsqueeze(0)).sum({1}) + 0.5;
  TinyModel m;
  double first_loss = training_step(m, X, T, 0.1);
  HostMemoryStats after_first = host_memory_stats();
  double loss = first_loss;
  for (int step = 1; step < 200; ++step) loss = training_step(m, X, T, 0.1);
  HostMemoryStats after_last = host_memory_stats();
  EXPECT_EQ(after_last.current_bytes, after_first.current_bytes);
  EXPECT_EQ(after_last.current_storages, after_first.current_storages);
  EXPECT_LT(loss, 0.01 * first_loss);  // it did train
}
