// Helpers shared by the geometry and metrics tests: fixture arrays as tensors and closeness checks.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "fixtures/geometry_fixtures.inc"

namespace hmr::testing {

inline Tensor from_fixture(const geometry_fixture::Array& a, DType dtype = DType::F64) {
  return tensor(a.values, Shape(a.shape.begin(), a.shape.end()), dtype);
}

// Every element of actual within tol of expected (values compared in f64), shapes equal.
inline void expect_close(const Tensor& actual, const std::vector<double>& expected, const Shape& shape,
                         double tol, const std::string& what = "") {
  ASSERT_EQ(actual.sizes(), shape) << what;
  std::vector<double> v = actual.to(DType::F64).contiguous().to_vector<double>();
  ASSERT_EQ(v.size(), expected.size()) << what;
  for (size_t i = 0; i < v.size(); ++i) ASSERT_NEAR(v[i], expected[i], tol) << what << " element " << i;
}

inline void expect_close(const Tensor& actual, const Tensor& expected, double tol,
                         const std::string& what = "") {
  expect_close(actual, expected.to(DType::F64).contiguous().to_vector<double>(), expected.sizes(), tol, what);
}

inline void expect_close(const Tensor& actual, const geometry_fixture::Array& expected, double tol,
                         const std::string& what = "") {
  expect_close(actual, expected.values, Shape(expected.shape.begin(), expected.shape.end()), tol, what);
}

}  // namespace hmr::testing
