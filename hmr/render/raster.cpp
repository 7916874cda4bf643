// The rasterizer's entry points: argument checks, grouping the meshes by image, dispatch to the
// CPU or CUDA backend, and the label/attribute read-outs composed from the backends' lookups.
#include "hmr/render/raster.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "hmr/render/backend.h"
#include "hmr/render/checks.h"

namespace hmr::render {

void check_vertices(const char* op, const Tensor& vertices) {
  HMR_CHECK(vertices.defined(), ValueError, op, ": vertices are undefined");
  HMR_CHECK(vertices.dtype() == DType::F32 || vertices.dtype() == DType::F64, DTypeError, op,
            ": expected vertices of dtype f32 or f64 but found ", vertices.dtype());
  HMR_CHECK(vertices.dim() == 3 && vertices.size(2) == 3, ShapeError, op,
            ": expected vertices of shape (B, V, 3) but found ", vertices.sizes());
}

void check_camera(const char* op, const Camera& c) {
  HMR_CHECK(c.height > 0 && c.width > 0, ValueError, op, ": expected a positive image size but found height ",
            c.height, " and width ", c.width);
  HMR_CHECK(std::isfinite(c.fx) && std::isfinite(c.fy) && c.fx != 0 && c.fy != 0 && std::isfinite(c.cx) &&
                std::isfinite(c.cy) && std::isfinite(c.near),
            ValueError, op, ": expected finite, non-zero focal lengths and a finite principal point but found fx ",
            c.fx, ", fy ", c.fy, ", cx ", c.cx, ", cy ", c.cy, ", near ", c.near);
}

Tensor checked_faces(const char* op, const Tensor& faces, const Tensor& vertices) {
  HMR_CHECK(faces.defined(), ValueError, op, ": faces are undefined");
  HMR_CHECK(faces.dtype() == DType::I64 || faces.dtype() == DType::I32, DTypeError, op,
            ": expected faces of dtype i32 or i64 but found ", faces.dtype());
  HMR_CHECK(faces.dim() == 2 && faces.size(1) == 3, ShapeError, op, ": expected faces of shape (F, 3) but found ",
            faces.sizes());
  HMR_CHECK(faces.device() == vertices.device(), DeviceError, op, ": faces are on ", faces.device(),
            " but vertices on ", vertices.device());
  const int64_t V = vertices.size(1);
  for (int64_t i : faces.to_vector<int64_t>())
    HMR_CHECK(i >= 0 && i < V, IndexError, op, ": face index ", i, " out of range for ", V, " vertices (shape ",
              vertices.sizes(), ")");
  NoGradGuard no_grad;
  return contiguous(faces.to(DType::I64));
}

namespace {

Raster draw(const char* op, const Tensor& vertices, const Tensor& faces, const Camera& camera,
            const std::vector<int64_t>& image_of_mesh, int64_t num_images) {
  check_camera(op, camera);
  NoGradGuard no_grad;
  const int64_t M = vertices.size(0), F = faces.size(0);
  HMR_CHECK(M * F < int64_t(0xffffffff), ValueError, op, ": ", M, " meshes of ", F,
            " faces exceed the 2^32 - 1 face ids of the z-buffer");
  std::vector<int64_t> order(M), start(num_images + 1, 0);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return image_of_mesh[a] < image_of_mesh[b]; });
  for (int64_t m = 0; m < M; ++m) ++start[image_of_mesh[m] + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  MeshBatch batch{contiguous(vertices.detach()), checked_faces(op, faces, vertices),
                  Tensor::from_vector(order, {M}), Tensor::from_vector(start, {num_images + 1})};

  const Shape image{num_images, camera.height, camera.width};
  const Device dev = vertices.device();
  RasterOutputs out{Tensor::empty(image, DType::I64, dev), Tensor::empty(image, DType::I64, dev),
                    Tensor::empty({num_images, camera.height, camera.width, 3}, vertices.dtype(), dev),
                    Tensor::empty(image, vertices.dtype(), dev)};
  if (num_images > 0) HMR_RENDER_DISPATCH(vertices, rasterize(batch, camera, out));
  return {out.face, out.instance, out.bary, out.depth, ge(out.face, 0), M, vertices.size(1)};
}

RasterOutputs outputs_of(const Raster& r) { return {r.face, r.instance, r.bary, r.depth}; }

void check_raster(const char* op, const Raster& r) {
  HMR_CHECK(r.face.defined() && r.instance.defined() && r.bary.defined() && r.depth.defined(), ValueError, op,
            ": the raster is incomplete (was it made by rasterize?)");
}

// values (V, ...) or (M, V, ...) -> (M or 1, V, ...) on the raster's device, contiguous, as dtype.
Tensor per_mesh(const char* op, const Raster& r, const Tensor& values, int64_t trailing_dims, DType dtype,
                const char* name) {
  HMR_CHECK(values.defined(), ValueError, op, ": ", name, " are undefined");
  const int64_t d = values.dim() - trailing_dims;
  HMR_CHECK((d == 1 || d == 2) && values.size(d - 1) == r.num_vertices && (d == 1 || values.size(0) == r.num_meshes),
            ShapeError, op, ": expected ", name, " with leading dims (V) or (M, V) = (", r.num_vertices, ") or (",
            r.num_meshes, ", ", r.num_vertices, ") but found shape ", values.sizes());
  NoGradGuard no_grad;
  Tensor v = d == 1 ? unsqueeze(values.detach(), 0) : values.detach();
  return contiguous(v.to(r.face.device(), dtype));
}

}  // namespace

