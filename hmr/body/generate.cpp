// The procedural body model (generate.h): the designed skeleton and surface, the rigging, the
// blend shapes and the extra regressors.
#include "hmr/body/generate.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <mutex>
#include <vector>

#include "autograd/ops.h"
#include "hmr/body/surface.h"
#include "hmr/geometry/rotations.h"
#include "tensor/error.h"

namespace hmr::body {
namespace {

constexpr int J = kSmplJoints;
constexpr int kBetas = 10;

// ---- small vector helpers ------------------------------------------------------------------
Vec3 sub(const Vec3& a, const Vec3& b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }
Vec3 add(const Vec3& a, const Vec3& b) { return {a[0] + b[0], a[1] + b[1], a[2] + b[2]}; }
Vec3 mul(const Vec3& a, double s) { return {a[0] * s, a[1] * s, a[2] * s}; }
double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
double len(const Vec3& a) { return std::sqrt(dot(a, a)); }
Vec3 mirror(const Vec3& a) { return {-a[0], a[1], a[2]}; }
double clamp01(double x) { return std::min(1.0, std::max(0.0, x)); }
double smoothstep(double e0, double e1, double x) {
  const double t = clamp01((x - e0) / (e1 - e0));
  return t * t * (3 - 2 * t);
}

// ---- the designed skeleton (SMPL order; left joints at +x, right ones mirrored) -----------
const double kJoints[J][3] = {
    {0.0, -0.225, 0.02},     // 0 pelvis
    {0.085, -0.31, 0.02},    // 1 left_hip
    {-0.085, -0.31, 0.02},   // 2 right_hip
    {0.0, -0.11, 0.0},       // 3 spine1
    {0.10, -0.68, 0.025},    // 4 left_knee
    {-0.10, -0.68, 0.025},   // 5 right_knee
    {0.0, 0.03, 0.01},       // 6 spine2
    {0.095, -1.08, -0.015},  // 7 left_ankle
    {-0.095, -1.08, -0.015}, // 8 right_ankle
    {0.0, 0.085, 0.02},      // 9 spine3
    {0.11, -1.15, 0.10},     // 10 left_foot
    {-0.11, -1.15, 0.10},    // 11 right_foot
    {0.0, 0.29, -0.01},      // 12 neck
    {0.075, 0.205, 0.0},     // 13 left_collar
    {-0.075, 0.205, 0.0},    // 14 right_collar
    {0.0, 0.36, 0.04},       // 15 head
    {0.18, 0.215, -0.015},   // 16 left_shoulder
    {-0.18, 0.215, -0.015},  // 17 right_shoulder
    {0.44, 0.21, -0.03},     // 18 left_elbow
    {-0.44, 0.21, -0.03},    // 19 right_elbow
    {0.69, 0.215, -0.035},   // 20 left_wrist
    {-0.69, 0.215, -0.035},  // 21 right_wrist
    {0.775, 0.21, -0.04},    // 22 left_hand
    {-0.775, 0.21, -0.04},   // 23 right_hand
};
Vec3 joint(int j) { return {kJoints[j][0], kJoints[j][1], kJoints[j][2]}; }

// Each part j is the bone from joint j to its end (its main child, or a tip for the leaves),
// with the body's radius at both ends: distances to it are measured in units of that radius.
struct Bone {
  int end_joint;  // -1: use tip
  Vec3 tip;
  double r0, r1;
};
const Bone kBones[J] = {
    {3, {}, 0.15, 0.14},                          // pelvis -> spine1
    {4, {}, 0.08, 0.055},                         // left thigh
    {5, {}, 0.08, 0.055},                         // right thigh
    {6, {}, 0.14, 0.14},                          // spine1 -> spine2
    {7, {}, 0.052, 0.037},                        // left shin
    {8, {}, 0.052, 0.037},                        // right shin
    {9, {}, 0.145, 0.15},                         // spine2 -> spine3
    {10, {}, 0.045, 0.042},                       // left ankle -> ball of foot
    {11, {}, 0.045, 0.042},                       // right
    {12, {}, 0.15, 0.055},                        // spine3 -> neck
    {-1, {0.115, -1.16, 0.18}, 0.04, 0.03},       // left toes
    {-1, {-0.115, -1.16, 0.18}, 0.04, 0.03},      // right toes
    {15, {}, 0.06, 0.06},                         // neck -> head
    {16, {}, 0.065, 0.055},                       // left collar -> shoulder
    {17, {}, 0.065, 0.055},                       // right
    {-1, {0.0, 0.55, 0.03}, 0.06, 0.09},          // head -> top
    {18, {}, 0.05, 0.04},                         // left upper arm
    {19, {}, 0.05, 0.04},                         // right
    {20, {}, 0.038, 0.03},                        // left forearm
    {21, {}, 0.038, 0.03},                        // right
    {22, {}, 0.035, 0.035},                       // left palm
    {23, {}, 0.035, 0.035},                       // right
    {-1, {0.87, 0.205, -0.04}, 0.03, 0.02},       // left fingers
    {-1, {-0.87, 0.205, -0.04}, 0.03, 0.02},      // right
};
Vec3 bone_end(int j) { return kBones[j].end_joint >= 0 ? joint(kBones[j].end_joint) : kBones[j].tip; }

// Closest point on part j's bone to p, and the bone's radius there.
void closest_on_bone(int j, const Vec3& p, Vec3& c, double& radius) {
  const Vec3 a = joint(j), b = bone_end(j), ab = sub(b, a);
  const double t = clamp01(dot(sub(p, a), ab) / dot(ab, ab));
  c = add(a, mul(ab, t));
  radius = kBones[j].r0 + t * (kBones[j].r1 - kBones[j].r0);
}

// ---- the surface: a smooth union of primitives --------------------------------------------
struct Primitive {
  bool ellipsoid;
  Vec3 a, b;       // capsule ends, or ellipsoid centre (a) and semi-axes (b)
  double ra, rb;   // capsule radii at a and b
  double blend;    // smooth-union radius with everything before it
};

double capsule_distance(const Primitive& p, const Vec3& x) {
  const Vec3 ab = sub(p.b, p.a);
  const double t = clamp01(dot(sub(x, p.a), ab) / dot(ab, ab));
  return len(sub(x, add(p.a, mul(ab, t)))) - (p.ra + t * (p.rb - p.ra));
}
// A bound-preserving ellipsoid distance (Quilez): exact on the surface, of the right sign.
double ellipsoid_distance(const Primitive& p, const Vec3& x) {
  const Vec3 d = sub(x, p.a);
  const Vec3 q0 = {d[0] / p.b[0], d[1] / p.b[1], d[2] / p.b[2]};
  const Vec3 q1 = {d[0] / (p.b[0] * p.b[0]), d[1] / (p.b[1] * p.b[1]), d[2] / (p.b[2] * p.b[2])};
  const double k0 = len(q0), k1 = len(q1);
  if (k1 < 1e-12) return -std::min({p.b[0], p.b[1], p.b[2]});
  return k0 * (k0 - 1.0) / k1;
}
double smooth_min(double a, double b, double k) {
  if (k <= 0) return std::min(a, b);
  const double h = std::max(k - std::fabs(a - b), 0.0) / k;
  return std::min(a, b) - h * h * k * 0.25;
}

std::vector<Primitive> body_primitives() {
  std::vector<Primitive> p;
  auto capsule = [&](Vec3 a, double ra, Vec3 b, double rb, double blend) {
    p.push_back({false, a, b, ra, rb, blend});
  };
  auto ellipsoid = [&](Vec3 c, Vec3 axes, double blend) { p.push_back({true, c, axes, 0, 0, blend}); };
  // Trunk, neck and head.
  ellipsoid({0, -0.235, 0.005}, {0.16, 0.125, 0.105}, 0);      // pelvis
  ellipsoid({0, -0.07, 0.02}, {0.135, 0.15, 0.10}, 0.04);      // abdomen
  ellipsoid({0, 0.12, 0.015}, {0.155, 0.165, 0.105}, 0.04);    // chest
  capsule({-0.17, 0.205, -0.015}, 0.058, {0.17, 0.205, -0.015}, 0.058, 0.04);  // shoulders
  for (double s : {1.0, -1.0}) ellipsoid({s * 0.06, -0.27, -0.04}, {0.075, 0.08, 0.07}, 0.03);  // buttocks
  capsule({0, 0.24, -0.005}, 0.056, {0, 0.40, 0.015}, 0.05, 0.03);  // neck
  ellipsoid({0, 0.445, 0.03}, {0.078, 0.108, 0.098}, 0.03);         // cranium
  ellipsoid({0, 0.39, 0.055}, {0.06, 0.06, 0.07}, 0.03);            // jaw
  ellipsoid({0, 0.425, 0.125}, {0.013, 0.022, 0.02}, 0.012);        // nose
  for (double s : {1.0, -1.0}) {
    auto m = [&](Vec3 v) { return Vec3{s * v[0], v[1], v[2]}; };
    // Leg.
    capsule(m({0.085, -0.31, 0.02}), 0.082, m({0.10, -0.68, 0.025}), 0.054, 0.025);
    capsule(m({0.10, -0.68, 0.025}), 0.052, m({0.095, -1.08, -0.015}), 0.036, 0.02);
    ellipsoid(m({0.10, -0.82, -0.01}), {0.05, 0.12, 0.055}, 0.03);     // calf
    ellipsoid(m({0.105, -1.145, 0.06}), {0.045, 0.042, 0.125}, 0.03);  // foot
    // Arm.
    ellipsoid(m({0.19, 0.225, -0.015}), {0.07, 0.058, 0.058}, 0.03);   // deltoid
    capsule(m({0.18, 0.215, -0.015}), 0.05, m({0.44, 0.21, -0.03}), 0.039, 0.02);
    capsule(m({0.44, 0.21, -0.03}), 0.038, m({0.69, 0.215, -0.035}), 0.028, 0.02);
    ellipsoid(m({0.775, 0.21, -0.04}), {0.09, 0.022, 0.048}, 0.02);    // hand
  }
  return p;
}

// A sphere around each primitive gives a lower bound of its distance; a primitive whose bound
// is already blend beyond the running minimum cannot change it (smooth_min(d, di, k) == d
// when di >= d + k) and is skipped. Far from the body only bounds are computed.
struct Bounds {
  Vec3 centre;
  double radius;
};
Bounds bounds_of(const Primitive& p) {
  if (p.ellipsoid) return {p.a, std::max({p.b[0], p.b[1], p.b[2]})};
  return {mul(add(p.a, p.b), 0.5), 0.5 * len(sub(p.b, p.a)) + std::max(p.ra, p.rb)};
}

double body_sdf(const std::vector<Primitive>& prims, const std::vector<Bounds>& bounds, const Vec3& x) {
  double d = 1e9, lower = 1e9;
  for (size_t i = 0; i < prims.size(); ++i) {
    const Primitive& p = prims[i];
    const double lb = len(sub(x, bounds[i].centre)) - bounds[i].radius;
    lower = std::min(lower, lb);
    if (lb >= d + p.blend) continue;
    const double di = p.ellipsoid ? ellipsoid_distance(p, x) : capsule_distance(p, x);
    d = smooth_min(d, di, p.blend);
  }
  // Nothing evaluated (the point is outside every bound): the nearest bound is a fine
  // positive stand-in, as only the sign and rough size matter there.
  return d < 1e9 ? d : lower;
}

// ---- rigging ---------------------------------------------------------------------------------
// Skinning weights: the normalised distance s_j = |v - bone_j| / radius_j(v) to every bone;
// weight ~ exp(-sharpness (s_j - s_min)), kept for the nearest part, its parent and its
// children (so a thigh vertex never follows the other leg), normalised to sum 1.
std::vector<std::array<double, J>> skinning_weights(const std::vector<Vec3>& verts) {
  constexpr double kSharpness = 8.0;
  std::vector<std::array<double, J>> w(verts.size());
  for (size_t v = 0; v < verts.size(); ++v) {
    std::array<double, J> s{};
    int best = 0;
    for (int j = 0; j < J; ++j) {
      Vec3 c;
      double r;
      closest_on_bone(j, verts[v], c, r);
      s[static_cast<size_t>(j)] = len(sub(verts[v], c)) / r;
      if (s[static_cast<size_t>(j)] < s[static_cast<size_t>(best)]) best = j;
    }
    double total = 0;
    for (int j = 0; j < J; ++j) {
      const bool related = j == best || kSmplParents[best] == j || kSmplParents[j] == best;
      const double x = related ? std::exp(-kSharpness * (s[static_cast<size_t>(j)] - s[static_cast<size_t>(best)])) : 0.0;
      w[v][static_cast<size_t>(j)] = x < 1e-4 ? 0.0 : x;
      total += w[v][static_cast<size_t>(j)];
    }
    for (double& x : w[v]) x /= total;
  }
  return w;
}

// Weights over the vertices (among `allowed`) in a slab of half-thickness h around the plane
// through `centre` normal to `axis`, within `radius` of the axis line (a ring around a limb or
// the trunk), that reproduce `centre` exactly: the weights closest to uniform with
// sum w_i v_i = centre and sum w_i = 1, vertices with negative weight dropped and the rest
// refitted. So the template's regressed joints are the designed ones. The slab widens until
// it holds enough vertices.
std::vector<double> ring_regressor(const std::vector<Vec3>& verts, const std::vector<bool>& allowed,
                                   const Vec3& centre, const Vec3& axis_in, double h, double radius) {
  const Vec3 axis = mul(axis_in, 1.0 / len(axis_in));
  std::vector<size_t> ring;
  for (int attempt = 0; attempt < 12 && ring.size() < 8; ++attempt, h *= 1.5) {
    ring.clear();
    for (size_t v = 0; v < verts.size(); ++v) {
      if (!allowed[v]) continue;
      const Vec3 d = sub(verts[v], centre);
      const double along = dot(d, axis);
      if (std::fabs(along) <= h && len(sub(d, mul(axis, along))) <= radius) ring.push_back(v);
    }
  }
  HMR_INTERNAL_CHECK(ring.size() >= 4, "generate_body_model: no vertices around a regressed point");
  std::vector<double> wr;
  for (int round = 0; round < 20; ++round) {
    const size_t n = ring.size();
    // Minimum-norm correction of the uniform weights u: w = u + A^T (A A^T)^-1 (b - A u),
    // A = [v_x; v_y; v_z; 1] (4 x n), b = [centre; 1].
    double M[4][5] = {};
    double Au[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n; ++i) {
      const double a[4] = {verts[ring[i]][0], verts[ring[i]][1], verts[ring[i]][2], 1.0};
      for (int r = 0; r < 4; ++r) {
        Au[r] += a[r] / static_cast<double>(n);
        for (int c = 0; c < 4; ++c) M[r][c] += a[r] * a[c];
      }
    }
    const double b[4] = {centre[0], centre[1], centre[2], 1.0};
    for (int r = 0; r < 4; ++r) M[r][4] = b[r] - Au[r];
    for (int c = 0; c < 4; ++c) {  // Gauss-Jordan with partial pivoting
      int piv = c;
      for (int r = c + 1; r < 4; ++r)
        if (std::fabs(M[r][c]) > std::fabs(M[piv][c])) piv = r;
      std::swap(M[c], M[piv]);
      HMR_INTERNAL_CHECK(std::fabs(M[c][c]) > 1e-14, "generate_body_model: a flat joint ring");
      for (int r = 0; r < 4; ++r) {
        if (r == c) continue;
        const double f = M[r][c] / M[c][c];
        for (int k = c; k < 5; ++k) M[r][k] -= f * M[c][k];
      }
    }
    double y[4];
    for (int r = 0; r < 4; ++r) y[r] = M[r][4] / M[r][r];
    wr.assign(n, 0.0);
    bool negative = false;
    for (size_t i = 0; i < n; ++i) {
      const double a[4] = {verts[ring[i]][0], verts[ring[i]][1], verts[ring[i]][2], 1.0};
      wr[i] = 1.0 / static_cast<double>(n) + a[0] * y[0] + a[1] * y[1] + a[2] * y[2] + a[3] * y[3];
      negative = negative || wr[i] < 0;
    }
    if (!negative || n <= 4) break;
    std::vector<size_t> kept;
    for (size_t i = 0; i < n; ++i)
      if (wr[i] > 0) kept.push_back(ring[i]);
    if (kept.size() < 4) break;
    ring = kept;
  }
  // If the point lies outside the ring's hull the last fit may keep small negative weights;
  // clip them so the regressor stays a convex combination (then it is close, not exact).
  std::vector<double> row(verts.size(), 0.0);
  double total = 0;
  for (size_t i = 0; i < ring.size(); ++i) total += row[ring[i]] = std::max(wr[i], 0.0);
  for (double& x : row) x /= total;
  return row;
}

// Edges between two joints of SMPL's tree (parts near a joint in the tree surround it).
int tree_distance(int a, int b) {
  int depth_a = 0, depth_b = 0;
  for (int x = a; kSmplParents[x] >= 0; x = kSmplParents[x]) ++depth_a;
  for (int x = b; kSmplParents[x] >= 0; x = kSmplParents[x]) ++depth_b;
  int d = 0;
  while (a != b) {
    if (depth_a >= depth_b) a = kSmplParents[a], --depth_a;
    else b = kSmplParents[b], --depth_b;
    ++d;
  }
  return d;
}

// Inverse-distance weights over the k vertices nearest to a surface point.
std::vector<double> surface_regressor(const std::vector<Vec3>& verts, const Vec3& p, int k) {
  std::vector<std::pair<double, size_t>> d;
  for (size_t v = 0; v < verts.size(); ++v) d.push_back({len(sub(verts[v], p)), v});
  std::partial_sort(d.begin(), d.begin() + k, d.end());
  std::vector<double> row(verts.size(), 0.0);
  double total = 0;
  for (int i = 0; i < k; ++i) total += row[d[static_cast<size_t>(i)].second] = 1.0 / (d[static_cast<size_t>(i)].first + 1e-3);
  for (double& x : row) x /= total;
  return row;
}

int64_t nearest_vertex(const std::vector<Vec3>& verts, const Vec3& p) {
  int64_t best = 0;
  for (size_t v = 1; v < verts.size(); ++v)
    if (len(sub(verts[v], p)) < len(sub(verts[static_cast<size_t>(best)], p))) best = static_cast<int64_t>(v);
  return best;
}

Tensor to_tensor(const std::vector<double>& values, const Shape& shape) {
  return Tensor::from_vector(values, shape);
}

}  // namespace

const char* body_size_name(BodySize size) { return size == BodySize::Full ? "full" : "small"; }

BodySize parse_body_size(const std::string& name) {
  if (name == "full") return BodySize::Full;
  if (name == "small") return BodySize::Small;
  HMR_CHECK(false, ValueError, "body size: expected 'full' or 'small', found '", name, "'");
  return BodySize::Full;
}

int64_t generated_vertex_count(BodySize size) { return size == BodySize::Full ? 6890 : 690; }

const double* designed_joints() { return &kJoints[0][0]; }

BodyModelData generate_body_model(BodySize size) {
  const std::vector<Primitive> prims = body_primitives();
  std::vector<Bounds> bounds;
  for (const Primitive& p : prims) bounds.push_back(bounds_of(p));
  const ImplicitFn sdf = [&prims, &bounds](const Vec3& x) { return body_sdf(prims, bounds, x); };

  // 1. Surface. The grid is fine enough for the hands (4.4 cm thick, 4 cells); decimation then brings
  // the count down to the target exactly.
  const double step = size == BodySize::Full ? 0.01 : 0.015;
  TriMesh mesh = marching_tetrahedra(sdf, {-0.95, -1.25, -0.16}, {0.95, 0.6, 0.25}, step);
  Topology topo = mesh_topology(mesh);
  HMR_INTERNAL_CHECK(topo.closed_manifold && topo.euler == 2 && topo.components == 1,
                     "generate_body_model: the implicit surface is not one closed sphere (euler ",
                     topo.euler, ", components ", topo.components, ")");
  mesh = decimate(mesh, generated_vertex_count(size));
  relax(mesh, sdf, size == BodySize::Full ? 6 : 4, 0.5);
  topo = mesh_topology(mesh);
  HMR_INTERNAL_CHECK(topo.closed_manifold && topo.euler == 2 && topo.components == 1,
                     "generate_body_model: decimation broke the surface");
  const std::vector<Vec3>& verts = mesh.vertices;
  const size_t V = verts.size();
  const std::vector<Vec3> normals = vertex_normals(mesh);

  // 2. Rigging.
  const auto w = skinning_weights(verts);
  std::vector<int64_t> part(V);
  for (size_t v = 0; v < V; ++v)
    part[v] = std::max_element(w[v].begin(), w[v].end()) - w[v].begin();

  std::vector<double> jreg(static_cast<size_t>(J) * V, 0.0);
  for (int j = 0; j < J; ++j) {
    const int p = kSmplParents[j];
    std::vector<bool> allowed(V);
    for (size_t v = 0; v < V; ++v)
      allowed[v] = tree_distance(j, static_cast<int>(part[v])) <= 2;
    // The ring's axis is the bone through the joint: parent -> end (or the bone itself).
    const Vec3 axis = p >= 0 ? sub(bone_end(j), joint(p)) : Vec3{0, 1, 0};
    const double r = 1.6 * kBones[j].r0;
    const auto row = ring_regressor(verts, allowed, joint(j), axis, 0.3 * kBones[j].r0, r);
    std::copy(row.begin(), row.end(), jreg.begin() + static_cast<std::ptrdiff_t>(j * V));
  }

  // 3. Shape blend shapes. Groups of parts and each vertex's radial vector from its bones.
  double y_floor = 1e9, y_top = -1e9;
  for (const Vec3& v : verts) y_floor = std::min(y_floor, v[1]), y_top = std::max(y_top, v[1]);
  auto group = [&](size_t v, std::initializer_list<int> parts) {
    double s = 0;
    for (int j : parts) s += w[v][static_cast<size_t>(j)];
    return s;
  };
  std::vector<double> shapedirs(V * 3 * kBetas, 0.0);
  auto set = [&](size_t v, int k, const Vec3& d) {
    for (int c = 0; c < 3; ++c) shapedirs[(v * 3 + static_cast<size_t>(c)) * kBetas + static_cast<size_t>(k)] = d[static_cast<size_t>(c)];
  };
  const Vec3 head_centre = {0, 0.44, 0.035};
  for (size_t v = 0; v < V; ++v) {
    const Vec3& p = verts[v];
    Vec3 axis_point{0, 0, 0};
    for (int j = 0; j < J; ++j) {
      if (w[v][static_cast<size_t>(j)] == 0) continue;
      Vec3 c;
      double r;
      closest_on_bone(j, p, c, r);
      axis_point = add(axis_point, mul(c, w[v][static_cast<size_t>(j)]));
    }
    const Vec3 radial = sub(p, axis_point);
    const double side = p[0] >= 0 ? 1.0 : -1.0;
    const double torso = group(v, {0, 3, 6, 9}) + 0.5 * group(v, {13, 14});
    const double arm = p[0] >= 0 ? group(v, {16, 18, 20, 22}) + 0.5 * w[v][13] : group(v, {17, 19, 21, 23}) + 0.5 * w[v][14];
    const double leg = group(v, {1, 2, 4, 5, 7, 8, 10, 11});
    const double head = group(v, {15}) + 0.5 * group(v, {12});
    set(v, 0, mul(sub(p, {0, y_floor, 0}), 0.035));                                   // stature
    set(v, 1, mul(radial, 0.18 * torso + 0.10 * (arm + leg) + 0.05 * head));          // girth
    set(v, 2, {0, -0.045 * smoothstep(-0.30, y_floor, p[1]), 0});                     // leg length
    set(v, 3, {side * 0.04 * clamp01((std::fabs(p[0]) - 0.18) / 0.69) * arm, 0, 0}); // arm length
    set(v, 4, {side * 0.025 * (arm + torso * smoothstep(0.0, 0.2, p[1]) * clamp01(std::fabs(p[0]) / 0.16)), 0, 0});  // shoulders
    set(v, 5, {side * 0.025 * (leg + w[v][0] * clamp01(std::fabs(p[0]) / 0.16)), 0, 0});  // hips
    set(v, 6, {0, 0, 0.04 * std::exp(-std::pow((p[1] + 0.08) / 0.12, 2)) * std::max(normals[v][2], 0.0) * torso});  // belly
    set(v, 7, mul(sub(p, head_centre), 0.10 * head));                                  // head size
    set(v, 8, {0, 0.035 * clamp01((p[1] + 0.225) / 0.515), 0});                        // torso length
    set(v, 9, mul(radial, 0.15 * (arm + leg)));                                        // limb thickness
  }

  // Pose blend shapes: a joint bent by angle t swells outward by alpha (3 - trace R) =
  // alpha * 2 (1 - cos t) where the parent and child parts meet.
  const size_t P = 9 * (J - 1);
  std::vector<double> posedirs(V * 3 * P, 0.0);
  constexpr double kAlpha = 0.012;
  for (int j = 1; j < J; ++j) {
    const int p = kSmplParents[j];
    for (size_t v = 0; v < V; ++v) {
      const double m = std::min(1.0, 4.0 * w[v][static_cast<size_t>(j)] * w[v][static_cast<size_t>(p)]);
      if (m == 0) continue;
      for (int k = 0; k < 3; ++k)
        for (int c = 0; c < 3; ++c)
          posedirs[(v * 3 + static_cast<size_t>(c)) * P + static_cast<size_t>(9 * (j - 1) + 4 * k)] = -kAlpha * m * normals[v][static_cast<size_t>(c)];
    }
  }

  // 4. Extra joints. Vertex joints in smplx's order for SMPL: nose, right/left eye, right/left
  // ear, then left big toe, small toe, heel, right ones, then the ten finger tips.
  std::vector<Vec3> landmarks = {
      {0, 0.43, 0.15}, {-0.03, 0.465, 0.12}, {0.03, 0.465, 0.12}, {-0.08, 0.445, 0.02}, {0.08, 0.445, 0.02},
      {0.125, -1.18, 0.19}, {0.07, -1.18, 0.16}, {0.10, -1.18, -0.07},
      {-0.125, -1.18, 0.19}, {-0.07, -1.18, 0.16}, {-0.10, -1.18, -0.07}};
  const Vec3 tips[5] = {{0.78, 0.21, 0.01}, {0.86, 0.21, -0.005}, {0.87, 0.21, -0.03}, {0.86, 0.21, -0.055}, {0.84, 0.21, -0.08}};
  for (const Vec3& t : tips) landmarks.push_back(t);
  for (const Vec3& t : tips) landmarks.push_back(mirror(t));
  std::vector<int64_t> vertex_ids;
  for (const Vec3& l : landmarks) vertex_ids.push_back(nearest_vertex(verts, l));

  auto parts_mask = [&](std::initializer_list<int> parts) {
    std::vector<bool> m(V, false);
    for (size_t v = 0; v < V; ++v)
      for (int j : parts) m[v] = m[v] || part[v] == j;
    return m;
  };
  const int k_surface = size == BodySize::Full ? 8 : 3;
  auto smpl_joint_row = [&](int j) { return std::vector<double>(jreg.begin() + static_cast<std::ptrdiff_t>(j * V), jreg.begin() + static_cast<std::ptrdiff_t>((j + 1) * V)); };
  // SPIN's J_regressor_extra: right hip, left hip, neck (LSP), top of head (LSP), pelvis
  // (MPII), thorax (MPII), spine (H36M), jaw (H36M), head (H36M).
  std::vector<std::vector<double>> extra = {
      ring_regressor(verts, parts_mask({0, 2}), add(joint(2), {-0.01, -0.04, 0}), {0, 1, 0}, 0.02, 0.09),
      ring_regressor(verts, parts_mask({0, 1}), add(joint(1), {0.01, -0.04, 0}), {0, 1, 0}, 0.02, 0.09),
      ring_regressor(verts, parts_mask({12, 9}), {0, 0.30, -0.005}, {0, 1, 0}, 0.015, 0.08),
      surface_regressor(verts, {0, y_top, 0.03}, k_surface),
      ring_regressor(verts, parts_mask({0}), {0, -0.26, 0.01}, {0, 1, 0}, 0.02, 0.2),
      ring_regressor(verts, parts_mask({9, 12, 13, 14}), {0, 0.24, 0.0}, {0, 1, 0}, 0.02, 0.12),
      ring_regressor(verts, parts_mask({3, 6}), {0, 0.0, 0.01}, {0, 1, 0}, 0.02, 0.2),
      surface_regressor(verts, {0, 0.345, 0.10}, k_surface),
      ring_regressor(verts, parts_mask({15}), {0, 0.45, 0.03}, {0, 1, 0}, 0.02, 0.12),
  };
  // Human3.6M's 17 in J_regressor_h36m's order, which SPIN's H36M_TO_J14 reads as: pelvis,
  // left hip, knee, ankle, right hip, knee, ankle, spine, thorax, neck/nose, head top, left
  // shoulder, elbow, wrist, right shoulder, elbow, wrist.
  std::vector<std::vector<double>> h36m = {
      extra[4], extra[1], smpl_joint_row(4), smpl_joint_row(7), extra[0], smpl_joint_row(5), smpl_joint_row(8),
      extra[6], extra[5], extra[7], extra[3], smpl_joint_row(16), smpl_joint_row(18), smpl_joint_row(20),
      smpl_joint_row(17), smpl_joint_row(19), smpl_joint_row(21)};
  auto stack_rows = [&](const std::vector<std::vector<double>>& rows) {
    std::vector<double> flat;
    for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
    return to_tensor(flat, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(V)});
  };

