// Similarity Procrustes through the batched 3x3 SVD. The reflection fix is a constant sign
// (computed without gradient): det(U V^T) is +-1 and locally constant.
#include "hmr/geometry/procrustes.h"

#include "autograd/ops.h"
#include "hmr/geometry/checks.h"

namespace hmr::geometry {

SimilarityTransform similarity_transform(const Tensor& source, const Tensor& target) {
  const char* op = "similarity_transform";
  check_float(op, source);
  check_last_dims(op, source, {3}, "source", 1);
  check_same_shape(op, source, target, "source", "target");
  Tensor mu1 = mean(source, {-2}, true), mu2 = mean(target, {-2}, true);  // (..., 1, 3)
  Tensor x1 = source - mu1, x2 = target - mu2;
  Tensor k = matmul(transpose(x1, -1, -2), x2);  // (..., 3, 3)
  SVD3 svd = svd3x3(k);
  Tensor z;
  {
    NoGradGuard no_grad;
    Tensor d = det(matmul(svd.U, transpose(svd.V, -1, -2)));
    Tensor last = where(lt(d, 0.0), full_like(d, -1.0), ones_like(d));
    z = cat({ones_like(unsqueeze(d, -1)), ones_like(unsqueeze(d, -1)), unsqueeze(last, -1)}, -1);  // (..., 3)
  }
  // V Z scales V's last column by z.
  Tensor r = matmul(svd.V * unsqueeze(z, -2), transpose(svd.U, -1, -2));
  Tensor trace = sum(r * transpose(k, -1, -2), {-2, -1});  // trace(R K)
  Tensor scale = trace / sum(square(x1), {-2, -1});
  Tensor mu1_rotated = squeeze(matmul(mu1, transpose(r, -1, -2)), -2);
  Tensor translation = squeeze(mu2, -2) - unsqueeze(scale, -1) * mu1_rotated;
  return {scale, r, translation};
}

Tensor apply_similarity_transform(const SimilarityTransform& transform, const Tensor& points) {
  const char* op = "apply_similarity_transform";
  check_last_dims(op, points, {3}, "points", 1);
  Tensor s = unsqueeze(unsqueeze(transform.scale, -1), -1);
  return s * matmul(points, transpose(transform.rotation, -1, -2)) + unsqueeze(transform.translation, -2);
}

Tensor procrustes_align(const Tensor& source, const Tensor& target) {
  return apply_similarity_transform(similarity_transform(source, target), source);
}

}  // namespace hmr::geometry
