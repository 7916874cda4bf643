// Convolution, pooling, normalization, dropout and embedding modules (nn/layers.h): parameter
// shapes, initialisation and repr as torch.nn's; the math is in autograd/ops_conv.h and
// autograd/ops_norm.h.
#include <cmath>
#include <sstream>

#include "autograd/grad_mode.h"
#include "nn/init.h"
#include "nn/layers.h"

namespace hmr::nn {

namespace {

std::string py_bool(bool b) { return b ? "True" : "False"; }
std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
std::string tuple(Size2 s) { return str("(", s[0], ", ", s[1], ")"); }
// Pooling modules print a size given as one int as that int (torchvision passes ints).
std::string int_or_tuple(Size2 s) { return s[0] == s[1] ? std::to_string(s[0]) : tuple(s); }

void check_positive(const char* type, const char* what, Size2 s, int64_t min) {
  HMR_CHECK(s[0] >= min && s[1] >= min, ValueError, type, ": ", what, " must be >= ", min, " but found ",
            tuple(s));
}

// U(±1/sqrt(fan_in)) for a conv bias, fan_in from the weight as torch computes it.
void init_conv(Tensor& weight, Tensor& bias, Generator* gen) {
  NoGradGuard no_grad;
  init::kaiming_uniform_(weight, std::sqrt(5.0), "fan_in", "leaky_relu", gen);
  if (bias.defined()) {
    int64_t fan_in = init::fan_in_and_fan_out(weight).first;
    double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    init::uniform_(bias, -bound, bound, gen);
  }
}

}  // namespace

// ---- Conv2d ------------------------------------------------------------------------------------
Conv2d::Conv2d(int64_t in, int64_t out, Size2 k, Conv2dOptions o, TensorOptions opts)
    : Module("Conv2d"), in_channels(in), out_channels(out), kernel_size(k), options(o) {
  HMR_CHECK(o.groups >= 1 && in % o.groups == 0 && out % o.groups == 0, ValueError,
            "Conv2d: in_channels (", in, ") and out_channels (", out, ") must be divisible by groups (",
            o.groups, ")");
  check_positive("Conv2d", "kernel_size", k, 1);
  check_positive("Conv2d", "stride", o.stride, 1);
  check_positive("Conv2d", "dilation", o.dilation, 1);
  check_positive("Conv2d", "padding", o.padding, 0);
  opts.requires_grad = false;
  weight = register_parameter("weight", empty({out, in / o.groups, k[0], k[1]}, opts));
  bias = register_parameter("bias", o.bias ? empty({out}, opts) : Tensor());
  reset_parameters();
}

void Conv2d::reset_parameters(Generator* gen) { init_conv(weight, bias, gen); }

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, weight, bias, options.stride, options.padding, options.dilation, options.groups);
}

std::string Conv2d::extra_repr() const {
  std::string s = str(in_channels, ", ", out_channels, ", kernel_size=", tuple(kernel_size),
                      ", stride=", tuple(options.stride));
  if (options.padding != Size2{0, 0}) s += ", padding=" + tuple(options.padding);
  if (options.dilation != Size2{1, 1}) s += ", dilation=" + tuple(options.dilation);
  if (options.groups != 1) s += str(", groups=", options.groups);
  if (!bias.defined()) s += ", bias=False";
  return s;
}

// ---- ConvTranspose2d -----------------------------------------------------------------------------
ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, Size2 k, ConvTranspose2dOptions o,
                                 TensorOptions opts)
    : Module("ConvTranspose2d"), in_channels(in), out_channels(out), kernel_size(k), options(o) {
  HMR_CHECK(o.groups >= 1 && in % o.groups == 0 && out % o.groups == 0, ValueError,
            "ConvTranspose2d: in_channels (", in, ") and out_channels (", out,
            ") must be divisible by groups (", o.groups, ")");
  check_positive("ConvTranspose2d", "kernel_size", k, 1);
  check_positive("ConvTranspose2d", "stride", o.stride, 1);
  opts.requires_grad = false;
  weight = register_parameter("weight", empty({in, out / o.groups, k[0], k[1]}, opts));
  bias = register_parameter("bias", o.bias ? empty({out}, opts) : Tensor());
  init_conv(weight, bias, nullptr);
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  return conv_transpose2d(x, weight, bias, options.stride, options.padding, options.output_padding,
                          options.groups, options.dilation);
}