  // 5. Arrays.
  BodyModelData d;
  std::vector<double> vt, wt;
  for (const Vec3& v : verts) vt.insert(vt.end(), v.begin(), v.end());
  for (const auto& row : w) wt.insert(wt.end(), row.begin(), row.end());
  std::vector<int64_t> faces;
  for (const auto& f : mesh.faces) faces.insert(faces.end(), f.begin(), f.end());
  const auto Vn = static_cast<int64_t>(V);
  d.v_template = to_tensor(vt, {Vn, 3});
  d.shapedirs = to_tensor(shapedirs, {Vn, 3, kBetas});
  d.posedirs = to_tensor(posedirs, {Vn, 3, static_cast<int64_t>(P)});
  d.J_regressor = to_tensor(jreg, {J, Vn});
  d.weights = to_tensor(wt, {Vn, J});
  d.parents = Tensor::from_vector(std::vector<int64_t>(kSmplParents, kSmplParents + J), {J});
  d.faces = Tensor::from_vector(faces, {static_cast<int64_t>(mesh.faces.size()), 3});
  d.part_labels = Tensor::from_vector(part, {Vn});
  d.J_regressor_extra = stack_rows(extra);
  d.J_regressor_h36m = stack_rows(h36m);
  d.vertex_joint_ids = Tensor::from_vector(vertex_ids, {static_cast<int64_t>(vertex_ids.size())});

