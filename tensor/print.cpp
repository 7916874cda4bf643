// Printing in PyTorch's style: tensor([[1., 2.], [3., 4.]], dtype=float64, device='cuda:0').
// Floats print as integers with a trailing dot when all are whole, in fixed notation with
// four decimals otherwise, and in scientific notation when magnitudes span > 1e3 or exceed
// 1e8. Large tensors are summarised with "..." (three items at each end of each dim).
#include <cmath>
#include <cstdio>
#include <sstream>

#include "tensor/tensor.h"

namespace hmr {

namespace {

constexpr int64_t kSummarizeThreshold = 1000;
constexpr int64_t kEdgeItems = 3;

struct Formatter {
  bool floating = false;
  bool integral_values = true;
  bool sci = false;
  size_t width = 1;

  std::string format(double v) const {
    char buf[64];
    if (!floating || std::isnan(v) || std::isinf(v)) {
      if (std::isnan(v)) return "nan";
      if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    } else if (sci) {
      std::snprintf(buf, sizeof buf, "%.4e", v);
    } else if (integral_values) {
      std::snprintf(buf, sizeof buf, "%.0f.", v);
    } else {
      std::snprintf(buf, sizeof buf, "%.4f", v);
    }
    return buf;
  }
};

void print_dim(std::ostringstream& os, const std::vector<double>& v, const Shape& sizes,
               const Shape& strides, int64_t dim, int64_t base, const Formatter& f, bool summarize,
               int indent, DType dtype) {
  int64_t n = sizes[dim];
  os << "[";
  bool last = dim + 1 == static_cast<int64_t>(sizes.size());
  for (int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
      os << (last ? "..." : "...");
      i = n - kEdgeItems - 1;
      os << (last ? ", " : ",\n" + std::string(indent + 1, ' '));
      continue;
    }
    if (last) {
      std::string s = dtype == DType::Bool ? (v[base + i * strides[dim]] != 0 ? "True" : "False")
                                           : f.format(v[base + i * strides[dim]]);
      os << std::string(f.width > s.size() ? f.width - s.size() : 0, ' ') << s;
    } else {
      print_dim(os, v, sizes, strides, dim + 1, base + i * strides[dim], f, summarize, indent + 1, dtype);
    }
    if (i + 1 < n) {
      if (last) os << ", ";
      else os << "," << std::string(sizes.size() - dim - 1, '\n') << std::string(indent + 1, ' ');
    }
  }
  os << "]";
}

}  // namespace

std::string Tensor::to_string() const {
  if (!defined()) return "tensor(undefined)";
  std::vector<double> values = to_vector<double>();
  Formatter f;
  f.floating = is_floating_point();
  double max_abs = 0, min_abs = INFINITY;
  for (double x : values) {
    if (!std::isfinite(x)) continue;
    if (x != std::floor(x)) f.integral_values = false;
    max_abs = std::max(max_abs, std::fabs(x));
    if (x != 0) min_abs = std::min(min_abs, std::fabs(x));
  }
  if (f.floating && !f.integral_values && min_abs < INFINITY)
    f.sci = max_abs / min_abs > 1000.0 || max_abs > 1e8 || min_abs < 1e-4;
  if (f.floating && f.integral_values) f.sci = max_abs > 1e8;
  bool summarize = numel() > kSummarizeThreshold;
  for (double x : values)
    f.width = std::max(f.width, dtype() == DType::Bool ? (x != 0 ? 4 : 5) : f.format(x).size());

  std::ostringstream os;
  os << "tensor(";
  if (dim() == 0) {
    os << (dtype() == DType::Bool ? (values[0] != 0 ? "True" : "False") : f.format(values[0]));
  } else if (numel() == 0) {
    os << "[]";
  } else {
    print_dim(os, values, sizes(), contiguous_strides(sizes()), 0, 0, f, summarize, 7, dtype());
  }
  bool default_dtype = dtype() == DType::F32 || dtype() == DType::I64 || dtype() == DType::Bool;
  if (numel() == 0 && dim() != 1) os << ", size=" << sizes();
  if (is_cuda()) os << ", device='" << device() << "'";
  if (!default_dtype) os << ", dtype=" << dtype();
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

}  // namespace hmr
