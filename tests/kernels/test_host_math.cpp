// host_math: the vectorisable float exp/log/tanh, against double-precision libm rounded to
// float (an independent reference). Error is counted in units in the last place of the
// reference; special values must be exact.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "autograd/ops.h"
#include "kernels/host_math.h"

using namespace hmr;
namespace hm = hmr::kernels::host_math;

namespace {

double ulp_error(float got, double exact) {
  float ref = static_cast<float>(exact);
  if (std::isinf(ref) || std::isinf(got)) return got == ref ? 0.0 : 1e9;
  // ulp of the reference; subnormal results count in units of the smallest subnormal.
  float up = std::nextafter(std::fabs(ref), std::numeric_limits<float>::infinity());
  double ulp = static_cast<double>(up) - std::fabs(static_cast<double>(ref));
  return std::fabs(static_cast<double>(got) - exact) / ulp;
}

// Every 127th float bit pattern in [lo, hi] (both signs as asked), plus a dense linear sweep.
std::vector<float> sample(float lo, float hi) {
  std::vector<float> xs;
  for (uint32_t u = 0; u < 0x7f800000u; u += 127) {
    float f;
    std::memcpy(&f, &u, 4);
    if (f >= lo && f <= hi) xs.push_back(f);
    if (-f >= lo && -f <= hi) xs.push_back(-f);
  }
  for (int i = 0; i <= 200000; ++i) xs.push_back(lo + (hi - lo) * static_cast<float>(i) / 200000.0f);
  return xs;
}

template <class F, class G>
double max_ulp(const std::vector<float>& xs, F f, G g) {
  double worst = 0;
  for (float x : xs) {
    double e = ulp_error(f(x), g(static_cast<double>(x)));
    if (e > worst) worst = e;
  }
  return worst;
}

}  // namespace

TEST(HostMath, ExpWithinTwoUlpAcrossTheRange) {
  auto xs = sample(-104.0f, 88.7f);
  EXPECT_LE(max_ulp(xs, [](float x) { return hm::exp(x); }, [](double x) { return std::exp(x); }), 2.0);
}

TEST(HostMath, ExpSpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(hm::exp(0.0f), 1.0f);
  EXPECT_EQ(hm::exp(-0.0f), 1.0f);
  EXPECT_EQ(hm::exp(inf), inf);
  EXPECT_EQ(hm::exp(89.0f), inf);
  EXPECT_EQ(hm::exp(1000.0f), inf);
  EXPECT_EQ(hm::exp(-inf), 0.0f);
  EXPECT_EQ(hm::exp(-200.0f), 0.0f);
  EXPECT_TRUE(std::isnan(hm::exp(std::nanf(""))));
  // Subnormal results: e^-100 = 3.72e-44 is 26.6 subnormal steps of 2^-149.
  EXPECT_NEAR(hm::exp(-100.0f), std::exp(-100.0), 1.5e-45);
  EXPECT_GT(hm::exp(-100.0f), 0.0f);
}

TEST(HostMath, LogWithinTwoUlpIncludingSubnormalInputs) {
  auto xs = sample(1e-45f, 3.4e38f);
  std::vector<float> pos;
  for (float x : xs)
    if (x > 0) pos.push_back(x);
  EXPECT_LE(max_ulp(pos, [](float x) { return hm::log(x); }, [](double x) { return std::log(x); }), 2.0);
}

TEST(HostMath, LogSpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(hm::log(1.0f), 0.0f);
  EXPECT_EQ(hm::log(0.0f), -inf);
  EXPECT_EQ(hm::log(-0.0f), -inf);
  EXPECT_TRUE(std::isnan(hm::log(-1.0f)));
  EXPECT_TRUE(std::isnan(hm::log(-inf)));
  EXPECT_EQ(hm::log(inf), inf);
  EXPECT_TRUE(std::isnan(hm::log(std::nanf(""))));
  const float tiny = std::numeric_limits<float>::denorm_min();
  EXPECT_LE(ulp_error(hm::log(tiny), std::log(static_cast<double>(tiny))), 1.0);
}

TEST(HostMath, TanhWithinThreeUlp) {
  auto xs = sample(-20.0f, 20.0f);
  EXPECT_LE(max_ulp(xs, [](float x) { return hm::tanh(x); }, [](double x) { return std::tanh(x); }), 3.0);
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(hm::tanh(inf), 1.0f);
  EXPECT_EQ(hm::tanh(-inf), -1.0f);
  EXPECT_EQ(hm::tanh(0.0f), 0.0f);
  EXPECT_TRUE(std::signbit(hm::tanh(-0.0f)));
  EXPECT_TRUE(std::isnan(hm::tanh(std::nanf(""))));
}

TEST(HostMath, TensorOpsUseItOnTheCpu) {
  // The vectorised loop (contiguous, > one SIMD width, odd tail) agrees with libm in double.
  Tensor x = linspace(-30.0, 30.0, 1001);
  std::vector<float> xs = x.to_vector<float>();
  std::vector<float> e = exp(x).to_vector<float>(), t = tanh(x).to_vector<float>(),
                     l = log(abs(x) + 1e-3).to_vector<float>();
  for (size_t i = 0; i < xs.size(); ++i) {
    EXPECT_LE(ulp_error(e[i], std::exp(static_cast<double>(xs[i]))), 2.0) << xs[i];
    EXPECT_LE(ulp_error(t[i], std::tanh(static_cast<double>(xs[i]))), 3.0) << xs[i];
    float a = std::fabs(xs[i]) + 1e-3f;
    EXPECT_LE(ulp_error(l[i], std::log(static_cast<double>(a))), 2.0) << xs[i];
  }
}
