// Plausible random SMPL poses and shapes for the synthetic dataset: per-joint limits (hinge
// knees and elbows, box-limited spine, neck, wrists and ankles, swing-limited shoulders and
// hips) and pose families (standing, walking, sitting, reaching, free). Deterministic for a
// seed. Angles are in SMPL's rest frame: y up, the body faces +z, its left is +x.
#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace hmr::data {

enum class PoseFamily { Standing, Walking, Sitting, Reaching, Free };
const char* pose_family_name(PoseFamily f);
PoseFamily parse_pose_family(const std::string& name);  // ValueError naming the choices
inline constexpr int kPoseFamilies = 5;

// Limits of one joint as intrinsic X-then-Y-then-Z Euler angles (R = Rx(x) Ry(y) Rz(z), radians).
struct JointLimits {
  double lo[3], hi[3];
  double max_swing;  // for ball joints: bound on the rotation angle of the whole (0: none)
};
// SMPL's 24 joints; the root (0) is unlimited (the synthetic generator sets the global turn).
const std::array<JointLimits, 24>& joint_limits();

// R = Rx(e[0]) Ry(e[1]) Rz(e[2]) as axis-angle (3).
std::array<double, 3> euler_xyz_to_axis_angle(const std::array<double, 3>& e);

class PoseSampler {
 public:
  explicit PoseSampler(uint64_t seed);

  // 72 axis-angle values, root = 0; every joint within joint_limits().
  std::vector<double> sample_pose(PoseFamily family);
  // A family drawn with weights standing 0.2, walking 0.3, sitting 0.15, reaching 0.2, free 0.15.
  PoseFamily sample_family();
  // n betas, each N(0, 1) clipped to [-2.5, 2.5] (the generated model's units are ~1 std).
  std::vector<double> sample_betas(int n);

 private:
  double normal(double sigma);
  double uniform(double lo, double hi);
  std::mt19937_64 rng_;
};

}  // namespace hmr::data
