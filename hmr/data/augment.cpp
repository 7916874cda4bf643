// Crop and augmentation geometry of the loader (see augment.h for the conventions): affine crop
// transform, image/mask resampling, keypoint / 3D joint / SMPL pose processing, parameter sampler.
#include "hmr/data/augment.h"

#include <algorithm>
#include <cmath>

#include "tensor/error.h"
#include "tensor/philox.h"

namespace hmr::data {

namespace {

constexpr double kPi = 3.14159265358979323846;

Tensor make_like(const std::vector<double>& values, const Shape& sizes, DType dtype) {
  return Tensor::from_vector<double>(values, sizes).to(dtype);
}

void check_float_cpu(const char* op, const Tensor& t, const char* what) {
  HMR_CHECK(t.defined(), ValueError, op, ": ", what, " is undefined");
  HMR_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::F64, DTypeError, op, ": ", what,
            " must be F32 or F64 but is ", t.dtype());
}

void check_crop_args(const char* op, double scale, int64_t res) {
  HMR_CHECK(res > 0, ValueError, op, ": res must be positive but is ", res);
  HMR_CHECK(std::isfinite(scale) && scale > 0, ValueError, op, ": scale must be positive and finite but is ",
            scale);
}

// 3x3 row-major products and Rodrigues / inverse Rodrigues in double.
std::array<double, 9> matmul3(const std::array<double, 9>& a, const std::array<double, 9>& b) {
  std::array<double, 9> c{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) c[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j];
  return c;
}

std::array<double, 9> rodrigues(const double* v) {
  const double t = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  const double t2 = t * t;
  // a = sin t / t, b = (1 - cos t) / t^2, by their series near 0 (no 0/0).
  const double a = t < 1e-4 ? 1 - t2 / 6 : std::sin(t) / t;
  const double b = t < 1e-4 ? 0.5 - t2 / 24 : (1 - std::cos(t)) / t2;
  const std::array<double, 9> K = {0, -v[2], v[1], v[2], 0, -v[0], -v[1], v[0], 0};
  const std::array<double, 9> K2 = matmul3(K, K);
  std::array<double, 9> R{};
  for (int i = 0; i < 9; ++i) R[i] = (i % 4 == 0 ? 1.0 : 0.0) + a * K[i] + b * K2[i];
  return R;
}

// Through the unit quaternion (Shepperd: the largest component from the diagonal), so angles
// near 0 and near pi are both stable; the result has angle in [0, pi].
std::array<double, 3> matrix_to_axis_angle(const std::array<double, 9>& R) {
  const double tr = R[0] + R[4] + R[8];
  double q[4];  // w, x, y, z
  if (tr >= R[0] && tr >= R[4] && tr >= R[8]) {
    const double s = 2 * std::sqrt(std::max(1 + tr, 0.0));
    q[0] = s / 4, q[1] = (R[7] - R[5]) / s, q[2] = (R[2] - R[6]) / s, q[3] = (R[3] - R[1]) / s;
  } else if (R[0] >= R[4] && R[0] >= R[8]) {
    const double s = 2 * std::sqrt(std::max(1 + R[0] - R[4] - R[8], 0.0));
    q[0] = (R[7] - R[5]) / s, q[1] = s / 4, q[2] = (R[1] + R[3]) / s, q[3] = (R[2] + R[6]) / s;
  } else if (R[4] >= R[8]) {
    const double s = 2 * std::sqrt(std::max(1 + R[4] - R[0] - R[8], 0.0));
    q[0] = (R[2] - R[6]) / s, q[1] = (R[1] + R[3]) / s, q[2] = s / 4, q[3] = (R[5] + R[7]) / s;
  } else {
    const double s = 2 * std::sqrt(std::max(1 + R[8] - R[0] - R[4], 0.0));
    q[0] = (R[3] - R[1]) / s, q[1] = (R[2] + R[6]) / s, q[2] = (R[5] + R[7]) / s, q[3] = s / 4;
  }
  if (q[0] < 0) for (double& c : q) c = -c;
  const double sin_half = std::sqrt(q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
  const double angle = 2 * std::atan2(sin_half, q[0]);
  // angle / sin(angle / 2) -> 2 as the angle -> 0.
  const double f = sin_half < 1e-12 ? 2.0 : angle / sin_half;
  return {q[1] * f, q[2] * f, q[3] * f};
}

// Resamples src (H, W, C) into (res, res, C) through the inverse transform.
template <bool kBilinear>
Tensor resample(const char* op, const Tensor& src, double cx, double cy, double scale, int64_t res,
                double rot, bool flip) {
  HMR_CHECK(src.defined(), ValueError, op, ": image is undefined");
  HMR_CHECK(src.dtype() == DType::U8, DTypeError, op, ": expected a U8 image but found ", src.dtype());
  check_crop_args(op, scale, res);
  const Tensor img = src.to(Device::cpu()).contiguous();
  const int64_t H = img.size(0), W = img.size(1), C = img.dim() == 3 ? img.size(2) : 1;
  const uint8_t* in = img.data<uint8_t>();
  const CropTransform inv = CropTransform::make(cx, cy, scale, res, rot, flip).inverse();
  Shape out_shape = img.dim() == 3 ? Shape{res, res, C} : Shape{res, res};
  Tensor out = Tensor::empty(out_shape, DType::U8);
  uint8_t* o = out.data<uint8_t>();
  auto at = [&](int64_t y, int64_t x, int64_t c) -> double {
    return (x < 0 || y < 0 || x >= W || y >= H) ? 0.0 : in[(y * W + x) * C + c];
  };
  for (int64_t v = 0; v < res; ++v) {
    for (int64_t u = 0; u < res; ++u) {
      const auto p = inv.apply(static_cast<double>(u), static_cast<double>(v));
      uint8_t* dst = o + (v * res + u) * C;
      if (!std::isfinite(p[0]) || !std::isfinite(p[1])) {
        std::fill(dst, dst + C, uint8_t{0});
        continue;
      }
      if (kBilinear) {
        const double fx = std::floor(p[0]), fy = std::floor(p[1]);
        const double ax = p[0] - fx, ay = p[1] - fy;
        const int64_t x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
        for (int64_t c = 0; c < C; ++c) {
          const double val = (1 - ay) * ((1 - ax) * at(y0, x0, c) + ax * at(y0, x0 + 1, c)) +
                             ay * ((1 - ax) * at(y0 + 1, x0, c) + ax * at(y0 + 1, x0 + 1, c));
          dst[c] = static_cast<uint8_t>(std::clamp(std::lround(val), 0L, 255L));
        }
      } else {
        const int64_t x = static_cast<int64_t>(std::floor(p[0] + 0.5));
        const int64_t y = static_cast<int64_t>(std::floor(p[1] + 0.5));
        for (int64_t c = 0; c < C; ++c) dst[c] = static_cast<uint8_t>(at(y, x, c));
      }
    }
  }
  return out;
}

std::vector<int64_t> make_j49() {
  std::vector<int64_t> p = {0, 1, 5, 6, 7, 2, 3, 4, 8, 12, 13, 14, 9, 10, 11, 16, 15, 18, 17, 22, 23, 24, 19, 20, 21};
  for (int64_t i : j24_flip_perm()) p.push_back(25 + i);
  return p;
}

}  // namespace

// ---- CropTransform --------------------------------------------------------------------------

CropTransform CropTransform::make(double cx, double cy, double scale, int64_t res, double rot_deg, bool flip) {
  check_crop_args("CropTransform::make", scale, res);
  HMR_CHECK(std::isfinite(cx) && std::isfinite(cy) && std::isfinite(rot_deg), ValueError,
            "CropTransform::make: center (", cx, ", ", cy, ") and rot ", rot_deg, " must be finite");
  const double k = static_cast<double>(res) / (200.0 * scale);
  const double c0 = (static_cast<double>(res) - 1) / 2;
  const double r = rot_deg * kPi / 180.0, c = std::cos(r), s = std::sin(r);
  const double fx = flip ? -1.0 : 1.0;
  // A = F M k; p' = A p + (c0 - A center).
  const double A[2][2] = {{fx * k * c, fx * k * s}, {-k * s, k * c}};
  CropTransform t;
  for (int i = 0; i < 2; ++i) {
    t.m[i][0] = A[i][0];
    t.m[i][1] = A[i][1];
    t.m[i][2] = c0 - A[i][0] * cx - A[i][1] * cy;
  }
  return t;
}

std::array<double, 2> CropTransform::apply(double x, double y) const {
  return {m[0][0] * x + m[0][1] * y + m[0][2], m[1][0] * x + m[1][1] * y + m[1][2]};
}

CropTransform CropTransform::inverse() const {
  const double det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
  HMR_CHECK(std::isfinite(det) && det != 0.0, ValueError, "CropTransform::inverse: singular transform (det ",
            det, ")");
  CropTransform t;
  t.m[0][0] = m[1][1] / det;
  t.m[0][1] = -m[0][1] / det;
  t.m[1][0] = -m[1][0] / det;
  t.m[1][1] = m[0][0] / det;
  t.m[0][2] = -(t.m[0][0] * m[0][2] + t.m[0][1] * m[1][2]);
  t.m[1][2] = -(t.m[1][0] * m[0][2] + t.m[1][1] * m[1][2]);
  return t;
}

std::array<double, 9> CropTransform::matrix3() const {
  return {m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2], 0, 0, 1};
}

