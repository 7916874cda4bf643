// Minimal line plots for training curves (see plot.h).
#include "hmr/train/plot.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>

#include "autograd/ops.h"
#include "io/image.h"
#include "tensor/error.h"

namespace hmr::train {

namespace {

// 3x5 glyphs, one 3-bit row each from the top (bit 2 = left column).
const std::map<char, std::array<uint8_t, 5>>& font() {
  static const std::map<char, std::array<uint8_t, 5>> f = {
      {'0', {7, 5, 5, 5, 7}}, {'1', {2, 6, 2, 2, 7}}, {'2', {7, 1, 7, 4, 7}}, {'3', {7, 1, 7, 1, 7}},
      {'4', {5, 5, 7, 1, 1}}, {'5', {7, 4, 7, 1, 7}}, {'6', {7, 4, 7, 5, 7}}, {'7', {7, 1, 1, 1, 1}},
      {'8', {7, 5, 7, 5, 7}}, {'9', {7, 5, 7, 1, 7}}, {'.', {0, 0, 0, 0, 2}}, {'-', {0, 0, 7, 0, 0}},
      {'(', {2, 4, 4, 4, 2}}, {')', {2, 1, 1, 1, 2}}, {'A', {2, 5, 7, 5, 5}}, {'E', {7, 4, 6, 4, 7}},
      {'J', {1, 1, 1, 5, 7}}, {'M', {5, 7, 7, 5, 5}}, {'P', {6, 5, 6, 4, 4}}, {'a', {0, 3, 5, 5, 3}},
      {'c', {0, 7, 4, 4, 7}}, {'d', {1, 1, 7, 5, 7}}, {'e', {0, 7, 7, 4, 7}}, {'g', {0, 7, 5, 7, 1}},
      {'h', {4, 4, 7, 5, 5}}, {'i', {2, 0, 2, 2, 2}}, {'k', {4, 5, 6, 5, 5}}, {'l', {4, 4, 4, 4, 6}},
      {'m', {0, 6, 7, 5, 5}}, {'n', {0, 6, 5, 5, 5}}, {'o', {0, 7, 5, 5, 7}}, {'p', {0, 7, 5, 7, 4}},
      {'r', {0, 6, 4, 4, 4}}, {'s', {0, 3, 6, 3, 6}}, {'t', {2, 7, 2, 2, 3}}, {'v', {0, 5, 5, 5, 2}},
      {'x', {0, 5, 2, 2, 5}}, {'w', {0, 5, 5, 7, 7}}, {'u', {0, 5, 5, 5, 7}}, {'y', {0, 5, 7, 1, 7}},
      {'f', {3, 4, 6, 4, 4}}, {'b', {4, 4, 7, 5, 7}}, {'/', {1, 1, 2, 4, 4}}, {':', {0, 2, 0, 2, 0}},
      {'%', {5, 1, 2, 4, 5}}, {'_', {0, 0, 0, 0, 7}}, {'D', {6, 5, 5, 5, 6}},
  };
  return f;
}

struct Canvas {
  Tensor image;  // (H, W, 3) U8
  uint8_t* p;
  int64_t h, w;
  explicit Canvas(Tensor& im) : image(im), p(im.data<uint8_t>()), h(im.size(0)), w(im.size(1)) {}
  void set(int64_t x, int64_t y, const std::array<uint8_t, 3>& c) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    for (int k = 0; k < 3; ++k) p[(y * w + x) * 3 + k] = c[static_cast<size_t>(k)];
  }
  // A 2-pixel-wide segment; dashed skips alternate runs of 6 pixels.
  void line(double x0, double y0, double x1, double y1, const std::array<uint8_t, 3>& c,
            bool dashed = false) {
    const double len = std::max(std::abs(x1 - x0), std::abs(y1 - y0));
    const int64_t n = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(len)));
    for (int64_t i = 0; i <= n; ++i) {
      if (dashed && (i / 6) % 2 == 1) continue;
      const double t = static_cast<double>(i) / static_cast<double>(n);
      const int64_t x = std::lround(x0 + t * (x1 - x0)), y = std::lround(y0 + t * (y1 - y0));
      set(x, y, c);
      set(x + 1, y, c);
      set(x, y + 1, c);
    }
  }
};

