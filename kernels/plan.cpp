#include "kernels/plan.h"

namespace hmr::kernels {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    HMR_CHECK(da == db || da == 1 || db == 1, ShapeError, op, ": shapes ", a, " and ", b,
              " cannot be broadcast together (dim ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Shape broadcast_strides(const Tensor& t, const Shape& to, const char* op) {
  size_t n = to.size(), m = static_cast<size_t>(t.dim());
  HMR_CHECK(m <= n, ShapeError, op, ": shape ", t.sizes(), " cannot be broadcast to ", to);
  Shape out(n, 0);
  for (size_t i = 0; i < m; ++i) {
    size_t j = n - m + i;
    int64_t s = t.sizes()[i];
    HMR_CHECK(s == to[j] || s == 1, ShapeError, op, ": shape ", t.sizes(), " cannot be broadcast to ", to);
    out[j] = s == 1 ? 0 : t.strides()[i];
  }
  return out;
}

}  // namespace hmr::kernels
