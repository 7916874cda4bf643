// `hmr classify`: ImageNet classification with a torchvision ResNet checkpoint — the user's
// proof that real PyTorch weights run here. Preprocessing is torchvision's standard
// evaluation transform: resize the shorter side to 256 (bilinear, antialiased), center-crop
// 224, scale to [0, 1], normalise with ImageNet's mean and std. An image that is already
// 224x224 is used as it is (no resampling, so results match PyTorch to float rounding).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "hmr/commands/commands.h"
#include "io/image.h"
#include "io/json.h"
#include "io/state_dict_file.h"
#include "nn/resnet.h"

namespace hmr::cli {

namespace {

// One separable pass of a triangle (bilinear) filter whose support widens with the
// downscale factor, as PIL's resize does: out (n_out) from in (n_in) along one axis.
// Returns, per output sample, the first input index and its normalised weights.
struct Taps {
  std::vector<int64_t> first;
  std::vector<std::vector<float>> w;
};

Taps triangle_taps(int64_t n_in, int64_t n_out) {
  Taps t;
  const double scale = static_cast<double>(n_in) / static_cast<double>(n_out);
  const double support = std::max(scale, 1.0);
  for (int64_t o = 0; o < n_out; ++o) {
    const double center = (static_cast<double>(o) + 0.5) * scale;
    int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(std::floor(center - support + 0.5)));
    int64_t hi = std::min<int64_t>(n_in, static_cast<int64_t>(std::floor(center + support + 0.5)));
    std::vector<float> w;
    double total = 0;
    for (int64_t i = lo; i < hi; ++i) {
      double x = (static_cast<double>(i) - center + 0.5) / support;
      double v = std::max(0.0, 1.0 - std::abs(x));
      w.push_back(static_cast<float>(v));
      total += v;
    }
    for (float& v : w) v = static_cast<float>(v / total);
    t.first.push_back(lo);
    t.w.push_back(std::move(w));
  }
  return t;
}

// u8 (H, W, 3) -> f32 (H', W', 3) in [0, 255], resized with the antialiased triangle filter.
std::vector<float> resize(const std::vector<uint8_t>& img, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  Taps tx = triangle_taps(w, ow), ty = triangle_taps(h, oh);
  std::vector<float> mid(static_cast<size_t>(h * ow * 3));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < ow; ++x)
      for (int64_t c = 0; c < 3; ++c) {
        float acc = 0;
        for (size_t k = 0; k < tx.w[x].size(); ++k)
          acc += tx.w[x][k] * img[static_cast<size_t>((y * w + tx.first[x] + static_cast<int64_t>(k)) * 3 + c)];
        mid[static_cast<size_t>((y * ow + x) * 3 + c)] = acc;
      }
  std::vector<float> out(static_cast<size_t>(oh * ow * 3));
  for (int64_t y = 0; y < oh; ++y)
    for (int64_t x = 0; x < ow; ++x)
      for (int64_t c = 0; c < 3; ++c) {
        float acc = 0;
        for (size_t k = 0; k < ty.w[y].size(); ++k)
          acc += ty.w[y][k] * mid[static_cast<size_t>(((ty.first[y] + static_cast<int64_t>(k)) * ow + x) * 3 + c)];
        // PIL rounds each resampled image to 8 bits.
        out[static_cast<size_t>((y * ow + x) * 3 + c)] = std::clamp(std::round(acc), 0.0f, 255.0f);
      }
  return out;
}

}  // namespace

