// OBJ and PLY writers and the OBJ reader. Text is formatted with %.9g (f32) or %.17g (f64), the
// shortest precisions that read back to the same value.
#include "io/mesh.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <vector>

#include "io/file.h"

namespace hmr::io {

namespace {

struct MeshArrays {
  std::vector<double> vertices;
  std::vector<int64_t> faces;
  std::vector<double> colors;  // empty when none; scaled to [0, 255] when they were u8
  bool f64 = false;
};

MeshArrays checked_arrays(const char* op, const std::string& path, const Tensor& vertices, const Tensor& faces,
                          const Tensor& colors) {
  HMR_CHECK(vertices.defined() && (vertices.dtype() == DType::F32 || vertices.dtype() == DType::F64), DTypeError, op,
            ": ", path, ": expected vertices of dtype f32 or f64 but found ",
            vertices.defined() ? str(vertices.dtype()) : "undefined");
  HMR_CHECK(vertices.dim() == 2 && vertices.size(1) == 3, ShapeError, op, ": ", path,
            ": expected vertices of shape (V, 3) but found ", vertices.sizes());
  HMR_CHECK(faces.defined() && !faces.is_floating_point() && faces.dtype() != DType::Bool, DTypeError, op, ": ",
            path, ": expected integer faces but found ", faces.defined() ? str(faces.dtype()) : "undefined");
  HMR_CHECK(faces.dim() == 2 && faces.size(1) == 3, ShapeError, op, ": ", path,
            ": expected faces of shape (F, 3) but found ", faces.sizes());
  MeshArrays a{vertices.to_vector<double>(), faces.to_vector<int64_t>(), {}, vertices.dtype() == DType::F64};
  const int64_t V = vertices.size(0);
  for (int64_t i : a.faces)
    HMR_CHECK(i >= 0 && i < V, IndexError, op, ": ", path, ": face index ", i, " out of range for ", V,
              " vertices");
  if (colors.defined()) {
    HMR_CHECK(colors.sizes() == Shape({V, 3}), ShapeError, op, ": ", path, ": expected colors of shape ",
              Shape{V, 3}, " but found ", colors.sizes());
    a.colors = colors.to_vector<double>();
    if (colors.dtype() == DType::U8)
      for (double& c : a.colors) c /= 255.0;
  }
  return a;
}

void append(std::string& out, const char* format, double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, format, x);
  out += buf;
}

template <class T>
void append_le(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));  // the hosts we build for are little-endian
  out.append(bytes, sizeof(T));
}

uint8_t color_byte(double c) { return static_cast<uint8_t>(std::lround(std::fmin(std::fmax(c, 0.0), 1.0) * 255.0)); }

}  // namespace

void save_obj(const std::string& path, const Tensor& vertices, const Tensor& faces, const Tensor& colors) {
  const MeshArrays a = checked_arrays("save_obj", path, vertices, faces, colors);
  const char* format = a.f64 ? " %.17g" : " %.9g";
  std::string out = "# written by hmr.cpp\n";
  for (size_t v = 0; v < a.vertices.size() / 3; ++v) {
    out += "v";
    for (int k = 0; k < 3; ++k) append(out, format, a.vertices[3 * v + k]);
    for (int k = 0; !a.colors.empty() && k < 3; ++k) append(out, " %.6g", a.colors[3 * v + k]);
    out += "\n";
  }
  for (size_t f = 0; f < a.faces.size(); f += 3)
    out += "f " + std::to_string(a.faces[f] + 1) + " " + std::to_string(a.faces[f + 1] + 1) + " " +
           std::to_string(a.faces[f + 2] + 1) + "\n";
  write_file_atomic(path, out);
}

