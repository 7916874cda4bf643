// Similarity Procrustes alignment (scale, rotation, translation) of batched point sets, as
// SPIN's compute_similarity_transform(_batch) evaluates PA-MPJPE. Composed of autograd ops
// (svd3x3 is differentiable), so it can also sit inside a loss.
#pragma once

#include "tensor/tensor.h"

namespace hmr::geometry {

// target ~ scale * rotation * source + translation, per batch entry.
struct SimilarityTransform {
  Tensor scale;        // (...)
  Tensor rotation;     // (..., 3, 3), det +1
  Tensor translation;  // (..., 3)
};

// Least-squares similarity from source to target, both (..., N, 3):
//   mu1, mu2 the centroids; X1 = source - mu1, X2 = target - mu2 (rows are points);
//   K = X1^T X2 = U S V^T;  Z = diag(1, 1, sign det(U V^T));  R = V Z U^T (a reflection
//   in the SVD solution is turned into the nearest rotation);
//   scale = trace(R K) / |X1|_F^2;  translation = mu2 - scale R mu1.
// Needs a source that is not a single point (|X1| > 0).
SimilarityTransform similarity_transform(const Tensor& source, const Tensor& target);

// Applies the transform to points (..., N, 3): scale * points R^T + translation.
Tensor apply_similarity_transform(const SimilarityTransform& transform, const Tensor& points);

// source aligned to target: apply_similarity_transform(similarity_transform(source, target), source).
Tensor procrustes_align(const Tensor& source, const Tensor& target);

}  // namespace hmr::geometry