std::string label_number(double v) {
  std::ostringstream os;
  const double a = std::abs(v);
  if (a != 0 && (a >= 1e5 || a < 1e-3))
    os << std::setprecision(2) << std::scientific << v;
  else if (a >= 100 || v == std::round(v))  // integers (steps) without decimals
    os << std::fixed << std::setprecision(0) << v;
  else if (a >= 1)
    os << std::fixed << std::setprecision(2) << v;
  else
    os << std::setprecision(3) << v;
  return os.str();
}

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  HMR_CHECK(in.good(), IOError, "plot: cannot open ", path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

// Column `name` of a CSV with a header row, as numbers.
std::vector<double> column(const std::vector<std::vector<std::string>>& rows, const std::string& name,
                           const std::string& path) {
  HMR_CHECK(!rows.empty(), IOError, "plot: ", path, " is empty");
  auto it = std::find(rows[0].begin(), rows[0].end(), name);
  HMR_CHECK(it != rows[0].end(), IOError, "plot: ", path, " has no column '", name, "'");
  const size_t c = static_cast<size_t>(it - rows[0].begin());
  std::vector<double> out;
  for (size_t r = 1; r < rows.size(); ++r)
    out.push_back(c < rows[r].size() ? std::atof(rows[r][c].c_str()) : NAN);
  return out;
}

}  // namespace

void draw_text(Tensor& image, const std::string& text, int64_t x, int64_t y, int scale,
               const std::array<uint8_t, 3>& color) {
  Canvas cv(image);
  for (char ch : text) {
    auto it = font().find(ch);
    if (it == font().end() && ch >= 'A' && ch <= 'Z') it = font().find(static_cast<char>(ch - 'A' + 'a'));
    if (it != font().end())
      for (int r = 0; r < 5; ++r)
        for (int col = 0; col < 3; ++col)
          if (it->second[static_cast<size_t>(r)] & (4 >> col))
            for (int dy = 0; dy < scale; ++dy)
              for (int dx = 0; dx < scale; ++dx) cv.set(x + col * scale + dx, y + r * scale + dy, color);
    x += 4 * scale;
  }
}

