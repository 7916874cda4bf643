// Lambert shading over the rasterizer's output, the side view and the PNG writer. Pixels are
// shaded on the host in f64: this is for looking at, and an image is small.
#include "hmr/render/shading.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "hmr/render/raster.h"
#include "io/image.h"

namespace hmr::render {

namespace {

// (V, 3) or (M, V, 3) -> (M, V, 3) f64 on the CPU.
Tensor as_meshes(const char* op, const Tensor& t, const char* name) {
  HMR_CHECK(t.defined() && t.is_floating_point() && (t.dim() == 2 || t.dim() == 3) && t.size(-1) == 3, ShapeError,
            op, ": expected floating-point ", name, " of shape (V, 3) or (M, V, 3) but found ",
            t.defined() ? str(t.dtype(), " ", t.sizes()) : "none");
  Tensor m = t.dim() == 2 ? unsqueeze(t.detach(), 0) : t.detach();
  return contiguous(m.to(Device::cpu(), DType::F64));
}

// Area-weighted vertex normals, (M, V, 3) -> (M, V, 3) (zero for unused vertices).
std::vector<double> vertex_normals(const Tensor& v, const std::vector<int64_t>& faces) {
  const int64_t M = v.size(0), V = v.size(1);
  const double* p = v.data<double>();
  std::vector<double> n(static_cast<size_t>(M * V * 3), 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (size_t f = 0; f < faces.size(); f += 3) {
      const double* a = p + (m * V + faces[f]) * 3;
      const double* b = p + (m * V + faces[f + 1]) * 3;
      const double* c = p + (m * V + faces[f + 2]) * 3;
      const double e1[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]}, e2[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
      const double cr[3] = {e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2],
                            e1[0] * e2[1] - e1[1] * e2[0]};
      for (int k = 0; k < 3; ++k)
        for (int j = 0; j < 3; ++j) n[(m * V + faces[f + k]) * 3 + j] += cr[j];
    }
  return n;
}

uint8_t to_byte(double x) { return static_cast<uint8_t>(std::lround(std::clamp(x, 0.0, 1.0) * 255.0)); }

}  // namespace

Tensor render_shaded(const Tensor& vertices, const Tensor& faces, const Camera& camera, const Tensor& colors,
                     const Tensor& background, const ShadingOptions& options) {
  const char* op = "render_shaded";
  NoGradGuard no_grad;
  Tensor v = as_meshes(op, vertices, "vertices");
  const int64_t M = v.size(0), V = v.size(1), H = camera.height, W = camera.width;
  HMR_CHECK(faces.defined(), ValueError, op, ": faces are undefined");
  Tensor f = faces.to(Device::cpu());
  Raster r = rasterize(v, f, camera, zeros({M}, DType::I64), 1);
  if (background.defined())
    HMR_CHECK(background.dtype() == DType::U8 && background.sizes() == Shape({H, W, 3}), ShapeError, op,
              ": expected a u8 background of shape ", Shape{H, W, 3}, " but found ", background.dtype(), " ",
              background.sizes());

  std::vector<double> normals = vertex_normals(v, f.to_vector<int64_t>());
  Tensor n = interpolate(r, f, Tensor::from_vector(normals, {M, V, 3}));
  Tensor c = colors.defined() ? interpolate(r, f, as_meshes(op, colors, "colors")) : Tensor();
  const std::vector<double> nv = n.to_vector<double>();
  const std::vector<double> cv = c.defined() ? c.to_vector<double>() : std::vector<double>();
  const std::vector<bool> mask = r.mask.to_vector<bool>();
  std::vector<uint8_t> out = background.defined() ? background.to_vector<uint8_t>()
                                                  : std::vector<uint8_t>(static_cast<size_t>(H * W * 3), 255);
  const double ln = std::hypot(options.light[0], options.light[1], options.light[2]);
  const double L[3] = {options.light[0] / ln, options.light[1] / ln, options.light[2] / ln};
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const int64_t p = y * W + x;
      if (!mask[p]) continue;
      const double* np = nv.data() + 3 * p;
      // The ray through the pixel: a normal along it faces away from the camera, so turn it.
      const double ray[3] = {(x + 0.5 - camera.cx) / camera.fx, (y + 0.5 - camera.cy) / camera.fy, 1.0};
      const double facing = np[0] * ray[0] + np[1] * ray[1] + np[2] * ray[2] > 0 ? -1.0 : 1.0;
      const double len = std::hypot(np[0], np[1], np[2]);
      const double lambert = len > 0 ? std::max(0.0, facing * (np[0] * L[0] + np[1] * L[1] + np[2] * L[2]) / len) : 0;
      const double shade = options.ambient + options.diffuse * lambert;
      for (int k = 0; k < 3; ++k) {
        const double albedo = c.defined() ? cv[3 * p + k] : options.color[k];
        const double under = out[3 * p + k] / 255.0;
        out[3 * p + k] = to_byte(options.opacity * albedo * shade + (1 - options.opacity) * under);
      }
    }
  return Tensor::from_vector(out, {H, W, 3});
}