// (1, 3, 224, 224) f32, normalised, from an RGB u8 (H, W, 3) image.
Tensor imagenet_input(const Tensor& image) {
  HMR_CHECK(image.dim() == 3 && image.size(2) == 3 && image.dtype() == DType::U8, ShapeError,
            "classify: expected an RGB u8 image (H, W, 3) but found ", image.dtype(), " ", image.sizes());
  const int64_t h = image.size(0), w = image.size(1);
  std::vector<uint8_t> px = image.to_vector<uint8_t>();
  std::vector<float> rgb;
  int64_t rh = h, rw = w;
  if (h == 224 && w == 224) {
    rgb.assign(px.begin(), px.end());
  } else {
    // Shorter side to 256, the longer one in proportion (torchvision truncates).
    if (h <= w) {
      rh = 256;
      rw = static_cast<int64_t>(256.0 * static_cast<double>(w) / static_cast<double>(h));
    } else {
      rw = 256;
      rh = static_cast<int64_t>(256.0 * static_cast<double>(h) / static_cast<double>(w));
    }
    HMR_CHECK(rh >= 224 && rw >= 224, ValueError, "classify: image ", h, "x", w, " is too small to crop 224x224");
    rgb = resize(px, h, w, rh, rw);
  }
  // Center crop (torchvision rounds the offset), then CHW with ImageNet normalisation.
  const int64_t top = static_cast<int64_t>(std::round(static_cast<double>(rh - 224) / 2.0));
  const int64_t left = static_cast<int64_t>(std::round(static_cast<double>(rw - 224) / 2.0));
  const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};
  std::vector<float> chw(3 * 224 * 224);
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < 224; ++y)
      for (int64_t x = 0; x < 224; ++x) {
        float v = rgb[static_cast<size_t>(((top + y) * rw + left + x) * 3 + c)] / 255.0f;
        chw[static_cast<size_t>((c * 224 + y) * 224 + x)] = (v - mean[c]) / stdev[c];
      }
  return Tensor::from_vector(chw, {1, 3, 224, 224});
}

Command classify_command() {
  Command c;
  c.name = "classify";
  c.summary = "ImageNet top-5 of an image with a torchvision ResNet checkpoint";
  c.description =
      "Loads torchvision ResNet weights (--weights: a .pth/.pt as saved by torch.save(model.state_dict()), "
      "a checkpoint holding one under 'state_dict' or 'model', or safetensors), preprocesses the image as "
      "torchvision's evaluation transform (shorter side 256, center crop 224, ImageNet mean/std; a 224x224 "
      "image is used as it is) and prints the top classes with logits and softmax probabilities.";
  c.options = {{"arch", "NAME", "resnet18, resnet34, resnet50, resnet101 or resnet152", "resnet50"},
               {"weights", "FILE", "the checkpoint (required)", ""},
               {"image", "FILE", "a JPEG or PNG image (required)", ""},
               {"top", "K", "how many classes to print", "5"},
               {"json", "", "print JSON instead of a table", ""}};
  c.run = [](const Args& args, Streams& s) {
    const std::string arch = args.get("arch");
    int depth = 0;
    for (int d : {18, 34, 50, 101, 152})
      if (arch == "resnet" + std::to_string(d)) depth = d;
    HMR_CHECK(depth != 0, cli::UsageError, "hmr classify: --arch must be resnet18, resnet34, resnet50, resnet101 or "
              "resnet152 but found '", arch, "'");
    HMR_CHECK(!args.get("weights").empty(), cli::UsageError, "hmr classify: --weights FILE is required");
    HMR_CHECK(!args.get("image").empty(), cli::UsageError, "hmr classify: --image FILE is required");
    const int64_t k = args.get_int("top");
    HMR_CHECK(k >= 1 && k <= 1000, cli::UsageError, "hmr classify: --top must be in [1, 1000] but found ", k);

    nn::ResNet model(depth);
    model.load_state_dict(io::load_state_dict_file(args.get("weights")));
    model.eval();
    Tensor x = imagenet_input(io::read_image(args.get("image"), 3));
    NoGradGuard no_grad;
    Tensor logits = model.forward(x).reshape({-1});
    std::vector<float> l = logits.to_vector<float>(), p = softmax(logits, 0).to_vector<float>();
    std::vector<int64_t> order(l.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int64_t a, int64_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
    if (args.flag("json")) {
      io::Json top = io::Json::array();
      for (int64_t i = 0; i < k; ++i) {
        io::Json e = io::Json::object();
        e.set("class", order[i]);
        e.set("logit", static_cast<double>(l[order[i]]));
        e.set("probability", static_cast<double>(p[order[i]]));
        top.push_back(e);
      }
      io::Json root = io::Json::object();
      root.set("arch", arch);
      root.set("top", top);
      s.out << io::to_json(root, 2) << "\n";
      return kExitOk;
    }
    s.out << "rank  class  logit      probability\n";
    for (int64_t i = 0; i < k; ++i) {
      char line[96];
      std::snprintf(line, sizeof line, "%4lld  %5lld  %9.4f  %.6f\n", static_cast<long long>(i + 1),
                    static_cast<long long>(order[i]), l[order[i]], p[order[i]]);
      s.out << line;
    }
    return kExitOk;
  };
  return c;
}

}  // namespace hmr::cli
