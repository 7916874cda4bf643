// Marching tetrahedra, topology checks, edge-collapse decimation and relaxation (surface.h).
#include "hmr/body/surface.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <queue>
#include <unordered_map>

#include "tensor/error.h"

namespace hmr::body {
namespace {

Vec3 sub(const Vec3& a, const Vec3& b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }
Vec3 add(const Vec3& a, const Vec3& b) { return {a[0] + b[0], a[1] + b[1], a[2] + b[2]}; }
Vec3 scale(const Vec3& a, double s) { return {a[0] * s, a[1] * s, a[2] * s}; }
double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
double norm(const Vec3& a) { return std::sqrt(dot(a, a)); }

uint64_t edge_key(int64_t a, int64_t b) {
  if (a > b) std::swap(a, b);
  return (static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(b);
}

// 2 * area * unit normal of a triangle.
Vec3 face_cross(const Vec3& a, const Vec3& b, const Vec3& c) { return cross(sub(b, a), sub(c, a)); }

// Shape quality in [0, 1]: 4 sqrt(3) area / (sum of squared edge lengths); 1 for equilateral.
double quality(const Vec3& a, const Vec3& b, const Vec3& c) {
  const double l = dot(sub(b, a), sub(b, a)) + dot(sub(c, b), sub(c, b)) + dot(sub(a, c), sub(a, c));
  if (l <= 0) return 0;
  return 2.0 * std::sqrt(3.0) * norm(face_cross(a, b, c)) / l;
}

}  // namespace

TriMesh marching_tetrahedra(const ImplicitFn& f, const Vec3& lo, const Vec3& hi, double step) {
  HMR_CHECK(step > 0, ValueError, "marching_tetrahedra: step must be positive, got ", step);
  int64_t n[3];
  for (int a = 0; a < 3; ++a) {
    HMR_CHECK(hi[a] > lo[a], ValueError, "marching_tetrahedra: empty box on axis ", a);
    n[a] = static_cast<int64_t>(std::ceil((hi[a] - lo[a]) / step)) + 1;
  }
  const int64_t total = n[0] * n[1] * n[2];
  HMR_CHECK(total < (int64_t{1} << 31), ValueError, "marching_tetrahedra: grid of ", total,
            " points is too large");
  auto index = [&](int64_t i, int64_t j, int64_t k) { return (i * n[1] + j) * n[2] + k; };
  auto point = [&](int64_t id) -> Vec3 {
    const int64_t k = id % n[2], j = (id / n[2]) % n[1], i = id / (n[1] * n[2]);
    return {lo[0] + i * step, lo[1] + j * step, lo[2] + k * step};
  };
  std::vector<double> value(static_cast<size_t>(total));
  for (int64_t id = 0; id < total; ++id) {
    double v = f(point(id));
    // A grid value of exactly zero would put a surface vertex on a grid point shared by many
    // edges; nudging it to the positive side keeps the zero set a manifold.
    if (std::fabs(v) < 1e-12) v = 1e-12;
    value[static_cast<size_t>(id)] = v;
  }

  TriMesh mesh;
  std::unordered_map<uint64_t, int32_t> edge_vertex;
  auto vertex_on = [&](int64_t a, int64_t b) {
    const uint64_t key = edge_key(a, b);
    auto it = edge_vertex.find(key);
    if (it != edge_vertex.end()) return it->second;
    const double va = value[static_cast<size_t>(a)], vb = value[static_cast<size_t>(b)];
    const double t = va / (va - vb);
    const Vec3 pa = point(a), pb = point(b);
    const int32_t id = static_cast<int32_t>(mesh.vertices.size());
    mesh.vertices.push_back(add(pa, scale(sub(pb, pa), t)));
    edge_vertex.emplace(key, id);
    return id;
  };
  auto midpoint = [&](int64_t a, int64_t b) { return scale(add(point(a), point(b)), 0.5); };
  // Emits a triangle over grid edges e[0..2] oriented so its normal points along `out`. The
  // orientation is decided on edge midpoints (never degenerate), not on interpolated points.
  auto emit = [&](const std::array<std::array<int64_t, 2>, 3>& e, const Vec3& out) {
    const Vec3 m0 = midpoint(e[0][0], e[0][1]), m1 = midpoint(e[1][0], e[1][1]),
               m2 = midpoint(e[2][0], e[2][1]);
    std::array<int32_t, 3> tri = {vertex_on(e[0][0], e[0][1]), vertex_on(e[1][0], e[1][1]),
                                  vertex_on(e[2][0], e[2][1])};
    if (dot(face_cross(m0, m1, m2), out) < 0) std::swap(tri[1], tri[2]);
    mesh.faces.push_back(tri);
  };

  static const int kPerm[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  for (int64_t i = 0; i + 1 < n[0]; ++i)
    for (int64_t j = 0; j + 1 < n[1]; ++j)
      for (int64_t k = 0; k + 1 < n[2]; ++k) {
        bool any_in = false, any_out = false;
        for (int c = 0; c < 8; ++c) {
          const double v = value[static_cast<size_t>(index(i + (c >> 2), j + ((c >> 1) & 1), k + (c & 1)))];
          (v < 0 ? any_in : any_out) = true;
        }
        if (!any_in || !any_out) continue;
        for (const auto& perm : kPerm) {
          int64_t c[3] = {i, j, k};
          int64_t t[4];
          t[0] = index(c[0], c[1], c[2]);
          for (int s = 0; s < 3; ++s) {
            ++c[perm[s]];
            t[s + 1] = index(c[0], c[1], c[2]);
          }
          int64_t in[4], out[4];
          int ni = 0, no = 0;
          for (int64_t id : t) (value[static_cast<size_t>(id)] < 0 ? in[ni++] : out[no++]) = id;
          if (ni == 0 || no == 0) continue;
          if (ni == 1) {
            emit({{{in[0], out[0]}, {in[0], out[1]}, {in[0], out[2]}}}, sub(midpoint(in[0], out[0]), point(in[0])));
          } else if (ni == 3) {
            emit({{{out[0], in[0]}, {out[0], in[1]}, {out[0], in[2]}}}, sub(point(out[0]), midpoint(out[0], in[0])));
          } else {
            // Quad over edges (a,c), (a,d), (b,d), (b,c): consecutive ones share a corner.
            const int64_t a = in[0], b = in[1], cc = out[0], d = out[1];
            const Vec3 dir = sub(add(point(cc), point(d)), add(point(a), point(b)));
            emit({{{a, cc}, {a, d}, {b, d}}}, dir);
            emit({{{a, cc}, {b, d}, {b, cc}}}, dir);
          }
        }
      }
  return mesh;
}

Topology mesh_topology(const TriMesh& mesh) {
  // Directed edges, sorted: a closed, consistently oriented manifold has each directed edge
  // once and its reverse once, so every undirected edge is counted exactly twice.
  std::vector<uint64_t> directed;
  directed.reserve(mesh.faces.size() * 3);
  for (const auto& f : mesh.faces)
    for (int e = 0; e < 3; ++e)
      directed.push_back((static_cast<uint64_t>(f[e]) << 32) | static_cast<uint64_t>(f[(e + 1) % 3]));
  std::sort(directed.begin(), directed.end());
  bool ok = std::adjacent_find(directed.begin(), directed.end()) == directed.end();
  std::vector<uint64_t> undirected;
  undirected.reserve(directed.size());
  for (uint64_t d : directed) undirected.push_back(edge_key(static_cast<int64_t>(d >> 32), static_cast<int64_t>(d & 0xffffffffu)));
  std::sort(undirected.begin(), undirected.end());
  int64_t edges = 0;
  for (size_t i = 0; i < undirected.size();) {
    size_t j = i;
    while (j < undirected.size() && undirected[j] == undirected[i]) ++j;
    if (j - i != 2) ok = false;
    ++edges;
    i = j;
  }
  // Components by union-find over face edges.
  std::vector<int64_t> parent(mesh.vertices.size());
  std::iota(parent.begin(), parent.end(), 0);
  auto root = [&](int64_t x) {
    while (parent[static_cast<size_t>(x)] != x)
      x = parent[static_cast<size_t>(x)] = parent[static_cast<size_t>(parent[static_cast<size_t>(x)])];
    return x;
  };
  std::vector<bool> used(mesh.vertices.size(), false);
  for (const auto& f : mesh.faces)
    for (int e = 0; e < 3; ++e) {
      used[static_cast<size_t>(f[e])] = true;
      const int64_t a = root(f[e]), b = root(f[(e + 1) % 3]);
      if (a != b) parent[static_cast<size_t>(a)] = b;
    }
  Topology t;
  for (size_t v = 0; v < mesh.vertices.size(); ++v) {
    if (!used[v]) ok = false;  // an isolated vertex is not part of a closed surface
    else if (root(static_cast<int64_t>(v)) == static_cast<int64_t>(v)) ++t.components;
  }
  t.euler = static_cast<int64_t>(mesh.vertices.size()) - edges + static_cast<int64_t>(mesh.faces.size());
  t.closed_manifold = ok;
  return t;
}

namespace {

// A symmetric 4x4 quadric (Garland-Heckbert) as its 10 distinct entries.
struct Quadric {
  double a[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};  // xx xy xz xw yy yz yw zz zw ww
  void add_plane(const Vec3& n, double d, double w) {
    const double p[4] = {n[0], n[1], n[2], d};
    int k = 0;
    for (int i = 0; i < 4; ++i)
      for (int j = i; j < 4; ++j) a[k++] += w * p[i] * p[j];
  }
  Quadric& operator+=(const Quadric& o) {
    for (int i = 0; i < 10; ++i) a[i] += o.a[i];
    return *this;
  }
  double error(const Vec3& x) const {
    return a[0] * x[0] * x[0] + 2 * a[1] * x[0] * x[1] + 2 * a[2] * x[0] * x[2] + 2 * a[3] * x[0] +
           a[4] * x[1] * x[1] + 2 * a[5] * x[1] * x[2] + 2 * a[6] * x[1] + a[7] * x[2] * x[2] +
           2 * a[8] * x[2] + a[9];
  }
  // The minimiser, when the 3x3 part is well conditioned.
  bool optimum(Vec3& x) const {
    const double m00 = a[0], m01 = a[1], m02 = a[2], m11 = a[4], m12 = a[5], m22 = a[7];
    const double c00 = m11 * m22 - m12 * m12, c01 = m02 * m12 - m01 * m22, c02 = m01 * m12 - m02 * m11;
    const double det = m00 * c00 + m01 * c01 + m02 * c02;
    const double scale_ = m00 * m00 + m11 * m11 + m22 * m22;
    if (!(std::fabs(det) > 1e-9 * scale_ * std::sqrt(scale_))) return false;
    const double c11 = m00 * m22 - m02 * m02, c12 = m01 * m02 - m00 * m12, c22 = m00 * m11 - m01 * m01;
    const double b0 = -a[3], b1 = -a[6], b2 = -a[8];
    x = {(c00 * b0 + c01 * b1 + c02 * b2) / det, (c01 * b0 + c11 * b1 + c12 * b2) / det,
         (c02 * b0 + c12 * b1 + c22 * b2) / det};
    return true;
  }
};

struct Candidate {
  double cost;
  int32_t u, v;
  uint32_t ver_u, ver_v;
  Vec3 target;
  bool operator<(const Candidate& o) const {  // min-heap on cost, ties by vertex ids
    if (cost != o.cost) return cost > o.cost;
    if (u != o.u) return u > o.u;
    return v > o.v;
  }
};

}  // namespace

TriMesh decimate(const TriMesh& mesh, int64_t target_vertices, double quadric_weight) {
  const int64_t nv = static_cast<int64_t>(mesh.vertices.size());
  HMR_CHECK(target_vertices >= 4 && target_vertices <= nv, ValueError, "decimate: target of ",
            target_vertices, " vertices must lie in [4, ", nv, "]");
  std::vector<Vec3> pos = mesh.vertices;
  std::vector<std::array<int32_t, 3>> faces = mesh.faces;
  std::vector<bool> face_alive(faces.size(), true), vert_alive(static_cast<size_t>(nv), true);
  std::vector<std::vector<int32_t>> vf(static_cast<size_t>(nv));
  for (size_t fi = 0; fi < faces.size(); ++fi)
    for (int32_t v : faces[fi]) vf[static_cast<size_t>(v)].push_back(static_cast<int32_t>(fi));

  // Area-weighted plane quadrics, normalised by the mean face area so the error is a squared
  // distance summed over about a vertex's worth of faces.
  double mean_area = 0;
  for (const auto& f : faces) mean_area += 0.5 * norm(face_cross(pos[f[0]], pos[f[1]], pos[f[2]]));
  mean_area = std::max(mean_area / std::max<size_t>(faces.size(), 1), 1e-300);
  std::vector<Quadric> q(static_cast<size_t>(nv));
  for (const auto& f : faces) {
    const Vec3 c = face_cross(pos[f[0]], pos[f[1]], pos[f[2]]);
    const double len = norm(c);
    if (len <= 0) continue;
    const Vec3 nrm = scale(c, 1.0 / len);
    Quadric fq;
    fq.add_plane(nrm, -dot(nrm, pos[f[0]]), 0.5 * len / mean_area);
    for (int32_t v : f) q[static_cast<size_t>(v)] += fq;
  }
  std::vector<uint32_t> version(static_cast<size_t>(nv), 0);

  auto neighbours = [&](int32_t v) {
    std::vector<int32_t> out;
    for (int32_t fi : vf[static_cast<size_t>(v)])
      for (int32_t w : faces[static_cast<size_t>(fi)])
        if (w != v) out.push_back(w);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  };
  auto candidate = [&](int32_t u, int32_t v) {
    Quadric s = q[static_cast<size_t>(u)];
    s += q[static_cast<size_t>(v)];
    const Vec3 pu = pos[static_cast<size_t>(u)], pv = pos[static_cast<size_t>(v)];
    const Vec3 mid = scale(add(pu, pv), 0.5);
    const double len2 = dot(sub(pu, pv), sub(pu, pv));
    Vec3 best = mid;
    double err = s.error(mid);
    Vec3 opt;
    if (s.optimum(opt) && dot(sub(opt, mid), sub(opt, mid)) <= len2) {
      best = opt;
      err = s.error(opt);
    } else {
      for (const Vec3& p : {pu, pv})
        if (const double e = s.error(p); e < err) { err = e; best = p; }
    }
    return Candidate{len2 + quadric_weight * std::max(err, 0.0), u, v, version[static_cast<size_t>(u)],
                     version[static_cast<size_t>(v)], best};
  };

  std::priority_queue<Candidate> heap;
  for (const auto& f : faces)
    for (int e = 0; e < 3; ++e)
      // Each edge lies in two faces, once in each direction: push it from one of them.
      if (f[e] < f[(e + 1) % 3]) heap.push(candidate(f[e], f[(e + 1) % 3]));

  int64_t alive = nv;
  int64_t rejected[3] = {0, 0, 0};
  while (alive > target_vertices) {
    HMR_CHECK(!heap.empty(), ValueError, "decimate: no valid collapse left at ", alive,
              " vertices (target ", target_vertices, "; rejected: link ", rejected[0], ", degree ",
              rejected[1], ", flip ", rejected[2], ")");
    const Candidate c = heap.top();
    heap.pop();
    const auto u = static_cast<size_t>(c.u), v = static_cast<size_t>(c.v);
    if (!vert_alive[u] || !vert_alive[v] || version[u] != c.ver_u || version[v] != c.ver_v) continue;
    // Link condition: the common neighbours are exactly the two apexes of the edge's faces.
    const std::vector<int32_t> nu = neighbours(c.u), nvv = neighbours(c.v);
    std::vector<int32_t> common;
    std::set_intersection(nu.begin(), nu.end(), nvv.begin(), nvv.end(), std::back_inserter(common));
    if (common.size() != 2) { ++rejected[0]; continue; }
    bool ok = true;
    for (int32_t w : common)
      if (neighbours(w).size() <= 3) ok = false;  // it would be left with two faces back to back
    if (!ok) { ++rejected[1]; continue; }
    // No face around u or v may flip or collapse into a sliver. When the quadric's point
    // fails, the midpoint and the endpoints are tried before giving the edge up.
    auto placement_ok = [&](const Vec3& target) {
      for (size_t side = 0; side < 2; ++side) {
        const size_t moving = side == 0 ? u : v;
        for (int32_t fi : vf[moving]) {
          const auto& f = faces[static_cast<size_t>(fi)];
          if ((f[0] == c.u || f[1] == c.u || f[2] == c.u) && (f[0] == c.v || f[1] == c.v || f[2] == c.v)) continue;
          Vec3 p[3], np[3];
          for (int k = 0; k < 3; ++k) {
            p[k] = pos[static_cast<size_t>(f[k])];
            np[k] = static_cast<size_t>(f[k]) == moving ? target : p[k];
          }
          const Vec3 before = face_cross(p[0], p[1], p[2]), after = face_cross(np[0], np[1], np[2]);
          const double nb = norm(before), na = norm(after);
          const double q_before = quality(p[0], p[1], p[2]), q_after = quality(np[0], np[1], np[2]);
          if (na <= 0 || (nb > 0 && dot(before, after) < 0.2 * nb * na) ||
              (q_after < 0.05 && q_after < q_before))
            return false;
        }
      }
      return true;
    };
    Vec3 target = c.target;
    ok = false;
    for (const Vec3& t : {c.target, scale(add(pos[u], pos[v]), 0.5), pos[u], pos[v]})
      if (placement_ok(t)) {
        target = t;
        ok = true;
        break;
      }
    if (!ok) { ++rejected[2]; continue; }
    // Collapse v into u at the target.
    for (int32_t fi : vf[v]) {
      auto& f = faces[static_cast<size_t>(fi)];
      const bool has_u = f[0] == c.u || f[1] == c.u || f[2] == c.u;
      if (has_u) {
        face_alive[static_cast<size_t>(fi)] = false;
        for (int32_t w : f) {
          if (static_cast<size_t>(w) == v) continue;
          auto& list = vf[static_cast<size_t>(w)];
          list.erase(std::remove(list.begin(), list.end(), fi), list.end());
        }
      } else {
        for (auto& w : f)
          if (w == c.v) w = c.u;
        vf[u].push_back(fi);
      }
    }
    vf[v].clear();
    vert_alive[v] = false;
    --alive;
    pos[u] = target;
    q[u] += q[v];
    ++version[u];
    for (int32_t w : neighbours(c.u)) heap.push(candidate(std::min(c.u, w), std::max(c.u, w)));
  }

  TriMesh out;
  std::vector<int32_t> remap(static_cast<size_t>(nv), -1);
  for (size_t i = 0; i < static_cast<size_t>(nv); ++i)
    if (vert_alive[i]) {
      remap[i] = static_cast<int32_t>(out.vertices.size());
      out.vertices.push_back(pos[i]);
    }
  for (size_t fi = 0; fi < faces.size(); ++fi)
    if (face_alive[fi])
      out.faces.push_back({remap[static_cast<size_t>(faces[fi][0])], remap[static_cast<size_t>(faces[fi][1])],
                           remap[static_cast<size_t>(faces[fi][2])]});
  return out;
}

std::vector<Vec3> vertex_normals(const TriMesh& mesh) {
  std::vector<Vec3> n(mesh.vertices.size(), Vec3{0, 0, 0});
  for (const auto& f : mesh.faces) {
    const Vec3 c = face_cross(mesh.vertices[f[0]], mesh.vertices[f[1]], mesh.vertices[f[2]]);
    for (int32_t v : f) n[static_cast<size_t>(v)] = add(n[static_cast<size_t>(v)], c);
  }
  for (auto& x : n) {
    const double l = norm(x);
    if (l > 0) x = scale(x, 1.0 / l);
  }
  return n;
}

void relax(TriMesh& mesh, const ImplicitFn& f, int iterations, double rate) {
  const size_t nv = mesh.vertices.size();
  std::vector<std::vector<int32_t>> adj(nv);
  for (const auto& t : mesh.faces)
    for (int e = 0; e < 3; ++e) {
      adj[static_cast<size_t>(t[e])].push_back(t[(e + 1) % 3]);
      adj[static_cast<size_t>(t[(e + 1) % 3])].push_back(t[e]);
    }
  for (auto& a : adj) {
    std::sort(a.begin(), a.end());
    a.erase(std::unique(a.begin(), a.end()), a.end());
  }
  auto gradient = [&](const Vec3& p) {
    const double h = 1e-5;
    Vec3 g;
    for (int a = 0; a < 3; ++a) {
      Vec3 hi = p, lo = p;
      hi[static_cast<size_t>(a)] += h;
      lo[static_cast<size_t>(a)] -= h;
      g[static_cast<size_t>(a)] = (f(hi) - f(lo)) / (2 * h);
    }
    return g;
  };
  for (int it = 0; it < iterations; ++it) {
    const std::vector<Vec3> normals = vertex_normals(mesh);
    std::vector<Vec3> next(nv);
    for (size_t v = 0; v < nv; ++v) {
      Vec3 c{0, 0, 0};
      for (int32_t w : adj[v]) c = add(c, mesh.vertices[static_cast<size_t>(w)]);
      Vec3 d = sub(scale(c, 1.0 / std::max<size_t>(adj[v].size(), 1)), mesh.vertices[v]);
      d = sub(d, scale(normals[v], dot(d, normals[v])));
      Vec3 p = add(mesh.vertices[v], scale(d, rate));
      for (int newton = 0; newton < 3; ++newton) {
        const Vec3 g = gradient(p);
        const double g2 = dot(g, g);
        if (g2 < 1e-12) break;
        p = sub(p, scale(g, f(p) / g2));
      }
      next[v] = p;
    }
    mesh.vertices = std::move(next);
  }
}

}  // namespace hmr::body