std::string ConvTranspose2d::extra_repr() const {
  std::string s = str(in_channels, ", ", out_channels, ", kernel_size=", tuple(kernel_size),
                      ", stride=", tuple(options.stride));
  if (options.padding != Size2{0, 0}) s += ", padding=" + tuple(options.padding);
  if (options.dilation != Size2{1, 1}) s += ", dilation=" + tuple(options.dilation);
  if (options.output_padding != Size2{0, 0}) s += ", output_padding=" + tuple(options.output_padding);
  if (options.groups != 1) s += str(", groups=", options.groups);
  if (!bias.defined()) s += ", bias=False";
  return s;
}

// ---- pooling -------------------------------------------------------------------------------------
Tensor MaxPool2d::forward(const Tensor& x) {
  return max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode);
}
std::string MaxPool2d::extra_repr() const {
  return str("kernel_size=", int_or_tuple(kernel_size), ", stride=", int_or_tuple(stride),
             ", padding=", int_or_tuple(padding), ", dilation=", int_or_tuple(dilation),
             ", ceil_mode=", py_bool(ceil_mode));
}

Tensor AvgPool2d::forward(const Tensor& x) {
  return avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad);
}
std::string AvgPool2d::extra_repr() const {
  return str("kernel_size=", int_or_tuple(kernel_size), ", stride=", int_or_tuple(stride),
             ", padding=", int_or_tuple(padding));
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return adaptive_avg_pool2d(x, output_size); }
std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + tuple(output_size); }

// ---- BatchNorm -----------------------------------------------------------------------------------
BatchNorm::BatchNorm(const char* type_name, int64_t n, BatchNormOptions o, TensorOptions opts,
                     std::vector<int64_t> accepted_dims)
    : Module(type_name), num_features(n), options(o), accepted_dims_(std::move(accepted_dims)) {
  HMR_CHECK(n > 0, ValueError, type_name, ": num_features must be > 0 but found ", n);
  opts.requires_grad = false;
  weight = register_parameter("weight", o.affine ? ones({n}, opts) : Tensor());
  bias = register_parameter("bias", o.affine ? zeros({n}, opts) : Tensor());
  if (o.track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({n}, opts));
    running_var = register_buffer("running_var", ones({n}, opts));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, {DType::I64, opts.device}));
  }
}

void BatchNorm::reset_running_stats() {
  if (!options.track_running_stats) return;
  NoGradGuard no_grad;
  running_mean.zero_();
  running_var.fill_(1.0);
  num_batches_tracked.zero_();
}

Tensor BatchNorm::forward(const Tensor& x) {
  bool dims_ok = false;
  for (int64_t d : accepted_dims_) dims_ok = dims_ok || x.dim() == d;
  HMR_CHECK(dims_ok, ShapeError, type_name(), ": expected ",
            accepted_dims_.size() == 1 ? str(accepted_dims_[0], "-D") : std::string("2-D or 3-D"),
            " input but found shape ", x.sizes());
  HMR_CHECK(x.size(1) == num_features, ShapeError, type_name(), ": expected ", num_features,
            " channels (dim 1) but found shape ", x.sizes());
  // Batch statistics in training, or always when running statistics are not tracked.
  bool use_batch_stats = is_training() || !options.track_running_stats;
  double momentum = options.momentum.value_or(0.0);
  if (is_training() && options.track_running_stats) {
    {
      NoGradGuard no_grad;
      num_batches_tracked.add_(ones({}, {DType::I64, num_batches_tracked.device()}));
    }
    if (!options.momentum) momentum = 1.0 / static_cast<double>(num_batches_tracked.item<int64_t>());
  }
  Tensor rm = options.track_running_stats && (is_training() || !use_batch_stats) ? running_mean : Tensor();
  Tensor rv = options.track_running_stats && (is_training() || !use_batch_stats) ? running_var : Tensor();
  return batch_norm(x, rm, rv, weight, bias, use_batch_stats, momentum, options.eps);
}

