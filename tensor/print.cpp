// Printing as str(torch.tensor(...)) does with default options (torch/_tensor_str.py): only the
// printed values (edge items of a summary) choose integer, fixed or scientific form and width;
// lines wrap at 80 columns and suffixes (device, size, dtype) wrap the same way.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hmr {

namespace {

constexpr int64_t kSummarizeThreshold = 1000;
constexpr int64_t kEdgeItems = 3;
constexpr size_t kLineWidth = 80;
constexpr int kPrecision = 4;

// The indices of a dim that are printed: all, or the edge items when summarising.
std::vector<int64_t> shown_indices(int64_t n, bool summarize) {
  std::vector<int64_t> idx;
  bool cut = summarize && n > 2 * kEdgeItems;
  for (int64_t i = 0; i < n; ++i)
    if (!cut || i < kEdgeItems || i >= n - kEdgeItems) idx.push_back(i);
  return idx;
}

bool is_cut(int64_t n, bool summarize) { return summarize && n > 2 * kEdgeItems; }

std::string printf_str(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

class Formatter {
 public:
  Formatter(const std::vector<double>& shown, DType dtype) : dtype_(dtype), floating_(is_floating(dtype)) {
    if (!floating_) {
      for (double v : shown) width_ = std::max(width_, format(v).size());
      return;
    }
    // Modes and width come from the nonzero finite values only.
    double lo = INFINITY, hi = 0;
    bool any = false;
    for (double v : shown) {
      if (!std::isfinite(v) || v == 0) continue;
      any = true;
      lo = std::min(lo, std::fabs(v));
      hi = std::max(hi, std::fabs(v));
      if (v != std::ceil(v)) int_mode_ = false;
    }
    if (!any) return;
    sci_ = hi / lo > 1000.0 || hi > 1e8 || (!int_mode_ && lo < 1e-4);
    for (double v : shown)
      if (std::isfinite(v) && v != 0) width_ = std::max(width_, format(v).size());
  }

  size_t width() const { return width_; }

  // The value right-aligned to the common width.
  std::string padded(double v) const {
    std::string s = format(v);
    return std::string(width_ > s.size() ? width_ - s.size() : 0, ' ') + s;
  }

 private:
  std::string format(double v) const {
    if (dtype_ == DType::Bool) return v != 0 ? "True" : "False";
    if (!floating_) return printf_str("%.0f", v);  // integers up to 2^53 are exact in double
    if (std::isnan(v)) return "nan";               // printf would write "-nan" for some NaNs
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (sci_) return printf_str("%.4e", v);
    if (int_mode_) return printf_str("%.0f", v) + ".";
    return printf_str("%.4f", v);
  }

  DType dtype_;
  bool floating_;
  bool int_mode_ = true;
  bool sci_ = false;
  size_t width_ = 1;
};

struct Printer {
  const std::vector<double>& values;  // all elements, row-major
  const Shape& sizes;
  Shape strides;  // contiguous strides of sizes
  bool summarize;

  void collect(int64_t dim, int64_t base, std::vector<double>& out) const {
    if (dim == static_cast<int64_t>(sizes.size())) {
      out.push_back(values[base]);
      return;
    }
    for (int64_t i : shown_indices(sizes[dim], summarize)) collect(dim + 1, base + i * strides[dim], out);
  }

  std::string vector_str(int64_t base, size_t indent, const Formatter& f) const {
    int64_t n = sizes.back();
    std::vector<std::string> items;
    for (int64_t i : shown_indices(n, summarize)) {
      if (is_cut(n, summarize) && i == n - kEdgeItems) items.push_back(" ...");
      items.push_back(f.padded(values[base + i]));
    }
    size_t per_line = std::max<size_t>(1, (kLineWidth - std::min(indent, kLineWidth)) / (f.width() + 2));
    std::string out = "[";
    for (size_t k = 0; k < items.size(); ++k) {
      if (k > 0) out += k % per_line == 0 ? ",\n" + std::string(indent + 1, ' ') : ", ";
      out += items[k];
    }
    return out + "]";
  }

  std::string tensor_str(int64_t dim, int64_t base, size_t indent, const Formatter& f) const {
    int64_t nd = static_cast<int64_t>(sizes.size());
    if (dim == nd - 1) return vector_str(base, indent, f);
    int64_t n = sizes[dim];
    std::string sep = "," + std::string(nd - dim - 1, '\n') + std::string(indent + 1, ' ');
    std::string out = "[";
    bool first = true;
    for (int64_t i : shown_indices(n, summarize)) {
      if (!first) out += sep;
      if (is_cut(n, summarize) && i == n - kEdgeItems) out += "..." + sep;
      out += tensor_str(dim + 1, base + i * strides[dim], indent + 1, f);
      first = false;
    }
    return out + "]";
  }
};

// Appends ", suffix" to s, or ",\n" + indent + suffix when the line would pass the width.
// line_len follows PyTorch's bookkeeping, which counts two columns more than the text holds
// until the first wrap.
void add_suffixes(std::string& s, const std::vector<std::string>& suffixes, size_t indent) {
  size_t nl = s.rfind('\n');
  size_t line_len = (nl == std::string::npos ? s.size() : s.size() - nl - 1) + 2;
  for (const std::string& suffix : suffixes) {
    if (line_len + suffix.size() + 2 > kLineWidth) {
      s += ",\n" + std::string(indent, ' ') + suffix;
      line_len = indent + suffix.size();
    } else {
      s += ", " + suffix;
      line_len += suffix.size() + 2;
    }
  }
}

std::string size_tuple(const Shape& sizes) {
  std::string s = "(";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + (sizes.size() == 1 ? ",)" : ")");
}

}  // namespace

std::string Tensor::to_string() const {
  if (!defined()) return "tensor(undefined)";
  const std::string prefix = "tensor(";
  const size_t indent = prefix.size();
  std::vector<double> values = to_vector<double>();
  Printer p{values, sizes(), contiguous_strides(sizes()), numel() > kSummarizeThreshold};
  std::vector<std::string> suffixes;
  if (is_cuda()) suffixes.push_back("device='" + device().str() + "'");
  std::string body;
  if (numel() == 0) {
    body = "[]";
    if (dim() != 1) suffixes.push_back("size=" + size_tuple(sizes()));
    if (dtype() != kDefaultFloat) suffixes.push_back("dtype=torch." + std::string(dtype_name(dtype())));
  } else {
    std::vector<double> shown;
    p.collect(0, 0, shown);
    Formatter f(shown, dtype());
    body = dim() == 0 ? f.padded(values[0]) : p.tensor_str(0, 0, indent, f);
    bool default_dtype = dtype() == kDefaultFloat || dtype() == DType::I64 || dtype() == DType::Bool;
    if (!default_dtype) suffixes.push_back("dtype=torch." + std::string(dtype_name(dtype())));
  }
  std::string s = prefix + body;
  add_suffixes(s, suffixes, indent);
  return s + ")";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

}  // namespace hmr
