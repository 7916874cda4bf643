// `hmr inspect FILE`: what is inside a checkpoint, array archive, model file or image — each
// tensor's name, dtype, shape and a checksum (sum and L2 norm, in double), plus the entries
// that are not tensors. The format is recognised from the file's first bytes, not its name.
// Answers "did this .pth / .npz / .pkl load, and is it the file I think it is" without Python.
#include <cmath>
#include <cstdio>
#include <fstream>

#include "hmr/commands/commands.h"
#include "io/image.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/pickle.h"
#include "io/safetensors.h"
#include "io/torch_file.h"
#include "io/zip.h"

namespace hmr::cli {

namespace {

struct TensorRow {
  std::string name;
  Tensor t;
  std::string note;  // e.g. "sparse csc, 6890x24 nnz=..."
};

struct Listing {
  std::string format;
  std::vector<TensorRow> tensors;
  std::vector<std::pair<std::string, std::string>> entries;  // non-tensor values (repr)
};

std::string head_bytes(const std::string& path, size_t n) {
  std::ifstream f(path, std::ios::binary);
  HMR_CHECK(f.good(), IOError, "hmr inspect: cannot open '", path, "'");
  std::string s(n, '\0');
  f.read(s.data(), static_cast<std::streamsize>(n));
  s.resize(static_cast<size_t>(f.gcount()));
  return s;
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// Walks a pickled object: dicts by key, sequences by index, tensors and sparse matrices as
// rows, everything else as an entry.
void walk(const io::PickleValue& v, const std::string& name, Listing& out, int depth = 0) {
  using io::PickleKind;
  const std::string label = name.empty() ? "<root>" : name;
  if (depth > 64) {
    out.entries.emplace_back(label, "<nested too deep>");
    return;
  }
  auto child = [&](const std::string& k) { return name.empty() ? k : name + "." + k; };
  switch (v.kind()) {
    case PickleKind::Tensor:
    case PickleKind::Storage:
      out.tensors.push_back({label, v.as_tensor(), ""});
      return;
    case PickleKind::Sparse: {
      const io::SparseMatrix& m = v.as_sparse();
      out.tensors.push_back({label, m.data,
                             str("sparse ", m.format == io::SparseMatrix::Format::CSC ? "csc" : "csr", " ",
                                 m.rows, "x", m.cols, ": the stored values")});
      return;
    }
    case PickleKind::Dict: {
      for (auto& [k, val] : v.items()) {
        std::string key = k.is(PickleKind::Str) ? k.as_str() : k.repr(40);
        walk(val, child(key), out, depth + 1);
      }
      if (v.size() == 0) out.entries.emplace_back(label, "{}");
      return;
    }
    case PickleKind::List:
    case PickleKind::Tuple: {
      // Short sequences of plain values read better on one line.
      bool plain = true;
      for (auto& e : v.elements())
        plain = plain && !(e.is(PickleKind::Tensor) || e.is(PickleKind::Dict) || e.is(PickleKind::List) ||
                           e.is(PickleKind::Tuple) || e.is(PickleKind::Sparse) || e.is(PickleKind::Object));
      if (plain) {
        out.entries.emplace_back(label, v.repr(120));
        return;
      }
      auto elems = v.elements();
      for (size_t i = 0; i < elems.size(); ++i) walk(elems[i], child(std::to_string(i)), out, depth + 1);
      return;
    }
    case PickleKind::Object: {
      io::PickleValue state = v.state();
      if (state.defined() && (state.is(PickleKind::Dict) || state.is(PickleKind::Tuple))) {
        out.entries.emplace_back(label, "<" + v.qualified_name() + ">");
        walk(state, name, out, depth + 1);
      } else {
        out.entries.emplace_back(label, v.repr(120));
      }
      return;
    }
    default:
      out.entries.emplace_back(label, v.repr(120));
  }
}

Listing inspect_file(const std::string& path) {
  Listing out;
  std::string head = head_bytes(path, 16);
  if (starts_with(head, "\x93NUMPY")) {
    out.format = "numpy .npy";
    out.tensors.push_back({"array", io::load_npy(path), ""});
  } else if (starts_with(head, "PK\x03\x04") || starts_with(head, "PK\x05\x06")) {
    io::ZipReader zip = io::ZipReader::open(path);
    bool torch = false;
    for (const auto& e : zip.entries()) torch = torch || ends_with(e.name, "data.pkl");
    if (torch) {
      io::TorchFile f = io::load_torch(path);
      out.format = "PyTorch checkpoint (zip)";
      walk(f.root, "", out);
    } else {
      out.format = "numpy .npz";
      for (auto& [k, t] : io::load_npz(path)) out.tensors.push_back({k, t, ""});
    }
  } else if (starts_with(head, "\x89PNG") || starts_with(head, "\xFF\xD8\xFF") || starts_with(head, "BM")) {
    out.format = starts_with(head, "\x89PNG") ? "PNG image" : starts_with(head, "BM") ? "BMP image" : "JPEG image";
    out.tensors.push_back({"image", io::read_image(path, 0), "(H, W, C)"});
  } else if (!head.empty() && static_cast<unsigned char>(head[0]) == 0x80) {
    // A pickle: PyTorch's legacy format starts with a pickled magic number; anything else
    // (SMPL .pkl files, plain pickles of arrays) goes through the data-only unpickler.
    try {
      io::TorchFile f = io::load_torch(path);
      out.format = "PyTorch checkpoint (" + f.format + ")";
      walk(f.root, "", out);
    } catch (const IOError&) {
      out.format = "Python pickle";
      walk(io::unpickle_file(path), "", out);
    }
  } else if (head.size() >= 9 && head[8] == '{') {
    io::SafetensorsFile f = io::load_safetensors(path);
    out.format = "safetensors";
    for (auto& [k, t] : f.tensors) out.tensors.push_back({k, t, ""});
    for (auto& [k, v] : f.metadata) out.entries.emplace_back("__metadata__." + k, v);
  } else {
    std::string hex;
    for (unsigned char c : head.substr(0, 8)) {
      char b[4];
      std::snprintf(b, sizeof b, "%02x ", c);
      hex += b;
    }
    throw IOError(str("hmr inspect: '", path, "' is not a format hmr reads (expected .npy, .npz, .pth/.pt/.ckpt, ",
                      "safetensors, pickle .pkl, PNG or JPEG); first bytes: ", hex));
  }
  return out;
}

struct Checksum {
  double sum = 0, l2 = 0;
};

Checksum checksum(const Tensor& t) {
  Checksum c;
  if (t.numel() == 0) return c;
  for (double v : t.to_vector<double>()) {
    c.sum += v;
    c.l2 += v * v;
  }
  c.l2 = std::sqrt(c.l2);
  return c;
}

std::string shape_text(const Tensor& t) { return str(t.sizes()); }

std::string number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

}  // namespace

Command inspect_command() {
  Command c;
  c.name = "inspect";
  c.summary = "list the tensors in a checkpoint, array file, model file or image";
  c.description =
      "Reads FILE without Python — PyTorch .pt/.pth (zip and legacy formats) and Lightning .ckpt, "
      "numpy .npy/.npz, safetensors, pickles such as SMPL's .pkl (chumpy arrays, scipy.sparse "
      "matrices), PNG/JPEG images — and prints each tensor's name, dtype, shape and a checksum "
      "(sum and L2 norm, accumulated in double), then the entries that are not tensors. The format "
      "is recognised from the file's content, not its extension.";
  c.options = {{"json", "", "print one JSON object instead of the table", ""}};
  c.takes_positional = true;
  c.run = [](const Args& args, Streams& s) {
    HMR_CHECK(args.positional().size() == 1, cli::UsageError, "hmr inspect: expected one FILE but found ",
              args.positional().size(), " arguments");
    const std::string& path = args.positional()[0];
    Listing l = inspect_file(path);
    int64_t elements = 0;
    for (auto& r : l.tensors) elements += r.t.numel();
    if (args.flag("json")) {
      io::Json root = io::Json::object();
      root.set("file", path);
      root.set("format", l.format);
      io::Json tensors = io::Json::array();
      for (auto& r : l.tensors) {
        Checksum cs = checksum(r.t);
        io::Json t = io::Json::object();
        t.set("name", r.name);
        t.set("dtype", str(r.t.dtype()));
        io::Json shape = io::Json::array();
        for (int64_t d : r.t.sizes()) shape.push_back(io::Json(d));
        t.set("shape", shape);
        t.set("sum", cs.sum);
        t.set("l2", cs.l2);
        if (!r.note.empty()) t.set("note", r.note);
        tensors.push_back(t);
      }
      root.set("tensors", tensors);
      io::Json entries = io::Json::object();
      for (auto& [k, v] : l.entries) entries.set(k, v);
      root.set("entries", entries);
      s.out << io::to_json(root, 2) << "\n";
      return kExitOk;
    }
    s.out << path << ": " << l.format << ", " << l.tensors.size() << " tensors, " << elements << " elements\n";
    size_t wname = 4, wshape = 5, wdtype = 5;
    for (auto& r : l.tensors) {
      wname = std::max(wname, r.name.size());
      wdtype = std::max(wdtype, str(r.t.dtype()).size());
      wshape = std::max(wshape, shape_text(r.t).size());
    }
    auto pad = [](const std::string& x, size_t w) { return x + std::string(w > x.size() ? w - x.size() : 0, ' '); };
    if (!l.tensors.empty())
      s.out << "  " << pad("name", wname) << "  " << pad("dtype", wdtype) << "  " << pad("shape", wshape)
            << "  sum           l2\n";
    for (auto& r : l.tensors) {
      Checksum cs = checksum(r.t);
      s.out << "  " << pad(r.name, wname) << "  " << pad(str(r.t.dtype()), wdtype) << "  " << pad(shape_text(r.t), wshape)
            << "  " << pad(number(cs.sum), 12) << "  " << number(cs.l2);
      if (!r.note.empty()) s.out << "  " << r.note;
      s.out << "\n";
    }
    if (!l.entries.empty()) {
      s.out << "other entries:\n";
      for (auto& [k, v] : l.entries) s.out << "  " << k << " = " << v << "\n";
    }
    return kExitOk;
  };
  return c;
}

}  // namespace hmr::cli
