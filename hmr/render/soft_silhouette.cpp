// soft_silhouette: checks, forward through the backend, and its backward recorded beside it. The
// backend gives the gradient per face corner; index_add sums the corners into their vertices.
#include "hmr/render/soft_silhouette.h"

#include <cmath>

#include "autograd/function.h"
#include "autograd/ops.h"
#include "hmr/render/backend.h"
#include "hmr/render/checks.h"

namespace hmr::render {

Tensor soft_silhouette(const Tensor& vertices, const Tensor& faces, const Camera& camera, double sigma) {
  const char* op = "soft_silhouette";
  check_vertices(op, vertices);
  check_camera(op, camera);
  HMR_CHECK(std::isfinite(sigma) && sigma > 0, ValueError, op, ": expected sigma > 0 but found ", sigma);
  const int64_t B = vertices.size(0), F = faces.defined() && faces.dim() == 2 ? faces.size(0) : 0;
  Tensor f = checked_faces(op, faces, vertices);
  Tensor v;
  {
    NoGradGuard no_grad;
    v = contiguous(vertices.detach());
  }
  const Shape image{B, camera.height, camera.width};
  Tensor prob = Tensor::empty(image, vertices.dtype(), vertices.device());
  Tensor log_q = Tensor::empty(image, vertices.dtype(), vertices.device());
  if (B > 0) HMR_RENDER_DISPATCH(v, soft_silhouette(v, f, camera, sigma, prob, log_q));

  SavedTensor saved_v(v, "soft_silhouette vertices"), saved_log_q(log_q, "soft_silhouette log(1 - S)");
  const int64_t V = vertices.size(1);
  return record(op, {vertices}, prob, [=](const Tensor& grad) -> std::vector<Tensor> {
    NoGradGuard no_grad;
    Tensor v = saved_v.unpack(), lq = saved_log_q.unpack();
    Tensor g = contiguous(grad.to(v.dtype()));
    Tensor corners = Tensor::empty({B, F, 3, 3}, v.dtype(), v.device());
    if (B > 0 && F > 0) HMR_RENDER_DISPATCH(v, soft_silhouette_backward(v, f, camera, sigma, g, lq, corners));
    Tensor gv = zeros({B, V, 3}, {v.dtype(), v.device()});
    return {index_add(gv, 1, reshape(f, {F * 3}), reshape(corners, {B, F * 3, 3}))};
  });
}

}  // namespace hmr::render