Tensor side_view(const Tensor& vertices, const Camera& camera) {
  NoGradGuard no_grad;
  Tensor v = as_meshes("side_view", vertices, "vertices");
  Tensor centred = v - mean(reshape(v, {-1, 3}), {0});
  // 90 degrees about y: (x, y, z) -> (z, y, -x).
  Tensor turned = stack({select(centred, -1, 2), select(centred, -1, 1), neg(select(centred, -1, 0))}, -1);
  const double rx = amax(abs(select(turned, -1, 0))).item(), ry = amax(abs(select(turned, -1, 1))).item();
  const double rz = amax(abs(select(turned, -1, 2))).item();
  const double fit = 0.45;  // half the frame, less a margin
  const double depth = rz + std::max(rx * std::abs(camera.fx) / (fit * camera.width),
                                     ry * std::abs(camera.fy) / (fit * camera.height)) + 1e-6;
  // Put the centroid on the ray through the image centre.
  const double tx = (camera.width / 2.0 - camera.cx) / camera.fx * depth;
  const double ty = (camera.height / 2.0 - camera.cy) / camera.fy * depth;
  Tensor out = turned + tensor({tx, ty, depth}, DType::F64);
  return vertices.dim() == 2 ? squeeze(out, 0) : out;
}

Tensor label_colors(const Tensor& labels) {
  HMR_CHECK(labels.defined() && labels.dim() == 1 && !labels.is_floating_point(), ShapeError,
            "label_colors: expected integer labels of shape (V) but found ",
            labels.defined() ? str(labels.dtype(), " ", labels.sizes()) : "none");
  std::vector<double> rgb;
  for (int64_t l : labels.to_vector<int64_t>()) {
    const double h = std::fmod(static_cast<double>(l) * 0.6180339887498949 + 0.1, 1.0) * 6.0;
    const double s = 0.55, val = 0.92, c = s * val, x = c * (1 - std::abs(std::fmod(h, 2.0) - 1));
    const int sector = static_cast<int>(h) % 6;
    const double table[6][3] = {{c, x, 0}, {x, c, 0}, {0, c, x}, {0, x, c}, {x, 0, c}, {c, 0, x}};
    for (int k = 0; k < 3; ++k) rgb.push_back(table[sector][k] + (val - c));
  }
  return Tensor::from_vector(rgb, {labels.size(0), 3});
}

void write_front_and_side_png(const std::string& path, const Tensor& vertices, const Tensor& faces,
                              const Camera& camera, const Tensor& background, const Tensor& colors,
                              const ShadingOptions& options) {
  NoGradGuard no_grad;
  Tensor front = render_shaded(vertices, faces, camera, colors, background, options);
  Tensor side = render_shaded(side_view(vertices, camera), faces, camera, colors, Tensor(), options);
  io::write_png(path, cat({front, side}, 1));
}

}  // namespace hmr::render
