// Closed triangle meshes from implicit surfaces: marching tetrahedra over a signed-distance
// grid, edge-collapse decimation to an exact vertex count, and tangential relaxation. The
// generated body model (generate.h) is built with these; they are plain host code in f64.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

namespace hmr::body {

using Vec3 = std::array<double, 3>;

struct TriMesh {
  std::vector<Vec3> vertices;
  std::vector<std::array<int32_t, 3>> faces;  // counter-clockwise seen from outside
};

// A signed distance (negative inside) or any function with the same sign and a usable gradient.
using ImplicitFn = std::function<double(const Vec3&)>;

// Marching tetrahedra (each grid cube split into the 6 tetrahedra of Freudenthal's
// triangulation, which neighbouring cubes share faces with) over the box [lo, hi] sampled
// every `step`. The result is watertight and manifold wherever the zero set does not touch the
// box; vertices on shared grid edges are welded. Faces face the positive side.
TriMesh marching_tetrahedra(const ImplicitFn& f, const Vec3& lo, const Vec3& hi, double step);

// Euler characteristic V - E + F and the number of connected components; a closed genus-0
// surface has (2, 1). Also checks every edge has exactly two faces (false when not).
struct Topology {
  int64_t euler = 0;
  int64_t components = 0;
  bool closed_manifold = false;
};
Topology mesh_topology(const TriMesh& mesh);

// Collapses edges until exactly target_vertices remain, preserving topology (the link
// condition) and orientation (no face may flip or become a sliver). Edges are taken shortest
// first with a quadric-error term, so the result is close to uniform; merged vertices go to
// the quadric-optimal point (falling back to the better endpoint or the midpoint). ValueError
// when no valid collapse is left before the target is reached.
TriMesh decimate(const TriMesh& mesh, int64_t target_vertices, double quadric_weight = 20.0);

// Moves each vertex toward the mean of its neighbours within its tangent plane (`iterations`
// times, by `rate`), then back onto the zero set of f with Newton steps along f's numerical
// gradient. Evens out triangle sizes without changing the shape or the connectivity.
void relax(TriMesh& mesh, const ImplicitFn& f, int iterations, double rate = 0.5);

// Per-vertex unit normals (area-weighted face normals).
std::vector<Vec3> vertex_normals(const TriMesh& mesh);

}  // namespace hmr::body
