// Loss curves as a PNG without a plotting library: a run folder's log.csv (training loss, log
// scale, with a moving average) and eval.csv (held-out PA-MPJPE and the mean-pose baseline) drawn
// as two panels with axes and numeric labels in a small built-in bitmap font.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hmr::train {

struct Series {
  std::string label;
  std::vector<double> x, y;
  std::array<uint8_t, 3> color{0, 0, 0};
  bool dashed = false;
};

// A (height, width, 3) U8 image of one panel: the series over a shared x range; log_y plots
// log10(y) (non-positive values skipped). Axes carry min/max labels; the title sits on top.
Tensor plot_panel(const std::vector<Series>& series, const std::string& title, int64_t width, int64_t height,
                  bool log_y);

// Reads run_dir/log.csv (and run_dir/eval.csv when present) and writes the curves to png_path.
// IOError when log.csv is missing or has no rows.
void plot_training_log(const std::string& run_dir, const std::string& png_path);

// Draws text (digits, '.', '-', '(', ')', a few letters; others as blanks) with the 3x5 font
// scaled by `scale` into an (H, W, 3) U8 image, top-left at (x, y).
void draw_text(Tensor& image, const std::string& text, int64_t x, int64_t y, int scale,
               const std::array<uint8_t, 3>& color);

}  // namespace hmr::train
