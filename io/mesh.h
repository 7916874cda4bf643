// Triangle meshes to and from files: Wavefront OBJ (text, optional per-vertex colours as the
// common "v x y z r g b" extension) and binary little-endian PLY (optional uchar colours), for
// looking at results in MeshLab/Blender; load_obj reads OBJ back (v and f only). Writes are atomic.
#pragma once

#include <string>

#include "tensor/tensor.h"

namespace hmr::io {

// vertices (V, 3) f32/f64 (written with enough digits to read back exactly), faces (F, 3)
// integer, 0-based here (1-based in the file); colors (V, 3) floating in [0, 1], or undefined.
void save_obj(const std::string& path, const Tensor& vertices, const Tensor& faces, const Tensor& colors = {});

// The same as binary little-endian PLY: float (f32 vertices) or double (f64) x, y, z; uchar
// red, green, blue when colors are given (floating in [0, 1] are scaled by 255, u8 kept); faces
// as a uchar count and int indices.
void save_ply(const std::string& path, const Tensor& vertices, const Tensor& faces, const Tensor& colors = {});

struct Mesh {
  Tensor vertices;  // (V, 3) in the requested dtype
  Tensor faces;     // (F, 3) I64, 0-based
};

// Reads "v" lines (x y z; extra values such as colours are ignored) and "f" lines (v, v/vt,
// v//vn or v/vt/vn references, 1-based or negative = relative to the end, polygons split into a
// fan of triangles); every other line is skipped. Errors (IOError) name the file and line.
Mesh load_obj(const std::string& path, DType dtype = DType::F32);
Mesh parse_obj(const std::string& text, const std::string& label, DType dtype = DType::F32);

}  // namespace hmr::io