void save_ply(const std::string& path, const Tensor& vertices, const Tensor& faces, const Tensor& colors) {
  const MeshArrays a = checked_arrays("save_ply", path, vertices, faces, colors);
  const size_t V = a.vertices.size() / 3, F = a.faces.size() / 3;
  const char* scalar = a.f64 ? "double" : "float";
  std::string out = "ply\nformat binary_little_endian 1.0\ncomment written by hmr.cpp\n";
  out += "element vertex " + std::to_string(V) + "\n";
  for (const char* axis : {"x", "y", "z"}) out += std::string("property ") + scalar + " " + axis + "\n";
  if (!a.colors.empty()) out += "property uchar red\nproperty uchar green\nproperty uchar blue\n";
  out += "element face " + std::to_string(F) + "\nproperty list uchar int vertex_indices\nend_header\n";
  for (size_t v = 0; v < V; ++v) {
    for (int k = 0; k < 3; ++k) {
      if (a.f64) append_le(out, a.vertices[3 * v + k]);
      else append_le(out, static_cast<float>(a.vertices[3 * v + k]));
    }
    for (int k = 0; !a.colors.empty() && k < 3; ++k) append_le(out, color_byte(a.colors[3 * v + k]));
  }
  for (size_t f = 0; f < F; ++f) {
    append_le(out, uint8_t{3});
    for (int k = 0; k < 3; ++k) {
      HMR_CHECK(a.faces[3 * f + k] <= INT32_MAX, ValueError, "save_ply: ", path, ": face index ", a.faces[3 * f + k],
                " does not fit PLY's int");
      append_le(out, static_cast<int32_t>(a.faces[3 * f + k]));
    }
  }
  write_file_atomic(path, out);
}

Mesh parse_obj(const std::string& text, const std::string& label, DType dtype) {
  HMR_CHECK(dtype == DType::F32 || dtype == DType::F64, DTypeError, "load_obj: ", label,
            ": expected dtype f32 or f64 but found ", dtype);
  std::vector<double> vertices;
  std::vector<int64_t> faces;
  std::istringstream lines(text);
  std::string line;
  for (int64_t number = 1; std::getline(lines, line); ++number) {
    std::istringstream in(line);
    std::string tag;
    if (!(in >> tag)) continue;
    if (tag == "v") {
      double xyz[3];
      for (double& c : xyz) {
        std::string word;
        char* end = nullptr;
        HMR_CHECK(static_cast<bool>(in >> word), IOError, "load_obj: ", label, ":", number,
                  ": a vertex needs three coordinates: '", line, "'");
        errno = 0;
        c = std::strtod(word.c_str(), &end);
        HMR_CHECK(*end == '\0' && errno == 0 && std::isfinite(c), IOError, "load_obj: ", label, ":", number,
                  ": bad coordinate '", word, "'");
      }
      vertices.insert(vertices.end(), xyz, xyz + 3);
    } else if (tag == "f") {
      std::vector<int64_t> polygon;
      std::string word;
      const int64_t count = static_cast<int64_t>(vertices.size() / 3);
      while (in >> word) {
        char* end = nullptr;
        errno = 0;
        const long long ref = std::strtoll(word.c_str(), &end, 10);
        HMR_CHECK(end != word.c_str() && (*end == '\0' || *end == '/') && errno == 0 && ref != 0, IOError,
                  "load_obj: ", label, ":", number, ": bad vertex reference '", word, "'");
        const int64_t index = ref > 0 ? ref - 1 : count + ref;
        HMR_CHECK(index >= 0 && index < count, IOError, "load_obj: ", label, ":", number, ": vertex reference ",
                  ref, " out of range for the ", count, " vertices read so far");
        polygon.push_back(index);
      }
      HMR_CHECK(polygon.size() >= 3, IOError, "load_obj: ", label, ":", number, ": a face needs 3 or more vertices: '",
                line, "'");
      for (size_t k = 1; k + 1 < polygon.size(); ++k) faces.insert(faces.end(), {polygon[0], polygon[k], polygon[k + 1]});
    }
  }
  const int64_t V = static_cast<int64_t>(vertices.size() / 3), F = static_cast<int64_t>(faces.size() / 3);
  Tensor v = Tensor::from_vector(vertices, {V, 3});
  if (dtype == DType::F32) {
    std::vector<float> narrow(vertices.begin(), vertices.end());
    v = Tensor::from_vector(narrow, {V, 3});
  }
  return {v, Tensor::from_vector(faces, {F, 3})};
}

Mesh load_obj(const std::string& path, DType dtype) { return parse_obj(read_file(path), path, dtype); }

}  // namespace hmr::io