Tensor plot_panel(const std::vector<Series>& series, const std::string& title, int64_t width, int64_t height,
                  bool log_y) {
  Tensor image = full({height, width, 3}, 255.0, DType::U8);
  Canvas cv(image);
  const int64_t left = 70, right = 15, top = 30, bottom = 30;
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  auto ty = [&](double y) { return log_y ? std::log10(y) : y; };
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i]) || (log_y && s.y[i] <= 0)) continue;
      x_lo = std::min(x_lo, s.x[i]);
      x_hi = std::max(x_hi, s.x[i]);
      y_lo = std::min(y_lo, ty(s.y[i]));
      y_hi = std::max(y_hi, ty(s.y[i]));
    }
  const std::array<uint8_t, 3> black{0, 0, 0}, grey{200, 200, 200};
  draw_text(image, title, left, 8, 2, black);
  if (!std::isfinite(x_lo)) return image;
  if (x_hi == x_lo) x_hi = x_lo + 1;
  if (y_hi == y_lo) y_hi = y_lo + 1;
  const double pad = 0.05 * (y_hi - y_lo);
  y_lo -= pad;
  y_hi += pad;
  const double pw = static_cast<double>(width - left - right),
               ph = static_cast<double>(height - top - bottom);
  auto px = [&](double x) { return static_cast<double>(left) + (x - x_lo) / (x_hi - x_lo) * pw; };
  auto py = [&](double y) { return static_cast<double>(top) + (1.0 - (ty(y) - y_lo) / (y_hi - y_lo)) * ph; };
  for (int g = 0; g <= 4; ++g) {  // horizontal grid with labels
    const double v = y_lo + (y_hi - y_lo) * g / 4.0;
    const double yy = static_cast<double>(top) + (1.0 - g / 4.0) * ph;
    cv.line(static_cast<double>(left), yy, static_cast<double>(width - right), yy, grey);
    draw_text(image, label_number(log_y ? std::pow(10.0, v) : v), 4, static_cast<int64_t>(yy) - 5, 2, black);
  }
  cv.line(static_cast<double>(left), static_cast<double>(top), static_cast<double>(left),
          static_cast<double>(height - bottom), black);
  cv.line(static_cast<double>(left), static_cast<double>(height - bottom), static_cast<double>(width - right),
          static_cast<double>(height - bottom), black);
  draw_text(image, label_number(x_lo), left, height - bottom + 8, 2, black);
  const std::string hi = label_number(x_hi) + " step";
  draw_text(image, hi, width - right - static_cast<int64_t>(hi.size()) * 8, height - bottom + 8, 2, black);
  int64_t legend_y = top + 6;
  for (const Series& s : series) {
    bool have = false;
    double lx = 0, ly = 0;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i]) || (log_y && s.y[i] <= 0)) continue;
      const double x = px(s.x[i]), y = py(s.y[i]);
      if (have)
        cv.line(lx, ly, x, y, s.color, s.dashed);
      else
        cv.set(static_cast<int64_t>(x), static_cast<int64_t>(y), s.color);
      lx = x;
      ly = y;
      have = true;
    }
    if (!s.label.empty()) {
      const int64_t lx0 = width - right - 8 * static_cast<int64_t>(s.label.size()) - 40;
      cv.line(static_cast<double>(lx0), static_cast<double>(legend_y + 5), static_cast<double>(lx0 + 25),
              static_cast<double>(legend_y + 5), s.color, s.dashed);
      draw_text(image, s.label, lx0 + 32, legend_y, 2, s.color);
      legend_y += 16;
    }
  }
  return image;
}

void plot_training_log(const std::string& run_dir, const std::string& png_path) {
  namespace fs = std::filesystem;
  const std::string log_path = (fs::path(run_dir) / "log.csv").string();
  auto rows = read_csv(log_path);
  HMR_CHECK(rows.size() > 1, IOError, "plot: ", log_path, " has no training rows");
  Series loss{"loss", column(rows, "step", log_path), column(rows, "loss", log_path), {150, 170, 230}, false};
  // A moving average over ~2% of the run makes the trend readable through batch noise.
  Series smooth{"average", loss.x, {}, {20, 60, 200}, false};
  const size_t win = std::max<size_t>(1, loss.y.size() / 50);
  double acc = 0;
  for (size_t i = 0; i < loss.y.size(); ++i) {
    acc += loss.y[i];
    if (i >= win) acc -= loss.y[i - win];
    smooth.y.push_back(acc / static_cast<double>(std::min(i + 1, win)));
  }
  const int64_t w = 560, h = 360;
  std::vector<Tensor> panels = {plot_panel({loss, smooth}, "training loss", w, h, true)};
  const std::string eval_path = (fs::path(run_dir) / "eval.csv").string();
  if (fs::exists(eval_path)) {
    auto er = read_csv(eval_path);
    if (er.size() > 1) {
      auto steps = column(er, "step", eval_path);
      Series pa{"model", steps, column(er, "pa_mpjpe_mm", eval_path), {200, 40, 40}, false};
      Series base{"mean pose", steps, column(er, "mean_pose_pa_mpjpe_mm", eval_path), {90, 90, 90}, true};
      panels.push_back(plot_panel({pa, base}, "held-out PA-MPJPE mm", w, h, false));
    }
  }
  io::write_png(png_path, cat(panels, 1));
}

}  // namespace hmr::train
