// The UV sphere and the cube of primitives.h.
#include "hmr/render/primitives.h"

#include <cmath>
#include <vector>

namespace hmr::render {

TriangleMesh uv_sphere(int64_t rings, int64_t segments, double radius) {
  HMR_CHECK(rings >= 1 && segments >= 3, ValueError, "uv_sphere: expected rings >= 1 and segments >= 3 but found ",
            rings, " and ", segments);
  const double pi = std::acos(-1.0);
  std::vector<double> v = {0, -radius, 0};  // vertex 0: the pole at -y
  for (int64_t r = 0; r < rings; ++r) {
    const double theta = pi * double(r + 1) / double(rings + 1);  // from -y towards +y
    for (int64_t s = 0; s < segments; ++s) {
      const double phi = 2 * pi * double(s) / double(segments);
      v.insert(v.end(), {radius * std::sin(theta) * std::cos(phi), -radius * std::cos(theta),
                         radius * std::sin(theta) * std::sin(phi)});
    }
  }
  v.insert(v.end(), {0, radius, 0});
  const int64_t top = rings * segments + 1;
  auto at = [&](int64_t r, int64_t s) { return 1 + r * segments + (s % segments); };
  std::vector<int64_t> f;
  for (int64_t s = 0; s < segments; ++s) f.insert(f.end(), {0, at(0, s), at(0, s + 1)});
  for (int64_t r = 0; r + 1 < rings; ++r)
    for (int64_t s = 0; s < segments; ++s)
      f.insert(f.end(), {at(r, s), at(r + 1, s), at(r + 1, s + 1), at(r, s), at(r + 1, s + 1), at(r, s + 1)});
  for (int64_t s = 0; s < segments; ++s) f.insert(f.end(), {top, at(rings - 1, s + 1), at(rings - 1, s)});
  const int64_t V = static_cast<int64_t>(v.size() / 3), F = static_cast<int64_t>(f.size() / 3);
  return {Tensor::from_vector(v, {V, 3}), Tensor::from_vector(f, {F, 3})};
}

TriangleMesh cube(double h) {
  // Vertex i has x = bit 0, y = bit 1, z = bit 2 (0 -> -h, 1 -> +h).
  std::vector<double> v;
  for (int i = 0; i < 8; ++i) v.insert(v.end(), {i & 1 ? h : -h, i & 2 ? h : -h, i & 4 ? h : -h});
  const std::vector<int64_t> f = {0, 2, 3, 0, 3, 1,   // -z
                                  4, 5, 7, 4, 7, 6,   // +z
                                  0, 4, 6, 0, 6, 2,   // -x
                                  1, 3, 7, 1, 7, 5,   // +x
                                  0, 1, 5, 0, 5, 4,   // -y
                                  2, 6, 7, 2, 7, 3};  // +y
  return {Tensor::from_vector(v, {8, 3}), Tensor::from_vector(f, {12, 3})};
}

}  // namespace hmr::render
