// Pose and shape sampling for the synthetic dataset (pose_sampler.h).
#include "hmr/data/pose_sampler.h"

#include <algorithm>
#include <cmath>

#include "tensor/error.h"

namespace hmr::data {
namespace {

using Mat3 = std::array<std::array<double, 3>, 3>;

Mat3 matmul3(const Mat3& a, const Mat3& b) {
  Mat3 c{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) c[i][j] += a[i][k] * b[k][j];
  return c;
}
Mat3 rot(int axis, double t) {
  const double c = std::cos(t), s = std::sin(t);
  if (axis == 0) return {{{1, 0, 0}, {0, c, -s}, {0, s, c}}};
  if (axis == 1) return {{{c, 0, s}, {0, 1, 0}, {-s, 0, c}}};
  return {{{c, -s, 0}, {s, c, 0}, {0, 0, 1}}};
}

// Rotation matrix -> axis-angle through the unit quaternion (Shepperd: the largest of
// w, x, y, z from the diagonal), stable at 0 and near pi.
std::array<double, 3> matrix_to_axis_angle(const Mat3& m) {
  const double tr = m[0][0] + m[1][1] + m[2][2];
  double q[4];  // w x y z
  if (tr >= m[0][0] && tr >= m[1][1] && tr >= m[2][2]) {
    const double s = std::sqrt(1 + tr) * 2;
    q[0] = s / 4, q[1] = (m[2][1] - m[1][2]) / s, q[2] = (m[0][2] - m[2][0]) / s, q[3] = (m[1][0] - m[0][1]) / s;
  } else if (m[0][0] >= m[1][1] && m[0][0] >= m[2][2]) {
    const double s = std::sqrt(1 + m[0][0] - m[1][1] - m[2][2]) * 2;
    q[0] = (m[2][1] - m[1][2]) / s, q[1] = s / 4, q[2] = (m[0][1] + m[1][0]) / s, q[3] = (m[0][2] + m[2][0]) / s;
  } else if (m[1][1] >= m[2][2]) {
    const double s = std::sqrt(1 + m[1][1] - m[0][0] - m[2][2]) * 2;
    q[0] = (m[0][2] - m[2][0]) / s, q[1] = (m[0][1] + m[1][0]) / s, q[2] = s / 4, q[3] = (m[1][2] + m[2][1]) / s;
  } else {
    const double s = std::sqrt(1 + m[2][2] - m[0][0] - m[1][1]) * 2;
    q[0] = (m[1][0] - m[0][1]) / s, q[1] = (m[0][2] + m[2][0]) / s, q[2] = (m[1][2] + m[2][1]) / s, q[3] = s / 4;
  }
  if (q[0] < 0)
    for (double& x : q) x = -x;
  const double sin_half = std::sqrt(q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
  const double angle = 2 * std::atan2(sin_half, q[0]);
  // angle / sin(angle / 2) -> 2 as the angle -> 0.
  const double k = sin_half < 1e-12 ? 2.0 : angle / sin_half;
  return {q[1] * k, q[2] * k, q[3] * k};
}

double angle_of(const std::array<double, 3>& aa) { return std::sqrt(aa[0] * aa[0] + aa[1] * aa[1] + aa[2] * aa[2]); }

using E = std::array<double, 3>;
// Left joints are at +x: a right joint's limits mirror the left's y and z ranges.
JointLimits box(E lo, E hi, double swing = 0) { return {{lo[0], lo[1], lo[2]}, {hi[0], hi[1], hi[2]}, swing}; }
JointLimits mirror(const JointLimits& l) {
  return {{l.lo[0], -l.hi[1], -l.hi[2]}, {l.hi[0], -l.lo[1], -l.lo[2]}, l.max_swing};
}

std::array<JointLimits, 24> make_limits() {
  std::array<JointLimits, 24> L;
  L[0] = box({0, 0, 0}, {0, 0, 0});
  L[1] = box({-2.0, -0.5, -0.3}, {0.5, 0.5, 0.9}, 2.1);   // hip: x < 0 flexes the thigh forward
  L[2] = mirror(L[1]);
  L[3] = box({-0.3, -0.3, -0.25}, {0.5, 0.3, 0.25});     // spine: x > 0 bends forward
  L[4] = box({0, 0, 0}, {2.4, 0, 0});                     // knee: hinge about x, shin backward
  L[5] = L[4];
  L[6] = box({-0.2, -0.25, -0.2}, {0.3, 0.25, 0.2});
  L[7] = box({-0.4, -0.2, -0.3}, {0.6, 0.2, 0.3});        // ankle
  L[8] = mirror(L[7]);
  L[9] = box({-0.2, -0.25, -0.2}, {0.3, 0.25, 0.2});
  L[10] = box({-0.3, -0.1, -0.1}, {0.3, 0.1, 0.1});       // toes
  L[11] = mirror(L[10]);
  L[12] = box({-0.4, -0.6, -0.3}, {0.5, 0.6, 0.3});       // neck
  L[13] = box({-0.2, -0.3, -0.2}, {0.2, 0.2, 0.3});       // collar
  L[14] = mirror(L[13]);
  L[15] = box({-0.3, -0.5, -0.3}, {0.4, 0.5, 0.3});       // head
  L[16] = box({-1.0, -1.6, -1.5}, {1.0, 0.8, 1.2}, 2.2);  // shoulder: y < 0 forward, z < 0 down
  L[17] = mirror(L[16]);
  L[18] = box({0, -2.5, 0}, {0, 0, 0});                   // elbow: hinge about y, forearm forward
  L[19] = mirror(L[18]);
  L[20] = box({-0.8, -0.3, -0.8}, {0.8, 0.3, 0.8});       // wrist
  L[21] = mirror(L[20]);
  L[22] = box({-0.3, -0.2, -0.5}, {0.3, 0.2, 0.3});       // fingers
  L[23] = mirror(L[22]);
  return L;
}

}  // namespace

const std::array<JointLimits, 24>& joint_limits() {
  static const std::array<JointLimits, 24> limits = make_limits();
  return limits;
}

std::array<double, 3> euler_xyz_to_axis_angle(const std::array<double, 3>& e) {
  return matrix_to_axis_angle(matmul3(matmul3(rot(0, e[0]), rot(1, e[1])), rot(2, e[2])));
}

const char* pose_family_name(PoseFamily f) {
  switch (f) {
    case PoseFamily::Standing: return "standing";
    case PoseFamily::Walking: return "walking";
    case PoseFamily::Sitting: return "sitting";
    case PoseFamily::Reaching: return "reaching";
    case PoseFamily::Free: return "free";
  }
  return "?";
}

PoseFamily parse_pose_family(const std::string& name) {
  for (int i = 0; i < kPoseFamilies; ++i)
    if (name == pose_family_name(static_cast<PoseFamily>(i))) return static_cast<PoseFamily>(i);
  HMR_CHECK(false, ValueError, "pose family: expected standing, walking, sitting, reaching or free, found '", name, "'");
  return PoseFamily::Free;
}

PoseSampler::PoseSampler(uint64_t seed) : rng_(seed) {}

// From the raw 64-bit engine (fully specified by the standard) rather than std::*_distribution
// (implementation-defined), so a seed gives the same poses with any standard library.
double PoseSampler::uniform(double lo, double hi) {
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  return lo + (hi - lo) * u;
}
double PoseSampler::normal(double sigma) {  // Box-Muller
  const double u1 = 1.0 - uniform(0, 1), u2 = uniform(0, 1);
  return sigma * std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
}

PoseFamily PoseSampler::sample_family() {
  const double u = uniform(0, 1);
  if (u < 0.2) return PoseFamily::Standing;
  if (u < 0.5) return PoseFamily::Walking;
  if (u < 0.65) return PoseFamily::Sitting;
  if (u < 0.85) return PoseFamily::Reaching;
  return PoseFamily::Free;
}

std::vector<double> PoseSampler::sample_betas(int n) {
  std::vector<double> b(static_cast<size_t>(n));
  for (double& x : b) x = std::clamp(normal(1.0), -2.5, 2.5);
  return b;
}

std::vector<double> PoseSampler::sample_pose(PoseFamily family) {
  const auto& L = joint_limits();
  std::array<E, 24> e{};
  // Arms lowered to the sides (left z < 0, right z > 0), the rest pose of most families.
  auto arms_down = [&](double lo, double hi) {
    const double a = uniform(lo, hi);
    e[16][2] = -a;
    e[17][2] = a + normal(0.1);
    e[18][1] = -uniform(0.0, 0.5);
    e[19][1] = uniform(0.0, 0.5);
  };
  switch (family) {
    case PoseFamily::Standing:
      arms_down(1.0, 1.4);
      e[4][0] = uniform(0, 0.15), e[5][0] = uniform(0, 0.15);
      break;
    case PoseFamily::Walking: {
      const double phase = uniform(0, 2 * M_PI), stride = uniform(0.3, 0.6);
      e[1][0] = -stride * std::sin(phase);
      e[2][0] = stride * std::sin(phase);
      e[4][0] = 0.1 + 0.9 * std::max(0.0, std::cos(phase));
      e[5][0] = 0.1 + 0.9 * std::max(0.0, -std::cos(phase));
      arms_down(1.1, 1.4);
      // Arms swing against the legs: the left arm goes back as the left leg goes forward.
      e[16][1] = 0.8 * stride * std::sin(phase);
      e[17][1] = 0.8 * stride * std::sin(phase);
      e[18][1] = -uniform(0.3, 0.6), e[19][1] = uniform(0.3, 0.6);
      break;
    }
    case PoseFamily::Sitting:
      e[1][0] = uniform(-1.7, -1.3), e[2][0] = uniform(-1.7, -1.3);
      e[1][2] = uniform(0, 0.3), e[2][2] = -uniform(0, 0.3);
      e[4][0] = uniform(1.3, 1.8), e[5][0] = uniform(1.3, 1.8);
      e[3][0] = uniform(0, 0.3);
      arms_down(0.9, 1.3);
      e[16][1] = -uniform(0, 0.6), e[17][1] = uniform(0, 0.6);
      e[18][1] = -uniform(0.3, 1.2), e[19][1] = uniform(0.3, 1.2);
      break;
    case PoseFamily::Reaching: {
      arms_down(1.0, 1.4);
      const int which = static_cast<int>(uniform(0, 3));  // left, right or both
      for (int side = 0; side < 2; ++side) {
        if (which != 2 && which != side) continue;
        const double s = side == 0 ? 1.0 : -1.0;  // mirror y and z for the right arm
        e[16 + side][1] = s * -uniform(0.5, 1.5);
        e[16 + side][2] = s * uniform(-0.5, 1.0);
        e[18 + side][1] = s * -uniform(0.0, 0.5);
      }
      e[3][0] = uniform(0, 0.4);
      e[4][0] = uniform(0, 0.3), e[5][0] = uniform(0, 0.3);
      break;
    }
    case PoseFamily::Free:
      for (int j = 1; j < 24; ++j)
        for (int a = 0; a < 3; ++a) e[j][a] = 0.6 * uniform(L[j].lo[a], L[j].hi[a]);
      break;
  }
  std::vector<double> pose(72, 0.0);
  for (int j = 1; j < 24; ++j) {
    for (int a = 0; a < 3; ++a)
      e[j][a] = std::clamp(e[j][a] + (L[j].hi[a] > L[j].lo[a] ? normal(0.05) : 0.0), L[j].lo[a], L[j].hi[a]);
    std::array<double, 3> aa = euler_xyz_to_axis_angle(e[j]);
    // Ball joints: shrink the whole rotation until its angle is within the swing limit (the
    // box keeps holding, as every Euler angle only gets smaller).
    while (L[j].max_swing > 0 && angle_of(aa) > L[j].max_swing) {
      for (double& x : e[j]) x *= 0.9;
      aa = euler_xyz_to_axis_angle(e[j]);
    }
    for (int a = 0; a < 3; ++a) pose[static_cast<size_t>(3 * j + a)] = aa[static_cast<size_t>(a)];
  }
  return pose;
}

}  // namespace hmr::data