// ---- images ---------------------------------------------------------------------------------

Tensor crop_image(const Tensor& image, double cx, double cy, double scale, int64_t res, double rot, bool flip) {
  HMR_CHECK(image.defined() && image.dim() == 3 && image.size(2) >= 1, ShapeError,
            "crop_image: expected an (H, W, C) image but found ", image.defined() ? image.shape_str() : "undefined");
  return resample<true>("crop_image", image, cx, cy, scale, res, rot, flip);
}

Tensor crop_mask(const Tensor& mask, double cx, double cy, double scale, int64_t res, double rot, bool flip) {
  HMR_CHECK(mask.defined() && (mask.dim() == 2 || (mask.dim() == 3 && mask.size(2) >= 1)), ShapeError,
            "crop_mask: expected an (H, W) or (H, W, C) mask but found ",
            mask.defined() ? mask.shape_str() : "undefined");
  return resample<false>("crop_mask", mask, cx, cy, scale, res, rot, flip);
}

Tensor apply_color_noise(const Tensor& image, const std::array<double, 3>& factors) {
  HMR_CHECK(image.defined() && image.dim() == 3 && image.size(2) == 3, ShapeError,
            "apply_color_noise: expected an (H, W, 3) image but found ",
            image.defined() ? image.shape_str() : "undefined");
  HMR_CHECK(image.dtype() == DType::U8, DTypeError, "apply_color_noise: expected U8 but found ", image.dtype());
  const Tensor img = image.to(Device::cpu()).contiguous();
  Tensor out = Tensor::empty(img.sizes(), DType::U8);
  const uint8_t* in = img.data<uint8_t>();
  uint8_t* o = out.data<uint8_t>();
  const int64_t n = img.numel();
  for (int64_t i = 0; i < n; ++i)
    o[i] = static_cast<uint8_t>(std::clamp(std::lround(in[i] * factors[i % 3]), 0L, 255L));
  return out;
}

