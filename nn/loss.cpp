// Losses composed from autograd ops (elementwise math, log_softmax, gather, reductions); each
// checks its arguments first so a mismatch reports the loss's name and the shapes involved.
#include "nn/loss.h"

#include "autograd/ops.h"

namespace hmr::nn {

namespace {

Tensor reduce(const Tensor& losses, Reduction reduction) {
  switch (reduction) {
    case Reduction::None:
      return losses;
    case Reduction::Sum:
      return sum(losses);
    case Reduction::Mean:
      return mean(losses);
  }
  return losses;
}

void check_floating(const char* op, const Tensor& input, const Tensor& target) {
  HMR_CHECK(input.is_floating_point(), DTypeError, op, ": expected a floating-point input, got ",
            input.dtype());
  HMR_CHECK(target.is_floating_point(), DTypeError, op, ": expected a floating-point target, got ",
            target.dtype());
}

void check_same_shape(const char* op, const Tensor& input, const Tensor& target) {
  check_floating(op, input, target);
  HMR_CHECK(input.sizes() == target.sizes(), ShapeError, op, ": target shape ", target.sizes(),
            " differs from input shape ", input.sizes());
}

// Pointwise losses broadcast input and target as torch does (torch warns; the result is the same).
void check_broadcastable(const char* op, const Tensor& input, const Tensor& target) {
  check_floating(op, input, target);
  const size_t n = std::max(input.sizes().size(), target.sizes().size());
  for (size_t i = 0; i < n; ++i) {
    const int64_t a = i < input.sizes().size() ? input.sizes()[input.sizes().size() - 1 - i] : 1;
    const int64_t b = i < target.sizes().size() ? target.sizes()[target.sizes().size() - 1 - i] : 1;
    HMR_CHECK(a == b || a == 1 || b == 1, ShapeError, op, ": input shape ", input.sizes(),
              " and target shape ", target.sizes(), " do not broadcast");
  }
}

// weight reshaped (1, C, 1, ...) to broadcast along dim 1 of an input of ndim dims.
Tensor class_weight_view(const Tensor& weight, int64_t ndim) {
  Shape shape(static_cast<size_t>(ndim), 1);
  shape[1] = weight.numel();
  return weight.reshape(shape);
}

// Validated class-index target: returns (target with ignored entries replaced by class 0,
// float mask of the entries that count).
std::pair<Tensor, Tensor> checked_class_targets(const char* op, const Tensor& input, const Tensor& target,
                                                const Tensor& weight, int64_t ignore_index) {
  HMR_CHECK(target.dtype() == DType::I64, DTypeError, op, ": expected int64 class-index targets, got ",
            target.dtype(), " of shape ", target.sizes());
  HMR_CHECK(input.is_floating_point(), DTypeError, op, ": expected a floating-point input, got ",
            input.dtype());
  HMR_CHECK(input.dim() >= 2, ShapeError, op, ": expected input of shape (N, C) or (N, C, d1, ...), got ",
            input.sizes());
  Shape expected = input.sizes();
  expected.erase(expected.begin() + 1);
  HMR_CHECK(target.sizes() == expected, ShapeError, op, ": expected target of shape ", expected,
            " for input of shape ", input.sizes(), ", got ", target.sizes());
  const int64_t classes = input.size(1);
  if (weight.defined())
    HMR_CHECK(weight.dim() == 1 && weight.numel() == classes, ShapeError, op,
              ": expected a weight of shape [", classes, "] (one per class) for input of shape ",
              input.sizes(), ", got ", weight.sizes());
  for (int64_t t : target.to_vector<int64_t>())
    HMR_CHECK(t == ignore_index || (t >= 0 && t < classes), IndexError, op, ": target ", t,
              " is out of bounds for ", classes, " classes (input shape ", input.sizes(), ")");
  Tensor valid = ne(target, Scalar(static_cast<long long>(ignore_index)));
  Tensor safe = where(valid, target, Scalar(0));
  return {safe, valid.to(input.dtype())};
}

// Inputs shaped (C) with a 0-dim target are a batch of one.
bool unbatched(const Tensor& input, const Tensor& target) { return input.dim() == 1 && target.dim() == 0; }

}  // namespace

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_broadcastable("l1_loss", input, target);
  return reduce(abs(input - target), reduction);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_broadcastable("mse_loss", input, target);
  return reduce(square(input - target), reduction);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, double beta) {
  check_broadcastable("smooth_l1_loss", input, target);
  HMR_CHECK(beta >= 0, ValueError, "smooth_l1_loss: beta must be non-negative, got ", beta);
  if (beta == 0) return l1_loss(input, target, reduction);
  Tensor d = input - target;
  Tensor ad = abs(d);
  return reduce(where(lt(ad, beta), square(d) * (0.5 / beta), ad - 0.5 * beta), reduction);
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight,
                            Reduction reduction) {
  check_same_shape("binary_cross_entropy", input, target);
  Tensor log_x = clamp(log(input), -100.0, std::nullopt);
  Tensor log_1mx = clamp(log(rsub(input, 1.0)), -100.0, std::nullopt);
  Tensor losses = neg(target * log_x + rsub(target, 1.0) * log_1mx);
  if (weight.defined()) losses = losses * weight;
  return reduce(losses, reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight,
                                        const Tensor& pos_weight, Reduction reduction) {
  check_same_shape("binary_cross_entropy_with_logits", input, target);
  // log(1 + exp(-x)) = softplus(-x), which never overflows.
  Tensor log_one_plus_exp = softplus(neg(input));
  Tensor log_weight = pos_weight.defined() ? add(target * sub(pos_weight, 1.0), 1.0) : Tensor();
  Tensor losses =
      rsub(target, 1.0) * input + (log_weight.defined() ? log_weight * log_one_plus_exp : log_one_plus_exp);
  if (weight.defined()) losses = losses * weight;
  return reduce(losses, reduction);
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight, Reduction reduction,
                int64_t ignore_index) {
  if (unbatched(log_probs, target)) {
    Tensor out = nll_loss(log_probs.unsqueeze(0), target.unsqueeze(0), weight, reduction, ignore_index);
    return reduction == Reduction::None ? out.squeeze(0) : out;
  }
  auto [safe_target, counted] = checked_class_targets("nll_loss", log_probs, target, weight, ignore_index);
  Tensor picked = gather(log_probs, 1, safe_target.unsqueeze(1)).squeeze(1);  // (N, d1, ...)
  Tensor w =
      weight.defined()
          ? index_select(weight.to(log_probs.dtype()), 0, safe_target.reshape({-1})).reshape(target.sizes()) *
                counted
          : counted;
  Tensor losses = neg(picked) * w;
  if (reduction == Reduction::Mean) return sum(losses) / sum(w);
  return reduce(losses, reduction);
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, Reduction reduction,
                     int64_t ignore_index, double label_smoothing) {
  HMR_CHECK(label_smoothing >= 0 && label_smoothing <= 1, ValueError,
            "cross_entropy: label_smoothing must be in [0, 1], got ", label_smoothing);
  const bool probabilities = target.is_floating_point();
  if (!probabilities && unbatched(input, target)) {
    Tensor out = cross_entropy(input.unsqueeze(0), target.unsqueeze(0), weight, reduction, ignore_index,
                               label_smoothing);
    return reduction == Reduction::None ? out.squeeze(0) : out;
  }
  if (probabilities && input.dim() == 1) {
    Tensor out = cross_entropy(input.unsqueeze(0), target.unsqueeze(0), weight, reduction, ignore_index,
                               label_smoothing);
    return reduction == Reduction::None ? out.squeeze(0) : out;
  }
  HMR_CHECK(input.dim() >= 2, ShapeError,
            "cross_entropy: expected input of shape (N, C) or (N, C, d1, ...), got ", input.sizes());
  const int64_t classes = input.size(1);
  const double smoothing_share = label_smoothing / static_cast<double>(classes);
  Tensor log_probs = log_softmax(input, 1);

  if (probabilities) {
    HMR_CHECK(target.sizes() == input.sizes(), ShapeError,
              "cross_entropy: probability targets must have the input's ", "shape ", input.sizes(), ", got ",
              target.sizes());
    if (weight.defined())
      HMR_CHECK(weight.dim() == 1 && weight.numel() == classes, ShapeError,
                "cross_entropy: expected a weight of shape [", classes, "] for input of shape ",
                input.sizes(), ", got ", weight.sizes());
    Tensor y = label_smoothing > 0 ? add(target * (1.0 - label_smoothing), smoothing_share) : target;
    Tensor terms = log_probs * y;
    if (weight.defined()) terms = terms * class_weight_view(weight, input.dim());
    Tensor losses = neg(sum(terms, {1}));
    if (reduction == Reduction::Mean) return sum(losses) / static_cast<double>(input.numel() / classes);
    return reduce(losses, reduction);
  }

  // Checked here too so errors name cross_entropy rather than the nll_loss it delegates to.
  auto [safe_target, counted] = checked_class_targets("cross_entropy", input, target, weight, ignore_index);
  Tensor nll = nll_loss(log_probs, target, weight, reduction, ignore_index);
  if (label_smoothing == 0) return nll;
  // The uniform part of the smoothed target: -sum_c w_c log p_c per element, zero where ignored.
  Tensor weighted = weight.defined() ? log_probs * class_weight_view(weight, input.dim()) : log_probs;
  Tensor smooth = neg(sum(weighted, {1})) * counted;
  Tensor smooth_reduced;
  if (reduction == Reduction::Mean) {
    Tensor denominator = weight.defined()
                             ? sum(index_select(weight, 0, safe_target.reshape({-1})) * counted.reshape({-1}))
                             : sum(counted);
    smooth_reduced = sum(smooth) / denominator;
  } else {
    smooth_reduced = reduce(smooth, reduction);
  }
  return nll * (1.0 - label_smoothing) + smooth_reduced * smoothing_share;
}

}  // namespace hmr::nn