Raster rasterize(const Tensor& vertices, const Tensor& faces, const Camera& camera) {
  check_vertices("rasterize", vertices);
  std::vector<int64_t> image(vertices.size(0));
  std::iota(image.begin(), image.end(), 0);
  return draw("rasterize", vertices, faces, camera, image, vertices.size(0));
}

Raster rasterize(const Tensor& vertices, const Tensor& faces, const Camera& camera, const Tensor& image_index,
                 int64_t num_images) {
  const char* op = "rasterize";
  check_vertices(op, vertices);
  HMR_CHECK(image_index.defined() && image_index.dtype() == DType::I64 && image_index.dim() == 1 &&
                image_index.size(0) == vertices.size(0),
            ShapeError, op, ": expected image_index of dtype i64 and shape [", vertices.size(0),
            "] for vertices of shape ", vertices.sizes(), " but found ",
            image_index.defined() ? str(image_index.dtype(), " ", image_index.sizes()) : "undefined");
  HMR_CHECK(num_images >= 0, ValueError, op, ": num_images must be >= 0 but is ", num_images);
  std::vector<int64_t> image = image_index.to_vector<int64_t>();
  for (int64_t i : image)
    HMR_CHECK(i >= 0 && i < num_images, IndexError, op, ": image_index ", i, " out of range for ", num_images,
              " images");
  return draw(op, vertices, faces, camera, image, num_images);
}

Tensor interpolate(const Raster& raster, const Tensor& faces, const Tensor& attributes) {
  const char* op = "interpolate";
  check_raster(op, raster);
  HMR_CHECK(attributes.defined() && attributes.is_floating_point(), DTypeError, op,
            ": expected floating-point attributes but found ", attributes.defined() ? str(attributes.dtype()) : "none");
  Tensor attr = per_mesh(op, raster, attributes, 1, raster.bary.dtype(), "attributes");
  Tensor f = checked_faces(op, faces.to(raster.face.device()), attr);
  Shape shape = raster.face.sizes();
  shape.push_back(attr.size(2));
  Tensor out = Tensor::empty(shape, raster.bary.dtype(), raster.face.device());
  if (out.numel() > 0) HMR_RENDER_DISPATCH(out, interpolate(outputs_of(raster), f, attr, out));
  return out;
}

Tensor part_segmentation(const Raster& raster, const Tensor& faces, const Tensor& labels, LabelRule rule,
                         int64_t background) {
  const char* op = "part_segmentation";
  check_raster(op, raster);
  HMR_CHECK(labels.defined() && !labels.is_floating_point() && labels.dtype() != DType::Bool, DTypeError, op,
            ": expected integer labels but found ", labels.defined() ? str(labels.dtype()) : "none");
  Tensor lab = per_mesh(op, raster, labels, 0, DType::I64, "labels");
  Tensor f = checked_faces(op, faces.to(raster.face.device()), unsqueeze(lab, -1));
  Tensor out = Tensor::empty(raster.face.sizes(), DType::I64, raster.face.device());
  if (out.numel() > 0)
    HMR_RENDER_DISPATCH(out, pick_labels(outputs_of(raster), f, lab, rule == LabelRule::Majority, background, out));
  return out;
}

Tensor render_iuv(const Raster& raster, const Tensor& faces, const Tensor& iuv) {
  const char* op = "render_iuv";
  check_raster(op, raster);
  HMR_CHECK(iuv.defined() && iuv.is_floating_point() && iuv.dim() >= 2 && iuv.size(-1) == 3, ShapeError, op,
            ": expected floating-point iuv of shape (V, 3) or (M, V, 3) but found ",
            iuv.defined() ? str(iuv.dtype(), " ", iuv.sizes()) : "none");
  NoGradGuard no_grad;
  Tensor parts = round(select(iuv.detach(), -1, 0)).to(DType::I64);
  Tensor i = part_segmentation(raster, faces, parts, LabelRule::Nearest, 0).to(raster.bary.dtype());
  Tensor uv = interpolate(raster, faces, narrow(iuv.detach(), -1, 1, 2));
  return cat({unsqueeze(i, -1), uv}, -1);
}

}  // namespace hmr::render