// ---- permutations ---------------------------------------------------------------------------

const std::vector<int64_t>& j24_flip_perm() {
  static const std::vector<int64_t> p = {5,  4,  3,  2,  1,  0,  11, 10, 9,  8,  7,  6,
                                         12, 13, 14, 15, 16, 17, 18, 19, 21, 20, 23, 22};
  return p;
}
const std::vector<int64_t>& j49_flip_perm() {
  static const std::vector<int64_t> p = make_j49();
  return p;
}
const std::vector<int64_t>& smpl_joint_flip_perm() {
  static const std::vector<int64_t> p = {0,  2,  1,  3,  5,  4,  6,  8,  7,  9,  11, 10,
                                         12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22};
  return p;
}
const std::vector<int64_t>& keypoint_flip_perm(int64_t n) {
  HMR_CHECK(n == 24 || n == 49, ValueError,
            "keypoint_flip_perm: flipping needs 24 or 49 joints (SPIN's sets) but found ", n);
  return n == 24 ? j24_flip_perm() : j49_flip_perm();
}

// ---- keypoints, joints, pose ----------------------------------------------------------------

namespace {

// Row-major (N, D) flip in place: permute rows, negate column 0.
std::vector<double> flip_rows(const std::vector<double>& v, int64_t N, int64_t D) {
  const auto& perm = keypoint_flip_perm(N);
  std::vector<double> out(v.size());
  for (int64_t i = 0; i < N; ++i)
    for (int64_t d = 0; d < D; ++d) out[i * D + d] = v[perm[i] * D + d];
  for (int64_t i = 0; i < N; ++i) out[i * D] = -out[i * D];
  return out;
}

void check_pose(const char* op, const Tensor& pose) {
  check_float_cpu(op, pose, "pose");
  HMR_CHECK(pose.dim() == 1 && pose.size(0) == 72, ShapeError, op,
            ": expected an SMPL pose of shape [72] but found ", pose.shape_str());
}

}  // namespace

