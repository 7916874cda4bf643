// Analytic meshes for tests, benchmarks and demos of the renderer: a UV sphere and a cube, with
// outward (counter-clockwise seen from outside) triangles.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace hmr::render {

struct TriangleMesh {
  Tensor vertices;  // (V, 3) f64
  Tensor faces;     // (F, 3) I64
};

// A sphere of the given radius around the origin: rings circles of latitude (excluding the
// poles) of segments vertices each, plus the two poles: rings * segments + 2 vertices and
// 2 * rings * segments triangles. 82 rings of 84 make SMPL's 6890 vertices.
TriangleMesh uv_sphere(int64_t rings, int64_t segments, double radius = 1.0);

// The cube [-h, h]^3: 8 vertices, 12 triangles, two per side in the order -z, +z, -x, +x, -y, +y
// (so faces 0 and 1 are the side facing a camera on the -z side).
TriangleMesh cube(double half_size = 1.0);

}  // namespace hmr::render