  // Mean parameters: SPIN's regressors start from a person upright in the image (root turned
  // by pi about x, as image y points down), arms lowered ~60 degrees, elbows and knees a little bent.
  std::vector<double> aa(J * 3, 0.0);
  aa[0] = M_PI;
  aa[16 * 3 + 2] = -1.1, aa[17 * 3 + 2] = 1.1;   // shoulders about z
  aa[18 * 3 + 1] = -0.25, aa[19 * 3 + 1] = 0.25;  // elbows about y
  aa[4 * 3 + 0] = 0.2, aa[5 * 3 + 0] = 0.2;       // knees about x
  aa[1 * 3 + 0] = -0.1, aa[2 * 3 + 0] = -0.1;     // hips
  const Tensor rot6d = geometry::matrix_to_rot6d(geometry::axis_angle_to_matrix(to_tensor(aa, {J, 3})));
  d.mean_pose = rot6d.reshape({J * 6}).contiguous();
  d.mean_shape = to_tensor(std::vector<double>(kBetas, 0.0), {kBetas});
  d.mean_cam = to_tensor({0.9, 0.0, 0.0}, {3});
  d.kind = "generated";
  d.path = "";
  return d;
}

BodyModelData resolve_body_model(const std::string& spec) {
  if (spec.empty() || spec == "generated" || spec == "generated:full") return default_body_model(BodySize::Full);
  if (spec == "generated:small") return default_body_model(BodySize::Small);
  return load_body_model(spec);
}

const BodyModelData& default_body_model(BodySize size) {
  static std::once_flag once[2];
  static BodyModelData models[2];
  const int i = size == BodySize::Full ? 0 : 1;
  std::call_once(once[i], [&] { models[i] = generate_body_model(size); });
  return models[i];
}

}  // namespace hmr::body