Tensor flip_keypoints(const Tensor& keypoints) {
  check_float_cpu("flip_keypoints", keypoints, "keypoints");
  HMR_CHECK(keypoints.dim() == 2 && keypoints.size(1) >= 2, ShapeError,
            "flip_keypoints: expected (N, D) keypoints with D >= 2 but found ", keypoints.shape_str());
  const int64_t N = keypoints.size(0), D = keypoints.size(1);
  keypoint_flip_perm(N);  // the error names the op's constraint before any work
  return make_like(flip_rows(keypoints.to_vector<double>(), N, D), keypoints.sizes(), keypoints.dtype());
}

Tensor process_keypoints_2d(const Tensor& keypoints, double cx, double cy, double scale, int64_t res,
                            double rot, bool flip) {
  check_float_cpu("process_keypoints_2d", keypoints, "keypoints");
  HMR_CHECK(keypoints.dim() == 2 && (keypoints.size(1) == 2 || keypoints.size(1) == 3), ShapeError,
            "process_keypoints_2d: expected (N, 2) or (N, 3) keypoints but found ", keypoints.shape_str());
  const int64_t N = keypoints.size(0), D = keypoints.size(1);
  if (flip) keypoint_flip_perm(N);
  const CropTransform t = CropTransform::make(cx, cy, scale, res, rot, false);
  std::vector<double> v = keypoints.to_vector<double>();
  const double r = static_cast<double>(res);
  for (int64_t i = 0; i < N; ++i) {
    const auto p = t.apply(v[i * D], v[i * D + 1]);
    v[i * D] = (2 * p[0] + 1) / r - 1;
    v[i * D + 1] = (2 * p[1] + 1) / r - 1;
  }
  // Flipping after normalising: n -> -n is exactly the image flip x -> res - 1 - x.
  if (flip) v = flip_rows(v, N, D);
  return make_like(v, keypoints.sizes(), keypoints.dtype());
}

std::array<double, 9> rotation_about_camera_axis(double rot_deg) {
  const double r = rot_deg * kPi / 180.0, c = std::cos(r), s = std::sin(r);
  return {c, s, 0, -s, c, 0, 0, 0, 1};
}

