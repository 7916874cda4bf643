// The per-triangle and per-pixel math of the renderer, written once for the CPU and CUDA
// backends: projection of a face to the screen, barycentrics, the z-buffer key with its tie rule,
// the signed screen distance of the soft silhouette and its gradient. Both backends visit, for
// every pixel, the faces of its image in ascending order, so they compute the same sums.
#pragma once

#include <cstdint>
#include <cstring>

#include "hmr/render/camera.h"
#include "kernels/functors.h"

namespace hmr::render {

// A face projected to pixel coordinates. Corner i is (x[i], y[i]) on the screen at camera depth
// z[i]; area is twice the signed screen area. valid is false for faces with a corner at or behind
// the near plane (they are skipped, not clipped) and for faces of zero screen area.
template <class T> struct ScreenTriangle {
  T x[3], y[3], z[3];
  T area;
  T xmin, xmax, ymin, ymax;
  int valid;
};

template <class T>
HMR_HOST_DEVICE T min3(T a, T b, T c) { return a < b ? (a < c ? a : c) : (b < c ? b : c); }
template <class T>
HMR_HOST_DEVICE T max3(T a, T b, T c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

// vertices: the mesh's (V, 3) camera coordinates; face: its three vertex indices.
template <class T>
HMR_HOST_DEVICE ScreenTriangle<T> project_triangle(const T* vertices, const int64_t* face, const Camera& cam) {
  ScreenTriangle<T> t;
  t.valid = 1;
  for (int i = 0; i < 3; ++i) {
    const T* v = vertices + 3 * face[i];
    t.z[i] = v[2];
    if (!(v[2] > T(cam.near))) t.valid = 0;
    const T inv_z = t.valid ? T(1) / v[2] : T(0);
    t.x[i] = T(cam.fx) * v[0] * inv_z + T(cam.cx);
    t.y[i] = T(cam.fy) * v[1] * inv_z + T(cam.cy);
  }
  t.area = (t.x[1] - t.x[0]) * (t.y[2] - t.y[0]) - (t.y[1] - t.y[0]) * (t.x[2] - t.x[0]);
  if (!(t.area != T(0))) t.valid = 0;  // also rejects NaN coordinates
  t.xmin = min3(t.x[0], t.x[1], t.x[2]);
  t.xmax = max3(t.x[0], t.x[1], t.x[2]);
  t.ymin = min3(t.y[0], t.y[1], t.y[2]);
  t.ymax = max3(t.y[0], t.y[1], t.y[2]);
  return t;
}

// Whether (px, py) lies in the face's box widened by margin: the one test that decides which
// faces a pixel visits, on both backends (their loops only narrow the candidates down).
template <class T>
HMR_HOST_DEVICE bool in_box(const ScreenTriangle<T>& t, T px, T py, T margin) {
  return px >= t.xmin - margin && px <= t.xmax + margin && py >= t.ymin - margin && py <= t.ymax + margin;
}

// A range of pixels, clipped to [0, n), holding every pixel whose centre (i + 0.5) lies in
// [lo - margin, hi + margin] (one more on each side against rounding; in_box decides).
// Returns first > last when there are none.
template <class T>
HMR_HOST_DEVICE void pixel_span(T lo, T hi, T margin, int64_t n, int64_t& first, int64_t& last) {
  const T a = kernels::math::floor(lo - margin - T(0.5)), b = kernels::math::ceil(hi + margin - T(0.5));
  first = a < T(0) ? 0 : (a > T(n) ? n : static_cast<int64_t>(a));
  last = b >= T(n - 1) ? n - 1 : (b < T(-1) ? -1 : static_cast<int64_t>(b));
}

// Screen-space barycentrics l of point (px, py); true when it lies inside or on the boundary.
template <class T>
HMR_HOST_DEVICE bool screen_barycentrics(const ScreenTriangle<T>& t, T px, T py, T l[3]) {
  const T w0 = (t.x[2] - t.x[1]) * (py - t.y[1]) - (t.y[2] - t.y[1]) * (px - t.x[1]);
  const T w1 = (t.x[0] - t.x[2]) * (py - t.y[2]) - (t.y[0] - t.y[2]) * (px - t.x[2]);
  const T w2 = (t.x[1] - t.x[0]) * (py - t.y[0]) - (t.y[1] - t.y[0]) * (px - t.x[0]);
  l[0] = w0 / t.area;
  l[1] = w1 / t.area;
  l[2] = w2 / t.area;
  return l[0] >= T(0) && l[1] >= T(0) && l[2] >= T(0);
}

// Screen barycentrics -> perspective-correct ones (attributes interpolate linearly in 3D, and
// 1/z interpolates linearly on the screen); returns the depth z at the point.
template <class T>
HMR_HOST_DEVICE T perspective_barycentrics(const ScreenTriangle<T>& t, const T l[3], T b[3]) {
  const T a0 = l[0] / t.z[0], a1 = l[1] / t.z[1], a2 = l[2] / t.z[2];
  const T s = a0 + a1 + a2;
  b[0] = a0 / s;
  b[1] = a1 / s;
  b[2] = a2 / s;
  return T(1) / s;
}

// ---- z-buffer keys --------------------------------------------------------------------------
// A pixel keeps the smallest key: depth (as f32 bits, which order like the values for positive
// numbers) in the high word, the global face id (mesh * F + face) in the low word. Equal f32
// depths are won by the lower mesh, then the lower face: one answer, whatever the visiting order.
constexpr uint64_t kEmptyKey = ~uint64_t(0);

HMR_HOST_DEVICE uint32_t float_bits(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

template <class T>
HMR_HOST_DEVICE uint64_t depth_key(T depth, uint32_t face_id) {
  return (uint64_t(float_bits(static_cast<float>(depth))) << 32) | face_id;
}

// ---- soft silhouette ------------------------------------------------------------------------
// Distance from p to the triangle's boundary, negative inside. edge (0..2, from corner edge to
// corner edge+1) and t (position of the closest point along it) say where the distance was
// taken, for the gradient. Ties go to the lower edge.
template <class T>
HMR_HOST_DEVICE T signed_distance(const ScreenTriangle<T>& tri, T px, T py, int& edge, T& t) {
  T best = T(0);
  edge = -1;
  for (int e = 0; e < 3; ++e) {
    const int f = e == 2 ? 0 : e + 1;
    const T ex = tri.x[f] - tri.x[e], ey = tri.y[f] - tri.y[e];
    const T len2 = ex * ex + ey * ey;
    T s = len2 > T(0) ? ((px - tri.x[e]) * ex + (py - tri.y[e]) * ey) / len2 : T(0);
    s = s < T(0) ? T(0) : (s > T(1) ? T(1) : s);
    const T dx = px - (tri.x[e] + s * ex), dy = py - (tri.y[e] + s * ey);
    const T d2 = dx * dx + dy * dy;
    if (edge < 0 || d2 < best) {
      best = d2;
      edge = e;
      t = s;
    }
  }
  T l[3];
  const T d = kernels::math::sqrt(best);
  return screen_barycentrics(tri, px, py, l) ? -d : d;
}

// log(sigmoid(x)) without overflow: -softplus(-x).
template <class T>
HMR_HOST_DEVICE T log_sigmoid(T x) {
  return (x < T(0) ? x : T(0)) - kernels::math::log1p(kernels::math::exp(-kernels::math::fabs(x)));
}
template <class T>
HMR_HOST_DEVICE T sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + kernels::math::exp(-x));
  const T e = kernels::math::exp(x);
  return e / (T(1) + e);
}

// Faces farther outside than this many sigmas contribute sigmoid(-d/sigma) < 1e-4 and are skipped.
constexpr double kSoftCutoffSigmas = 9.210340371976184;  // ln(1e4)

// d(signed distance)/d(screen corners), added into g (x0, y0, x1, y1, x2, y2) times scale.
// With c = a + t (b - a) the closest point, d|p - c|/da = -(1 - t) (p - c)/|p - c| and
// d/db = -t (p - c)/|p - c| (t's own variation drops out: it minimises the distance, or is
// clamped); inside, the sign flips. On the boundary itself the gradient is taken as 0.
template <class T>
HMR_HOST_DEVICE void add_distance_gradient(const ScreenTriangle<T>& tri, T px, T py, T d, int edge, T t, T scale,
                                           T g[6]) {
  const int f = edge == 2 ? 0 : edge + 1;
  const T cx = tri.x[edge] + t * (tri.x[f] - tri.x[edge]), cy = tri.y[edge] + t * (tri.y[f] - tri.y[edge]);
  const T dist = kernels::math::fabs(d);
  if (!(dist > T(0))) return;
  const T sign = d < T(0) ? T(-1) : T(1);
  const T ux = (px - cx) / dist * sign * scale, uy = (py - cy) / dist * sign * scale;
  g[2 * edge] -= (T(1) - t) * ux;
  g[2 * edge + 1] -= (T(1) - t) * uy;
  g[2 * f] -= t * ux;
  g[2 * f + 1] -= t * uy;
}

// Screen gradient of a corner -> gradient of its camera coordinates (x = fx X / Z + cx, ...).
template <class T>
HMR_HOST_DEVICE void screen_to_camera_gradient(const ScreenTriangle<T>& tri, const Camera& cam, const T g[6],
                                               T out[9]) {
  for (int i = 0; i < 3; ++i) {
    const T inv_z = T(1) / tri.z[i];
    out[3 * i] = g[2 * i] * T(cam.fx) * inv_z;
    out[3 * i + 1] = g[2 * i + 1] * T(cam.fy) * inv_z;
    out[3 * i + 2] = -(g[2 * i] * (tri.x[i] - T(cam.cx)) + g[2 * i + 1] * (tri.y[i] - T(cam.cy))) * inv_z;
  }
}

// ---- what a pixel does with the faces it sees ----------------------------------------------
// Both backends drive these: init() per pixel, visit() for each face of the pixel's image whose
// box (widened by margin()) holds the pixel centre, in ascending face order, then finish().

// Hard rasterization: the nearest face wins (depth_key), then its barycentrics are recomputed.
template <class T> struct RasterPixel {
  const ScreenTriangle<T>* tris;  // (M * F): mesh m's face f at m * F + f
  int64_t num_faces;              // F
  int64_t* face_out;              // (N, H, W)
  int64_t* instance_out;          // (N, H, W)
  T* bary_out;                    // (N, H, W, 3)
  T* depth_out;                   // (N, H, W)

  using State = uint64_t;
  HMR_HOST_DEVICE T margin() const { return T(0); }
  HMR_HOST_DEVICE State init() const { return kEmptyKey; }
  HMR_HOST_DEVICE void visit(State& key, const ScreenTriangle<T>& tri, int64_t id, T px, T py) const {
    T l[3], b[3];
    if (!in_box(tri, px, py, T(0)) || !screen_barycentrics(tri, px, py, l)) return;
    const uint64_t k = depth_key(perspective_barycentrics(tri, l, b), static_cast<uint32_t>(id));
    if (k < key) key = k;
  }
  HMR_HOST_DEVICE void finish(const State& key, int64_t pixel, T px, T py) const {
    T b[3] = {T(0), T(0), T(0)}, depth = T(0);
    int64_t id = -1;
    if (key != kEmptyKey) {
      id = static_cast<int64_t>(key & 0xffffffffu);
      T l[3];
      screen_barycentrics(tris[id], px, py, l);
      depth = perspective_barycentrics(tris[id], l, b);
    }
    face_out[pixel] = id < 0 ? -1 : id % num_faces;
    instance_out[pixel] = id < 0 ? -1 : id / num_faces;
    depth_out[pixel] = depth;
    for (int i = 0; i < 3; ++i) bary_out[3 * pixel + i] = b[i];
  }
};

// Soft silhouette forward: log Q = sum_f log(1 - sigmoid(-d_f / sigma)), prob = 1 - Q.
template <class T> struct SoftSilhouettePixel {
  T sigma;
  T* prob_out;   // (B, H, W)
  T* log_q_out;  // (B, H, W): kept for the backward, where d prob / d d_f = -D_f Q / sigma

  using State = T;
  HMR_HOST_DEVICE T margin() const { return sigma * T(kSoftCutoffSigmas); }
  HMR_HOST_DEVICE State init() const { return T(0); }
  HMR_HOST_DEVICE void visit(State& log_q, const ScreenTriangle<T>& tri, int64_t, T px, T py) const {
    int edge;
    T t;
    if (!in_box(tri, px, py, margin())) return;
    const T d = signed_distance(tri, px, py, edge, t);
    if (d > margin()) return;
    log_q += log_sigmoid(d / sigma);
  }
  HMR_HOST_DEVICE void finish(const State& log_q, int64_t pixel, T, T) const {
    log_q_out[pixel] = log_q;
    prob_out[pixel] = -kernels::math::expm1(log_q);
  }
};

// One face's share of the soft silhouette backward over the pixels of its widened box: the
// gradient of its three corners' camera coordinates (out, 9 values).
template <class T>
HMR_HOST_DEVICE void soft_silhouette_face_gradient(const ScreenTriangle<T>& tri, const Camera& cam, T sigma,
                                                   const T* grad, const T* log_q, int64_t height, int64_t width,
                                                   T out[9]) {
  T g[6] = {T(0), T(0), T(0), T(0), T(0), T(0)};
  const T margin = sigma * T(kSoftCutoffSigmas);
  int64_t x0, x1, y0, y1;
  pixel_span(tri.xmin, tri.xmax, margin, width, x0, x1);
  pixel_span(tri.ymin, tri.ymax, margin, height, y0, y1);
  for (int64_t y = y0; y <= y1; ++y)
    for (int64_t x = x0; x <= x1; ++x) {
      const int64_t p = y * width + x;
      if (grad[p] == T(0)) continue;
      const T px = T(x) + T(0.5), py = T(y) + T(0.5);
      if (!in_box(tri, px, py, margin)) continue;
      int edge;
      T t;
      const T d = signed_distance(tri, px, py, edge, t);
      if (d > margin) continue;
      const T scale = -grad[p] * sigmoid(-d / sigma) * kernels::math::exp(log_q[p]) / sigma;
      add_distance_gradient(tri, px, py, d, edge, t, scale, g);
    }
  screen_to_camera_gradient(tri, cam, g, out);
}

// ---- per-pixel lookups of a finished raster ---------------------------------------------------
// out[c] = sum_i bary[i] * attributes[corner i's vertex, c] (0 off the mesh). attributes points at
// the pixel's mesh's (V, C) block.
template <class T>
HMR_HOST_DEVICE void interpolate_pixel(int64_t face, const T* bary, const int64_t* faces, const T* attributes,
                                       int64_t channels, T* out) {
  for (int64_t c = 0; c < channels; ++c) out[c] = T(0);
  if (face < 0) return;
  const int64_t* fv = faces + 3 * face;
  for (int i = 0; i < 3; ++i)
    for (int64_t c = 0; c < channels; ++c) out[c] += bary[i] * attributes[fv[i] * channels + c];
}

// A label for the pixel from its face's three corner labels: the majority when two or three
// agree (majority), else (or always, when !majority) the label of the corner with the largest
// barycentric weight, the lower corner on ties.
template <class T>
HMR_HOST_DEVICE int64_t pick_label(int64_t face, const T* bary, const int64_t* faces, const int64_t* labels,
                                   bool majority, int64_t background) {
  if (face < 0) return background;
  const int64_t* fv = faces + 3 * face;
  const int64_t l0 = labels[fv[0]], l1 = labels[fv[1]], l2 = labels[fv[2]];
  if (majority && (l0 == l1 || l0 == l2)) return l0;
  if (majority && l1 == l2) return l1;
  int nearest = 0;
  if (bary[1] > bary[nearest]) nearest = 1;
  if (bary[2] > bary[nearest]) nearest = 2;
  return nearest == 0 ? l0 : (nearest == 1 ? l1 : l2);
}

}  // namespace hmr::render