std::string BatchNorm::extra_repr() const {
  return str(num_features, ", eps=", num(options.eps),
             ", momentum=", options.momentum ? num(*options.momentum) : std::string("None"),
             ", affine=", py_bool(options.affine), ", track_running_stats=", py_bool(options.track_running_stats));
}

// ---- GroupNorm / LayerNorm -------------------------------------------------------------------------
GroupNorm::GroupNorm(int64_t groups, int64_t channels, double eps, bool affine, TensorOptions opts)
    : Module("GroupNorm"), num_groups(groups), num_channels(channels), eps(eps) {
  HMR_CHECK(groups > 0 && channels % groups == 0, ValueError, "GroupNorm: num_channels (", channels,
            ") must be divisible by num_groups (", groups, ")");
  opts.requires_grad = false;
  weight = register_parameter("weight", affine ? ones({channels}, opts) : Tensor());
  bias = register_parameter("bias", affine ? zeros({channels}, opts) : Tensor());
}
Tensor GroupNorm::forward(const Tensor& x) { return group_norm(x, num_groups, weight, bias, eps); }
std::string GroupNorm::extra_repr() const {
  return str(num_groups, ", ", num_channels, ", eps=", num(eps), ", affine=", py_bool(weight.defined()));
}

LayerNorm::LayerNorm(Shape shape, double eps, bool affine, TensorOptions opts)
    : Module("LayerNorm"), normalized_shape(std::move(shape)), eps(eps) {
  opts.requires_grad = false;
  weight = register_parameter("weight", affine ? ones(normalized_shape, opts) : Tensor());
  bias = register_parameter("bias", affine ? zeros(normalized_shape, opts) : Tensor());
}
Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, normalized_shape, weight, bias, eps); }
std::string LayerNorm::extra_repr() const {
  std::string dims = "(";
  for (size_t i = 0; i < normalized_shape.size(); ++i)
    dims += std::to_string(normalized_shape[i]) + (normalized_shape.size() == 1 || i + 1 < normalized_shape.size() ? "," : "") +
            (i + 1 < normalized_shape.size() ? " " : "");
  dims += ")";
  return str(dims, ", eps=", num(eps), ", elementwise_affine=", py_bool(weight.defined()));
}

// ---- Dropout / Embedding ---------------------------------------------------------------------------
Dropout::Dropout(double p, Generator* gen) : Module("Dropout"), p(p), generator(gen) {
  HMR_CHECK(p >= 0 && p <= 1, ValueError, "Dropout: p must be in [0, 1] but found ", p);
}
Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training(), generator); }
std::string Dropout::extra_repr() const { return str("p=", num(p), ", inplace=False"); }

Embedding::Embedding(int64_t n, int64_t dim, std::optional<int64_t> padding_idx, TensorOptions opts)
    : Module("Embedding"), num_embeddings(n), embedding_dim(dim), padding_idx(padding_idx) {
  if (padding_idx) {
    HMR_CHECK(*padding_idx >= -n && *padding_idx < n, IndexError, "Embedding: padding_idx ", *padding_idx,
              " is out of range for ", n, " embeddings");
    if (*padding_idx < 0) this->padding_idx = *padding_idx + n;
  }
  opts.requires_grad = false;
  weight = register_parameter("weight", empty({n, dim}, opts));
  NoGradGuard no_grad;
  init::normal_(weight);
  if (this->padding_idx) {
    Tensor row = weight.select(0, *this->padding_idx);
    init::zeros_(row);
  }
}
Tensor Embedding::forward(const Tensor& indices) { return embedding(weight, indices, padding_idx); }
std::string Embedding::extra_repr() const {
  std::string s = str(num_embeddings, ", ", embedding_dim);
  if (padding_idx) s += str(", padding_idx=", *padding_idx);
  return s;
}

}  // namespace hmr::nn
