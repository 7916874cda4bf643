// torch.result_type: tensors with dimensions decide the dtype; 0-dim tensors and scalars
// only lift it to a higher category (bool < integral < floating).
#include "autograd/ops.h"

namespace hmr {

namespace {

enum class Category { Bool, Integral, Floating };
Category category(DType t) {
  if (t == DType::Bool) return Category::Bool;
  return is_floating(t) ? Category::Floating : Category::Integral;
}

// PyTorch's combine_categories(higher, lower), with nullopt for "no operand of this kind".
std::optional<DType> combine(std::optional<DType> higher, std::optional<DType> lower) {
  if (!higher) return lower;
  if (!lower) return higher;
  if (category(*higher) == Category::Floating) return higher;
  if (*higher == DType::Bool || category(*lower) == Category::Floating) return promote_types(*higher, *lower);
  return higher;
}

DType scalar_dtype(const Scalar& s) {
  switch (s.kind()) {
    case Scalar::Kind::Bool: return DType::Bool;
    case Scalar::Kind::Int: return DType::I64;
    case Scalar::Kind::Float: return kDefaultFloat;
  }
  return kDefaultFloat;
}

}  // namespace

DType result_type(const Tensor& a, const Tensor& b) {
  std::optional<DType> dim, zero;
  for (const Tensor* t : {&a, &b}) {
    auto& slot = t->dim() > 0 ? dim : zero;
    slot = slot ? promote_types(*slot, t->dtype()) : t->dtype();
  }
  return *combine(dim, zero);
}

DType result_type(const Tensor& a, const Scalar& b) {
  std::optional<DType> dim, zero;
  (a.dim() > 0 ? dim : zero) = a.dtype();
  return *combine(dim, combine(zero, scalar_dtype(b)));
}

}  // namespace hmr
