// Elementwise kernels, device-dispatched: each call checks its operands, then runs the CPU
// driver or the CUDA launcher. Outputs are passed in (they may be strided views; an output
// may be the same tensor as an input for in-place work); inputs broadcast to the output's
// shape. Inputs of one call share a dtype: type promotion is the caller's job (autograd/).
#pragma once

#include "kernels/functors.h"
#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace hmr::kernels {

void unary(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams params = {});
void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);
// out = s op a (scalar_first) or a op s, with s converted to a's dtype.
void binary_scalar(BinaryOp op, const Tensor& a, double s, bool scalar_first, const Tensor& out);
// out = cond ? a : b; cond is bool.
void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);
// dst = src, converting dtype, broadcasting src, and crossing devices.
void copy(const Tensor& dst, const Tensor& src);
void fill(const Tensor& dst, double value);
// out[i] = start + i * step over the flat (row-major) index of a contiguous out.
void arange(const Tensor& out, double start, double step);

// Random fills from the generator's Philox stream (identical on CPU and CUDA).
void uniform(const Tensor& out, double low, double high, Generator& gen);
void normal(const Tensor& out, double mean, double std, Generator& gen);
void randint(const Tensor& out, int64_t low, int64_t high, Generator& gen);
void bernoulli(const Tensor& out, double p, Generator& gen);

// The backends behind the calls above; same signatures on both sides.
#define HMR_ELEMENTWISE_BACKEND                                                              \
  void unary(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams params);            \
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);             \
  void binary_scalar(BinaryOp op, const Tensor& a, double s, bool scalar_first,              \
                     const Tensor& out);                                                     \
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);       \
  void copy_same_device(const Tensor& dst, const Tensor& src);                               \
  void fill(const Tensor& dst, double value);                                                \
  void arange(const Tensor& out, double start, double step);                                 \
  void uniform(const Tensor& out, double low, double high, uint64_t seed, uint64_t offset);  \
  void normal(const Tensor& out, double mean, double std, uint64_t seed, uint64_t offset);   \
  void randint(const Tensor& out, int64_t low, int64_t high, uint64_t seed, uint64_t offset); \
  void bernoulli(const Tensor& out, double p, uint64_t seed, uint64_t offset);
namespace cpu { HMR_ELEMENTWISE_BACKEND }
namespace cuda { HMR_ELEMENTWISE_BACKEND }

// Element i of a random fill reads Philox block (offset + i / 2), words 2*(i % 2) and the next:
// two 32-bit words per element on every backend, so CPU and CUDA draw the same numbers.
inline uint64_t random_counters(int64_t n) { return static_cast<uint64_t>((n + 1) / 2); }

}  // namespace hmr::kernels
