// CUDA's float normal against a double-precision Box–Muller on the same Philox words, with the
// bound that tests/kernels/test_random_fill.cpp holds the CPU kernel to: the CPU now evaluates
// log and cos with its own vectorised code, CUDA with the device library, and both must stay
// within it (they may differ from each other in the last bits).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/ops.h"
#include "kernels/elementwise.h"
#include "tensor/cuda_context.h"
#include "tensor/philox.h"

using namespace hmr;

TEST(CudaRandom, FloatNormalIsWithinTheBoundOfDoubleBoxMuller) {
  if (hmr::cuda::device_count() == 0) GTEST_SKIP() << hmr::cuda::unavailable_reason();
  const int64_t n = (1 << 21) + 3;  // not a multiple of any block size
  Generator g(2024);
  g.set_state(2024, 17);
  Tensor t = Tensor::empty({n}, DType::F32, Device::cuda());
  kernels::normal(t, 0.0, 1.0, g);
  std::vector<float> v = t.to(Device::cpu()).to_vector<float>();
  double worst = 0;
  int64_t at = -1;
  for (int64_t i = 0; i < n; ++i) {
    Philox4x32 r = philox4x32(2024, 17 + static_cast<uint64_t>(i) / 2);
    const int k = static_cast<int>(i % 2) * 2;
    const float u1 = 1.0f - static_cast<float>(r.v[k] >> 8) * (1.0f / 16777216.0f) - 0x1p-25f;
    const float u2 = static_cast<float>(r.v[k + 1] >> 8) * (1.0f / 16777216.0f);
    const double ref = std::sqrt(-2.0 * std::log(static_cast<double>(u1))) * std::cos(6.283185307179586 * u2);
    const double err = std::fabs(v[i] - ref) / (3e-6 * std::max(1.0, std::fabs(ref)));
    if (err > worst) worst = err, at = i;
  }
  EXPECT_LE(worst, 1.0) << "element " << at << ": error as a fraction of the bound";
}