Tensor process_joints_3d(const Tensor& joints, double rot, bool flip) {
  check_float_cpu("process_joints_3d", joints, "joints");
  HMR_CHECK(joints.dim() == 2 && (joints.size(1) == 3 || joints.size(1) == 4), ShapeError,
            "process_joints_3d: expected (N, 3) or (N, 4) joints but found ", joints.shape_str());
  const int64_t N = joints.size(0), D = joints.size(1);
  if (flip) keypoint_flip_perm(N);
  const auto R = rotation_about_camera_axis(rot);
  std::vector<double> v = joints.to_vector<double>();
  for (int64_t i = 0; i < N; ++i) {
    const double p[3] = {v[i * D], v[i * D + 1], v[i * D + 2]};
    for (int a = 0; a < 3; ++a) v[i * D + a] = R[a * 3] * p[0] + R[a * 3 + 1] * p[1] + R[a * 3 + 2] * p[2];
  }
  if (flip) v = flip_rows(v, N, D);
  return make_like(v, joints.sizes(), joints.dtype());
}

Tensor rotate_axis_angle(const Tensor& axis_angle, double rot) {
  check_float_cpu("rotate_axis_angle", axis_angle, "axis_angle");
  HMR_CHECK(axis_angle.dim() == 1 && axis_angle.size(0) == 3, ShapeError,
            "rotate_axis_angle: expected an axis-angle of shape [3] but found ", axis_angle.shape_str());
  const std::vector<double> v = axis_angle.to_vector<double>();
  const auto aa = matrix_to_axis_angle(matmul3(rotation_about_camera_axis(rot), rodrigues(v.data())));
  return make_like({aa[0], aa[1], aa[2]}, {3}, axis_angle.dtype());
}

Tensor flip_pose(const Tensor& pose) {
  check_pose("flip_pose", pose);
  const std::vector<double> v = pose.to_vector<double>();
  const auto& perm = smpl_joint_flip_perm();
  std::vector<double> out(72);
  for (int64_t j = 0; j < 24; ++j) {
    out[j * 3] = v[perm[j] * 3];
    out[j * 3 + 1] = -v[perm[j] * 3 + 1];
    out[j * 3 + 2] = -v[perm[j] * 3 + 2];
  }
  return make_like(out, {72}, pose.dtype());
}

Tensor process_pose(const Tensor& pose, double rot, bool flip) {
  check_pose("process_pose", pose);
  std::vector<double> v = pose.to_vector<double>();
  if (rot != 0.0) {
    const auto aa = matrix_to_axis_angle(matmul3(rotation_about_camera_axis(rot), rodrigues(v.data())));
    std::copy(aa.begin(), aa.end(), v.begin());
  }
  Tensor out = make_like(v, {72}, pose.dtype());
  return flip ? flip_pose(out) : out;
}

// ---- sampler --------------------------------------------------------------------------------

AugmentParams sample_augment(const AugmentConfig& config, uint64_t seed, uint64_t index) {
  // 4 Philox blocks (16 words) per sample at counters 4 index .. 4 index + 3: 8 uniforms of
  // 53 bits, each from two words (u[7] is spare).
  double u[8];
  for (int b = 0; b < 4; ++b) {
    const Philox4x32 w = philox4x32(seed, index * 4 + static_cast<uint64_t>(b));
    u[2 * b] = philox_uniform_double(w.v[0], w.v[1]);
    u[2 * b + 1] = philox_uniform_double(w.v[2], w.v[3]);
  }
  // Box-Muller on (u[0], u[1]) gives the two standard normals for rotation and scale.
  const double radius = std::sqrt(-2.0 * std::log(1.0 - u[0]));  // 1 - u in (0, 1]: no log(0)
  const double n_rot = radius * std::cos(2 * kPi * u[1]);
  const double n_scale = radius * std::sin(2 * kPi * u[1]);
  const double u_flip = u[5], u_rot0 = u[6];

  AugmentParams p;
  p.flip = u_flip < config.flip_prob;
  for (int c = 0; c < 3; ++c) p.color[c] = 1 - config.noise_factor + 2 * config.noise_factor * u[2 + c];
  p.rot = std::clamp(n_rot * config.rot_factor, -2 * config.rot_factor, 2 * config.rot_factor);
  if (u_rot0 < config.rot_zero_prob) p.rot = 0.0;
  p.scale = std::clamp(1 + n_scale * config.scale_factor, 1 - config.scale_factor, 1 + config.scale_factor);
  return p;
}

}  // namespace hmr::data
