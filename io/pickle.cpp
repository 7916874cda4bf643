// The pickle VM (data only), its value tree, and the standard allow-list: builtins, numpy
// arrays, scipy.sparse matrices and chumpy arrays. Every length read from the input is checked
// against the bytes that remain before anything is allocated.
#include "io/pickle.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "io/file.h"
#include "tensor/error.h"

namespace hmr::io {

struct PickleNode {
  PickleKind kind = PickleKind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;                                             // Str (utf-8), Bytes; module of Global / Object
  std::string name;                                          // Global / Object
  std::vector<PickleNode*> items;                            // List, Tuple, Set, FrozenSet; Object args
  std::vector<std::pair<PickleNode*, PickleNode*>> entries;  // Dict
  std::unordered_map<std::string, size_t> index;             // Dict: key_repr -> entry
  PickleNode* state = nullptr;                               // Object
  Tensor tensor;                                             // Tensor, Storage
  std::shared_ptr<SparseMatrix> sparse;
};

const char* pickle_kind_name(PickleKind k) {
  switch (k) {
    case PickleKind::None:
      return "None";
    case PickleKind::Bool:
      return "bool";
    case PickleKind::Int:
      return "int";
    case PickleKind::Float:
      return "float";
    case PickleKind::Str:
      return "str";
    case PickleKind::Bytes:
      return "bytes";
    case PickleKind::List:
      return "list";
    case PickleKind::Tuple:
      return "tuple";
    case PickleKind::Dict:
      return "dict";
    case PickleKind::Set:
      return "set";
    case PickleKind::FrozenSet:
      return "frozenset";
    case PickleKind::Tensor:
      return "tensor";
    case PickleKind::Storage:
      return "storage";
    case PickleKind::Sparse:
      return "sparse matrix";
    case PickleKind::Global:
      return "global";
    case PickleKind::Object:
      return "object";
  }
  return "?";
}

namespace {

constexpr size_t kMaxKeyDepth = 64;

// A canonical text for a hashable value, so dict keys compare as Python compares them
// (1 == 1.0 == True). Unhashable keys (list, dict, tensor) are errors.
std::string key_repr(const PickleNode* n, size_t depth) {
  HMR_CHECK(depth < kMaxKeyDepth, IOError, "pickle: dict key nested deeper than ", kMaxKeyDepth);
  switch (n->kind) {
    case PickleKind::None:
      return "n";
    case PickleKind::Bool:
      return "i" + std::to_string(n->b ? 1 : 0);
    case PickleKind::Int:
      return "i" + std::to_string(n->i);
    case PickleKind::Float: {
      if (std::nearbyint(n->f) == n->f && std::fabs(n->f) < 9e18)
        return "i" + std::to_string(static_cast<int64_t>(n->f));
      uint64_t bits;
      std::memcpy(&bits, &n->f, 8);
      return "f" + std::to_string(bits);
    }
    case PickleKind::Str:
      return "s" + n->s;
    case PickleKind::Bytes:
      return "b" + n->s;
    case PickleKind::Tuple:
    case PickleKind::FrozenSet: {
      std::vector<std::string> parts;
      for (const PickleNode* c : n->items) parts.push_back(key_repr(c, depth + 1));
      if (n->kind == PickleKind::FrozenSet) std::sort(parts.begin(), parts.end());
      std::string out = n->kind == PickleKind::Tuple ? "t(" : "z(";
      for (const std::string& p : parts) out += std::to_string(p.size()) + ":" + p;
      return out + ")";
    }
    case PickleKind::Global:
      return "g" + n->s + "." + n->name;
    default:
      break;
  }
  throw IOError(str("pickle: unhashable dict key of type ", pickle_kind_name(n->kind)));
}

void repr_into(const PickleNode* n, std::string& out, size_t max_chars, size_t depth) {
  if (out.size() > max_chars) return;
  if (depth > 32) {
    out += "...";
    return;
  }
  auto seq = [&](const char* open, const char* close) {
    out += open;
    for (size_t k = 0; k < n->items.size() && out.size() <= max_chars; ++k) {
      if (k) out += ", ";
      repr_into(n->items[k], out, max_chars, depth + 1);
    }
    out += close;
  };
  switch (n->kind) {
    case PickleKind::None:
      out += "None";
      break;
    case PickleKind::Bool:
      out += n->b ? "True" : "False";
      break;
    case PickleKind::Int:
      out += std::to_string(n->i);
      break;
    case PickleKind::Float:
      out += str(n->f);
      break;
    case PickleKind::Str:
      out += "'" + n->s.substr(0, max_chars) + "'";
      break;
    case PickleKind::Bytes:
      out += "b<" + std::to_string(n->s.size()) + " bytes>";
      break;
    case PickleKind::List:
      seq("[", "]");
      break;
    case PickleKind::Tuple:
      seq("(", ")");
      break;
    case PickleKind::Set:
    case PickleKind::FrozenSet:
      seq("{", "}");
      break;
    case PickleKind::Dict:
      out += "{";
      for (size_t k = 0; k < n->entries.size() && out.size() <= max_chars; ++k) {
        if (k) out += ", ";
        repr_into(n->entries[k].first, out, max_chars, depth + 1);
        out += ": ";
        repr_into(n->entries[k].second, out, max_chars, depth + 1);
      }
      out += "}";
      break;
    case PickleKind::Tensor:
    case PickleKind::Storage:
      out += str(pickle_kind_name(n->kind), "(", n->tensor.sizes(), ", ", n->tensor.dtype(), ")");
      break;
    case PickleKind::Sparse:
      out += str("sparse(", n->sparse->rows, "x", n->sparse->cols, ")");
      break;
    case PickleKind::Global:
      out += "<global " + n->s + "." + n->name + ">";
      break;
    case PickleKind::Object:
      out += "<" + n->s + "." + n->name + " object>";
      break;
  }
  if (out.size() > max_chars) out.resize(max_chars), out += "...";
}

}  // namespace

// ---- PickleValue ---------------------------------------------------------------------------

PickleKind PickleValue::kind() const {
  HMR_CHECK(node_, IOError, "pickle: use of an undefined value");
  return node_->kind;
}

const PickleNode& PickleValue::n(PickleKind k) const {
  HMR_CHECK(node_, IOError, "pickle: expected ", pickle_kind_name(k), " but the value is undefined");
  HMR_CHECK(node_->kind == k, IOError, "pickle: expected ", pickle_kind_name(k), " but found ",
            pickle_kind_name(node_->kind), " ", repr(80));
  return *node_;
}

bool PickleValue::as_bool() const {
  if (is(PickleKind::Int) && (node_->i == 0 || node_->i == 1)) return node_->i == 1;
  return n(PickleKind::Bool).b;
}
int64_t PickleValue::as_int() const {
  if (is(PickleKind::Bool)) return node_->b ? 1 : 0;
  return n(PickleKind::Int).i;
}
double PickleValue::as_double() const {
  if (is(PickleKind::Int)) return static_cast<double>(node_->i);
  if (is(PickleKind::Bool)) return node_->b ? 1 : 0;
  return n(PickleKind::Float).f;
}
const std::string& PickleValue::as_str() const { return n(PickleKind::Str).s; }
const std::string& PickleValue::as_bytes() const { return n(PickleKind::Bytes).s; }
const Tensor& PickleValue::as_tensor() const {
  if (is(PickleKind::Storage)) return node_->tensor;
  HMR_CHECK(!is(PickleKind::Object), IOError, "pickle: a ", qualified_name(),
            " object holds no recoverable array");
  return n(PickleKind::Tensor).tensor;
}
const SparseMatrix& PickleValue::as_sparse() const { return *n(PickleKind::Sparse).sparse; }

size_t PickleValue::size() const {
  PickleKind k = kind();
  if (k == PickleKind::Dict) return node_->entries.size();
  HMR_CHECK(k == PickleKind::List || k == PickleKind::Tuple || k == PickleKind::Set ||
                k == PickleKind::FrozenSet || k == PickleKind::Object,
            IOError, "pickle: ", pickle_kind_name(k), " has no elements");
  return node_->items.size();
}
PickleValue PickleValue::operator[](size_t i) const {
  size_t count = size();
  HMR_CHECK(i < count && kind() != PickleKind::Dict, IOError, "pickle: index ", i, " out of range for a ",
            pickle_kind_name(kind()), " of ", count);
  return PickleValue(arena_, node_->items[i]);
}
std::vector<PickleValue> PickleValue::elements() const {
  std::vector<PickleValue> out;
  for (size_t i = 0, e = size(); i < e; ++i) out.push_back((*this)[i]);
  return out;
}
std::vector<std::pair<PickleValue, PickleValue>> PickleValue::items() const {
  std::vector<std::pair<PickleValue, PickleValue>> out;
  for (const auto& [k, v] : n(PickleKind::Dict).entries)
    out.emplace_back(PickleValue(arena_, k), PickleValue(arena_, v));
  return out;
}
PickleValue PickleValue::find(const std::string& key) const {
  const PickleNode& d = n(PickleKind::Dict);
  auto it = d.index.find("s" + key);
  if (it == d.index.end()) it = d.index.find("b" + key);
  if (it == d.index.end()) return {};
  return PickleValue(arena_, d.entries[it->second].second);
}
PickleValue PickleValue::get(const std::string& key) const {
  PickleValue v = find(key);
  HMR_CHECK(v.defined(), IOError, "pickle: no key '", key, "' in a dict with keys ", str_keys());
  return v;
}
std::vector<std::string> PickleValue::str_keys() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : n(PickleKind::Dict).entries)
    if (k->kind == PickleKind::Str) out.push_back(k->s);
  return out;
}
const std::string& PickleValue::module() const {
  HMR_CHECK(is(PickleKind::Global) || is(PickleKind::Object), IOError,
            "pickle: expected a global or object but found ", repr(80));
  return node_->s;
}
const std::string& PickleValue::name() const {
  module();
  return node_->name;
}
PickleValue PickleValue::state() const {
  const PickleNode& o = n(PickleKind::Object);
  return o.state ? PickleValue(arena_, o.state) : PickleValue();
}
std::string PickleValue::repr(size_t max_chars) const {
  if (!node_) return "<undefined>";
  std::string out;
  repr_into(node_, out, max_chars, 0);
  return out;
}

// ---- PickleArena ---------------------------------------------------------------------------

PickleArena::PickleArena(size_t max_nodes, size_t max_bytes) : max_nodes_(max_nodes), max_bytes_(max_bytes) {}

void PickleArena::charge(size_t n) {
  HMR_CHECK(n <= max_bytes_ - bytes_, IOError, "pickle: values would take more than ", max_bytes_,
            " bytes, out of proportion to the input");
  bytes_ += n;
}
PickleArena::~PickleArena() = default;

PickleNode* PickleArena::make(PickleKind k) {
  HMR_CHECK(nodes_.size() < max_nodes_, IOError, "pickle: more than ", max_nodes_,
            " values for the size of the input");
  nodes_.push_back(std::make_unique<PickleNode>());
  nodes_.back()->kind = k;
  return nodes_.back().get();
}

#define HMR_ARENA_VALUE(node) PickleValue(shared_from_this(), node)

PickleValue PickleArena::none() { return HMR_ARENA_VALUE(make(PickleKind::None)); }
PickleValue PickleArena::boolean(bool b) {
  PickleNode* n = make(PickleKind::Bool);
  n->b = b;
  return HMR_ARENA_VALUE(n);
}
PickleValue PickleArena::integer(int64_t i) {
  PickleNode* n = make(PickleKind::Int);
  n->i = i;
  return HMR_ARENA_VALUE(n);
}
PickleValue PickleArena::real(double d) {
  PickleNode* n = make(PickleKind::Float);
  n->f = d;
  return HMR_ARENA_VALUE(n);
}
PickleValue PickleArena::str(std::string s) {
  charge(s.size());
  PickleNode* n = make(PickleKind::Str);
  n->s = std::move(s);
  return HMR_ARENA_VALUE(n);
}
PickleValue PickleArena::bytes(std::string b) {
  charge(b.size());
  PickleNode* n = make(PickleKind::Bytes);
  n->s = std::move(b);
  return HMR_ARENA_VALUE(n);
}
static std::vector<PickleNode*> nodes_of(const std::vector<PickleValue>& items) {
  std::vector<PickleNode*> out;
  out.reserve(items.size());
  for (const PickleValue& v : items) out.push_back(v.node());
  return out;
}
PickleValue PickleArena::list(std::vector<PickleValue> items) {
  PickleNode* n = make(PickleKind::List);
  n->items = nodes_of(items);
  return HMR_ARENA_VALUE(n);
}
PickleValue PickleArena::tuple(std::vector<PickleValue> items) {
  PickleNode* n = make(PickleKind::Tuple);
  n->items = nodes_of(items);
  return HMR_ARENA_VALUE(n);
}
PickleValue PickleArena::set(std::vector<PickleValue> items, bool frozen) {
  PickleNode* n = make(frozen ? PickleKind::FrozenSet : PickleKind::Set);
  n->items = nodes_of(items);
  return HMR_ARENA_VALUE(n);
}
PickleValue PickleArena::dict() { return HMR_ARENA_VALUE(make(PickleKind::Dict)); }
PickleValue PickleArena::tensor(Tensor t) {
  PickleNode* n = make(PickleKind::Tensor);
  n->tensor = std::move(t);
  return HMR_ARENA_VALUE(n);
}
PickleValue PickleArena::storage(Tensor t) {
  PickleNode* n = make(PickleKind::Storage);
  n->tensor = std::move(t);
  return HMR_ARENA_VALUE(n);
}
PickleValue PickleArena::sparse(SparseMatrix m) {
  PickleNode* n = make(PickleKind::Sparse);
  n->sparse = std::make_shared<SparseMatrix>(std::move(m));
  return HMR_ARENA_VALUE(n);
}
PickleValue PickleArena::global(std::string module, std::string name) {
  PickleNode* n = make(PickleKind::Global);
  n->s = std::move(module);
  n->name = std::move(name);
  return HMR_ARENA_VALUE(n);
}
PickleValue PickleArena::object(std::string module, std::string name, std::vector<PickleValue> args) {
  PickleNode* n = make(PickleKind::Object);
  n->s = std::move(module);
  n->name = std::move(name);
  n->items = nodes_of(args);
  return HMR_ARENA_VALUE(n);
}
#undef HMR_ARENA_VALUE

void PickleArena::append(const PickleValue& list, const PickleValue& item) {
  PickleKind k = list.kind();
  HMR_CHECK(k == PickleKind::List || k == PickleKind::Set, IOError, "pickle: cannot append to a ",
            pickle_kind_name(k));
  list.node()->items.push_back(item.node());
}
void PickleArena::set_item(const PickleValue& dict, const PickleValue& key, const PickleValue& value) {
  HMR_CHECK(dict.is(PickleKind::Dict), IOError, "pickle: cannot set an item on a ",
            pickle_kind_name(dict.kind()));
  PickleNode* d = dict.node();
  std::string k = key_repr(key.node(), 0);
  auto it = d->index.find(k);
  if (it != d->index.end()) {
    d->entries[it->second].second = value.node();
    return;
  }
  d->index.emplace(std::move(k), d->entries.size());
  d->entries.emplace_back(key.node(), value.node());
}
void PickleArena::set_state(const PickleValue& object, const PickleValue& state) {
  HMR_CHECK(object.is(PickleKind::Object), IOError, "pickle: BUILD on a ", pickle_kind_name(object.kind()));
  object.node()->state = state.node();
}
void PickleArena::replace(const PickleValue& target, const PickleValue& source) {
  PickleNode copy = *source.node();
  *target.node() = std::move(copy);
}

// ---- Sparse matrices, arrays ---------------------------------------------------------------

Tensor SparseMatrix::to_dense() const {
  bool csc = format == Format::CSC;
  std::vector<double> values = data.to_vector<double>();
  std::vector<double> dense(static_cast<size_t>(rows * cols), 0.0);
  for (size_t major = 0; major + 1 < indptr.size(); ++major) {
    for (int64_t k = indptr[major]; k < indptr[major + 1]; ++k) {
      int64_t r = csc ? indices[k] : static_cast<int64_t>(major);
      int64_t c = csc ? static_cast<int64_t>(major) : indices[k];
      dense[static_cast<size_t>(r * cols + c)] += values[k];
    }
  }
  if (data.dtype() == DType::F32 || data.dtype() == DType::F16 || data.dtype() == DType::BF16)
    return Tensor::from_vector(std::vector<float>(dense.begin(), dense.end()), {rows, cols});
  return Tensor::from_vector(dense, {rows, cols});
}

Tensor array_of(const PickleValue& v) {
  HMR_CHECK(v.defined(), IOError, "pickle: expected an array but the value is undefined");
  if (v.is(PickleKind::Object)) {
    PickleValue st = v.state();
    if (st.defined() && st.is(PickleKind::Dict)) {
      PickleValue x = st.find("x");
      if (x.defined() && x.is(PickleKind::Tensor)) return x.as_tensor();
    }
    throw IOError(str("pickle: a ", v.qualified_name(),
                      " object holds no recoverable array (no array under 'x' in its state)"));
  }
  HMR_CHECK(v.is(PickleKind::Tensor), IOError, "pickle: expected an array but found ",
            pickle_kind_name(v.kind()), " ", v.repr(80));
  return v.as_tensor();
}

std::string latin1_encode(const std::string& utf8) {
  std::string out;
  out.reserve(utf8.size());
  for (size_t i = 0; i < utf8.size(); ++i) {
    auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      continue;
    }
    HMR_CHECK((c == 0xC2 || c == 0xC3) && i + 1 < utf8.size(), IOError,
              "pickle: str is not latin-1 encodable at byte ", i);
    auto c2 = static_cast<unsigned char>(utf8[++i]);
    out.push_back(static_cast<char>(((c & 0x03) << 6) | (c2 & 0x3F)));
  }
  return out;
}

namespace {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    HMR_CHECK(cp <= 0x10FFFF, IOError, "pickle: code point ", cp, " out of range");
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string latin1_decode(const std::string& bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) append_utf8(out, static_cast<unsigned char>(c));
  return out;
}

// A numpy dtype string ('<f4', 'u4', ...) as what hmr stores it in, and how to read it.
struct NumpyType {
  char kind = 'f';  // f, i, u, b
  int size = 4;     // bytes per element in the file
  bool big_endian = false;
  DType dtype = DType::F32;
};

NumpyType numpy_type(std::string code, const std::string& byteorder) {
  NumpyType t;
  t.big_endian = byteorder == ">";
  if (!code.empty() && (code[0] == '<' || code[0] == '>' || code[0] == '|' || code[0] == '=')) {
    t.big_endian = code[0] == '>';
    code = code.substr(1);
  }
  HMR_CHECK(code.size() == 2 && code[1] >= '1' && code[1] <= '8', IOError,
            "pickle: unsupported numpy dtype '", code, "'");
  t.kind = code[0];
  t.size = code[1] - '0';
  auto is = [&](char k, int s) { return t.kind == k && t.size == s; };
  if (is('f', 2))
    t.dtype = DType::F16;
  else if (is('f', 4))
    t.dtype = DType::F32;
  else if (is('f', 8))
    t.dtype = DType::F64;
  else if (is('b', 1))
    t.dtype = DType::Bool;
  else if (is('u', 1))
    t.dtype = DType::U8;
  else if (is('i', 1) || is('i', 2) || is('u', 2) || is('i', 4))
    t.dtype = DType::I32;
  else if (is('i', 8) || is('u', 4) || is('u', 8))
    t.dtype = DType::I64;
  else
    throw IOError(str("pickle: unsupported numpy dtype '", code, "'"));
  return t;
}

// numel elements of type t from raw (file byte order) into dst of t.dtype; widens integers
// that hmr has no type for (int8/16, uint16/32/64).
void convert_numpy_elements(const NumpyType& t, const uint8_t* raw, int64_t numel, void* dst) {
  int64_t out_size = itemsize(t.dtype);
  if (!t.big_endian && out_size == t.size && t.kind != 'b') {
    std::memcpy(dst, raw, static_cast<size_t>(numel * t.size));
    return;
  }
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t e = 0; e < numel; ++e) {
    uint8_t le[8] = {0};
    for (int k = 0; k < t.size; ++k)
      le[k] = t.big_endian ? raw[e * t.size + (t.size - 1 - k)] : raw[e * t.size + k];
    if (t.kind == 'b') {
      out[e] = le[0] != 0;
      continue;
    }
    if (t.kind == 'f') {  // only byte order differs
      std::memcpy(out + e * out_size, le, static_cast<size_t>(out_size));
      continue;
    }
    uint64_t u = 0;
    std::memcpy(&u, le, 8);
    int64_t v;
    if (t.kind == 'i' && t.size < 8) {
      int shift = 64 - 8 * t.size;
      v = static_cast<int64_t>(u << shift) >> shift;
    } else {
      HMR_CHECK(t.kind != 'u' || t.size < 8 || u <= static_cast<uint64_t>(INT64_MAX), IOError,
                "pickle: uint64 array value ", u, " does not fit int64");
      v = static_cast<int64_t>(u);
    }
    if (out_size == 4) {
      auto w = static_cast<int32_t>(v);
      std::memcpy(out + e * 4, &w, 4);
    } else if (out_size == 8) {
      std::memcpy(out + e * 8, &v, 8);
    } else {
      out[e] = static_cast<uint8_t>(v);
    }
  }
}

// Product of dims, or an error when a dim is negative or the product exceeds limit.
int64_t numel_within(const Shape& shape, int64_t limit, const char* what) {
  int64_t n = 1;
  for (int64_t d : shape) {
    HMR_CHECK(d >= 0, IOError, "pickle: negative dimension in ", what, " shape ", shape);
    if (d == 0) return 0;
  }
  for (int64_t d : shape) {
    HMR_CHECK(n <= limit / d, IOError, "pickle: ", what, " shape ", shape,
              " is larger than the input could hold");
    n *= d;
  }
  return n;
}

Shape int_tuple(const PickleValue& v, const char* what) {
  HMR_CHECK(v.is(PickleKind::Tuple) || v.is(PickleKind::List), IOError, "pickle: ", what,
            " must be a tuple of ints, found ", v.repr(80));
  Shape out;
  for (const PickleValue& e : v.elements()) out.push_back(e.as_int());
  return out;
}

std::string dtype_code(const PickleValue& dtype, std::string* byteorder) {
  HMR_CHECK(dtype.is(PickleKind::Object) && dtype.name() == "dtype" && dtype.size() >= 1, IOError,
            "pickle: expected a numpy dtype, found ", dtype.repr(80));
  PickleValue st = dtype.state();
  if (st.defined() && st.is(PickleKind::Tuple) && st.size() >= 2 && st[1].is(PickleKind::Str))
    *byteorder = st[1].as_str();
  if (st.defined() && st.is(PickleKind::Tuple) && st.size() >= 2 && st[1].is(PickleKind::Bytes))
    *byteorder = st[1].as_bytes();
  return dtype[0].is(PickleKind::Bytes) ? dtype[0].as_bytes() : dtype[0].as_str();
}

// An array from its raw bytes (bytes, or a py2 str standing for them) in C or Fortran order.
Tensor numpy_array(PickleArena& arena, const Shape& shape, const PickleValue& dtype, bool fortran,
                   const PickleValue& data) {
  std::string byteorder = "<";
  NumpyType t = numpy_type(dtype_code(dtype, &byteorder), byteorder);
  std::string raw;
  if (data.is(PickleKind::Bytes))
    raw = data.as_bytes();
  else if (data.is(PickleKind::Str))
    raw = latin1_encode(data.as_str());
  else
    throw IOError(
        str("pickle: numpy array data must be bytes (object arrays are not "
            "supported), found ",
            pickle_kind_name(data.kind())));
  int64_t numel = numel_within(shape, static_cast<int64_t>(raw.size()) + 1, "numpy array");
  HMR_CHECK(static_cast<int64_t>(raw.size()) == numel * t.size, IOError, "pickle: numpy array of shape ",
            shape, " and itemsize ", t.size, " needs ", numel * t.size, " bytes but has ", raw.size());
  arena.charge(static_cast<size_t>(numel * itemsize(t.dtype)) + raw.size());
  Tensor flat = Tensor::empty({numel}, t.dtype);
  if (numel) convert_numpy_elements(t, reinterpret_cast<const uint8_t*>(raw.data()), numel, flat.raw_data());
  Shape strides = contiguous_strides(shape);
  if (fortran) {  // column-major: first dim fastest
    int64_t s = 1;
    for (size_t d = 0; d < shape.size(); ++d) strides[d] = s, s *= std::max<int64_t>(shape[d], 1);
  }
  return Tensor::make_view(flat.storage(), shape, strides, 0, t.dtype);
}

// ndarray.__setstate__((version,) shape, dtype, is_fortran, data).
void build_ndarray(PickleArena& arena, const PickleValue& obj, const PickleValue& state) {
  HMR_CHECK(state.is(PickleKind::Tuple) && (state.size() == 5 || state.size() == 4), IOError,
            "pickle: numpy array state must be a 4- or 5-tuple, found ", state.repr(80));
  size_t base = state.size() == 5 ? 1 : 0;
  Shape shape = int_tuple(state[base], "numpy array");
  bool fortran = state[base + 2].as_bool();
  arena.replace(obj, arena.tensor(numpy_array(arena, shape, state[base + 1], fortran, state[base + 3])));
}

// numpy.core.numeric._frombuffer(buffer, dtype, shape, order): protocol 5's spelling.
PickleValue numpy_frombuffer(PickleArena& arena, const std::vector<PickleValue>& args) {
  HMR_CHECK(args.size() == 4, IOError, "pickle: numpy _frombuffer takes 4 arguments, got ", args.size());
  Shape shape = int_tuple(args[2], "numpy array");
  bool fortran = args[3].is(PickleKind::Str) && args[3].as_str() == "F";
  return arena.tensor(numpy_array(arena, shape, args[1], fortran, args[0]));
}

// numpy.core.multiarray.scalar(dtype, bytes) -> a Python number.
PickleValue numpy_scalar(PickleArena& arena, const std::vector<PickleValue>& args) {
  HMR_CHECK(args.size() == 2, IOError, "pickle: numpy scalar takes (dtype, data), got ", args.size());
  std::string byteorder = "<";
  NumpyType t = numpy_type(dtype_code(args[0], &byteorder), byteorder);
  std::string raw = args[1].is(PickleKind::Bytes) ? args[1].as_bytes() : latin1_encode(args[1].as_str());
  HMR_CHECK(static_cast<int>(raw.size()) == t.size, IOError, "pickle: numpy scalar of ", t.size,
            " bytes has ", raw.size());
  Tensor one = Tensor::empty({}, t.dtype);
  convert_numpy_elements(t, reinterpret_cast<const uint8_t*>(raw.data()), 1, one.raw_data());
  if (t.dtype == DType::Bool) return arena.boolean(one.item<double>() != 0);
  if (is_floating(t.dtype)) return arena.real(one.item<double>());
  return arena.integer(one.item<int64_t>());
}

std::vector<int64_t> index_array(const PickleValue& v, const char* what) {
  HMR_CHECK(v.is(PickleKind::Tensor) && v.as_tensor().dim() == 1 && !is_floating(v.as_tensor().dtype()),
            IOError, "pickle: sparse matrix ", what, " must be a 1-D integer array, found ", v.repr(80));
  return v.as_tensor().to_vector<int64_t>();
}

void build_sparse(PickleArena& arena, const PickleValue& obj, const PickleValue& state) {
  HMR_CHECK(state.is(PickleKind::Dict), IOError, "pickle: ", obj.qualified_name(),
            " state must be a dict, found ", state.repr(80));
  SparseMatrix m;
  m.format = obj.name().rfind("csr", 0) == 0 ? SparseMatrix::Format::CSR : SparseMatrix::Format::CSC;
  PickleValue shape = state.find("_shape");
  if (!shape.defined()) shape = state.get("shape");
  Shape dims = int_tuple(shape, "sparse matrix shape");
  HMR_CHECK(dims.size() == 2 && dims[0] >= 0 && dims[1] >= 0, IOError,
            "pickle: sparse matrix shape must be 2 non-negative ints, found ", dims);
  m.rows = dims[0];
  m.cols = dims[1];
  PickleValue data = state.get("data");
  HMR_CHECK(data.is(PickleKind::Tensor) && data.as_tensor().dim() == 1, IOError,
            "pickle: sparse matrix data must be a 1-D array, found ", data.repr(80));
  m.data = data.as_tensor();
  m.indices = index_array(state.get("indices"), "indices");
  m.indptr = index_array(state.get("indptr"), "indptr");
  bool csc = m.format == SparseMatrix::Format::CSC;
  int64_t major = csc ? m.cols : m.rows, minor = csc ? m.rows : m.cols;
  auto nnz = static_cast<int64_t>(m.indices.size());
  HMR_CHECK(static_cast<int64_t>(m.indptr.size()) == major + 1 && m.data.numel() == nnz &&
                m.indptr.front() == 0 && m.indptr.back() == nnz,
            IOError, "pickle: inconsistent ", obj.qualified_name(), " (shape ", dims, ", ", m.indptr.size(),
            " indptr, ", nnz, " indices, ", m.data.numel(), " values)");
  for (size_t k = 1; k < m.indptr.size(); ++k)
    HMR_CHECK(m.indptr[k] >= m.indptr[k - 1], IOError, "pickle: sparse indptr decreases at ", k);
  for (int64_t ix : m.indices)
    HMR_CHECK(ix >= 0 && ix < minor, IOError, "pickle: sparse index ", ix, " outside [0, ", minor, ")");
  HMR_CHECK(m.rows == 0 || m.cols <= (int64_t{1} << 40) / m.rows, IOError, "pickle: sparse matrix shape ",
            dims, " too large");
  arena.replace(obj, arena.sparse(std::move(m)));
}

// A chumpy array's value is its state's 'x'; others (lazy expressions) stay symbolic and
// array_of() names their class.
void build_chumpy(PickleArena& arena, const PickleValue& obj, const PickleValue& state) {
  if (state.is(PickleKind::Dict)) {
    PickleValue x = state.find("x");
    if (x.defined() && x.is(PickleKind::Tensor)) {
      arena.replace(obj, x);
      return;
    }
  }
  arena.set_state(obj, state);
}

PickleValue make_dict(PickleArena& arena, const std::vector<PickleValue>& args) {
  PickleValue d = arena.dict();
  if (args.empty()) return d;
  HMR_CHECK(args.size() == 1 && (args[0].is(PickleKind::List) || args[0].is(PickleKind::Tuple)), IOError,
            "pickle: OrderedDict takes a list of pairs, found ", args.size(), " args");
  for (const PickleValue& pair : args[0].elements()) {
    HMR_CHECK((pair.is(PickleKind::List) || pair.is(PickleKind::Tuple)) && pair.size() == 2, IOError,
              "pickle: OrderedDict item must be a pair, found ", pair.repr(80));
    arena.set_item(d, pair[0], pair[1]);
  }
  return d;
}

PickleValue make_set(PickleArena& arena, const std::vector<PickleValue>& args, bool frozen) {
  if (args.empty()) return arena.set({}, frozen);
  HMR_CHECK(args.size() == 1 && (args[0].is(PickleKind::List) || args[0].is(PickleKind::Tuple)), IOError,
            "pickle: set takes one list");
  return arena.set(args[0].elements(), frozen);
}

}  // namespace

// ---- The allow-list -----------------------------------------------------------------------

void PickleGlobals::add(const std::string& module, const std::string& name, PickleGlobal g) {
  exact_[module + "." + name] = std::move(g);
}
void PickleGlobals::add_module_prefix(const std::string& prefix, PickleGlobal g) {
  prefixes_.emplace_back(prefix, std::move(g));
}
const PickleGlobal* PickleGlobals::find(const std::string& module, const std::string& name) const {
  auto it = exact_.find(module + "." + name);
  if (it != exact_.end()) return &it->second;
  for (const auto& [prefix, g] : prefixes_)
    if ((module + ".").rfind(prefix, 0) == 0) return &g;
  return nullptr;
}

PickleGlobals PickleGlobals::standard() {
  PickleGlobals g;
  using Args = std::vector<PickleValue>;
  auto fn = [](auto f) {
    PickleGlobal pg;
    pg.call = [f](PickleArena& a, const std::string&, const std::string&, const Args& args) {
      return f(a, args);
    };
    return pg;
  };
  g.add("builtins", "object", {});
  g.add("builtins", "set", fn([](PickleArena& a, const Args& x) { return make_set(a, x, false); }));
  g.add("builtins", "frozenset", fn([](PickleArena& a, const Args& x) { return make_set(a, x, true); }));
  g.add("builtins", "dict", fn(make_dict));
  g.add("collections", "OrderedDict", fn(make_dict));
  g.add("builtins", "bytes", fn([](PickleArena& a, const Args& x) {
          HMR_CHECK(x.empty(), IOError, "pickle: bytes() with arguments is not supported");
          return a.bytes("");
        }));
  // Protocol 0-2 pickles from Python 3 spell bytes as _codecs.encode(latin-1 str, 'latin1').
  g.add("_codecs", "encode", fn([](PickleArena& a, const Args& x) {
          HMR_CHECK(x.size() == 2 && x[0].is(PickleKind::Str) && x[1].is(PickleKind::Str) &&
                        (x[1].as_str() == "latin1" || x[1].as_str() == "latin-1"),
                    IOError, "pickle: _codecs.encode supports (str, 'latin1') only");
          return a.bytes(latin1_encode(x[0].as_str()));  // charged by bytes()
        }));
  // copyreg._reconstructor(cls, base, state): protocol 0/1 spelling of cls.__new__(cls).
  // The VM handles it (it calls back into the allow-list for the class).
  g.add("copyreg", "_reconstructor", {});
  PickleGlobal ndarray;
  ndarray.build = build_ndarray;
  for (const char* m : {"numpy.core.multiarray", "numpy._core.multiarray"}) {
    g.add(m, "_reconstruct",
          fn([](PickleArena& a, const Args&) { return a.object("numpy", "ndarray", {}); }));
    g.add(m, "scalar", fn(numpy_scalar));
  }
  for (const char* m : {"numpy.core.numeric", "numpy._core.numeric"})
    g.add(m, "_frombuffer", fn(numpy_frombuffer));
  g.add("numpy", "ndarray", ndarray);
  g.add("numpy", "dtype", {});
  PickleGlobal sparse;
  sparse.build = build_sparse;
  for (const char* m : {"scipy.sparse.csc", "scipy.sparse._csc", "scipy.sparse"})
    g.add(m, "csc_matrix", sparse);
  for (const char* m : {"scipy.sparse.csr", "scipy.sparse._csr", "scipy.sparse"})
    g.add(m, "csr_matrix", sparse);
  PickleGlobal chumpy;
  chumpy.build = build_chumpy;
  g.add_module_prefix("chumpy.", chumpy);
  return g;
}

// ---- The VM -------------------------------------------------------------------------------

namespace {

class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t size, const UnpickleOptions& options, const PickleGlobals& globals)
      : p_(data),
        size_(size),
        opt_(options),
        globals_(globals),
        arena_(std::make_shared<PickleArena>(4 * size + 1024, 16 * size + (size_t{1} << 24))) {}

  PickleValue run(size_t* consumed);

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw IOError(str("pickle: ", what, " (opcode at offset ", op_pos_, ")"));
  }
  void need(size_t n) const {
    if (n > size_ - pos_) fail(str("truncated input: ", n, " bytes needed, ", size_ - pos_, " left"));
  }
  uint64_t le(size_t n) {
    need(n);
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= uint64_t{p_[pos_ + k]} << (8 * k);
    pos_ += n;
    return v;
  }
  std::string bytes(uint64_t n) {
    if (n > size_ - pos_) fail(str("declared length ", n, " exceeds the ", size_ - pos_, " bytes left"));
    std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  std::string line() {
    const void* nl = std::memchr(p_ + pos_, '\n', size_ - pos_);
    if (!nl) fail("truncated input: no newline after a text argument");
    size_t end = static_cast<size_t>(static_cast<const uint8_t*>(nl) - p_);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), end - pos_);
    pos_ = end + 1;
    if (!s.empty() && s.back() == '\r') s.pop_back();
    return s;
  }

  void push(PickleValue v) { stack_.push_back(std::move(v)); }
  PickleValue pop() {
    if (stack_.size() <= base()) fail("pop from an empty stack");
    PickleValue v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  PickleValue& top() {
    if (stack_.size() <= base()) fail("empty stack");
    return stack_.back();
  }
  size_t base() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<PickleValue> pop_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PickleValue> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  void memo_put(uint64_t index) {
    if (memo_.size() >= size_ + 16 && !memo_.count(index)) fail("memo larger than the input allows");
    memo_[index] = top();
  }
  void memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail(str("memo index ", index, " was never stored"));
    push(it->second);
  }
  int64_t parse_int(const std::string& text) {
    std::string t = text;
    if (!t.empty() && t.back() == 'L') t.pop_back();
    if (t.empty()) fail("empty integer literal");
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(t.c_str(), &end, 10);
    if (*end != '\0') fail(str("bad integer literal '", text.substr(0, 40), "'"));
    if (errno == ERANGE) fail(str("integer ", text.substr(0, 40), " does not fit in 64 bits"));
    return v;
  }
  PickleValue py2_string(std::string raw) {
    if (opt_.py2_strings_as_latin1) return arena_->str(latin1_decode(raw));
    return arena_->bytes(std::move(raw));
  }
  std::string unquote(const std::string& text);
  std::string raw_unicode_escape(const std::string& text);

  const PickleGlobal& lookup(const std::string& module, const std::string& name) const {
    const PickleGlobal* g = globals_.find(module, name);
    if (!g) throw IOError(str("pickle: global '", module, ".", name, "' is not allowed"));
    return *g;
  }
  PickleValue make_global(std::string module, std::string name) {
    if (module == "__builtin__") module = "builtins";
    if (module == "copy_reg") module = "copyreg";
    lookup(module, name);
    return arena_->global(std::move(module), std::move(name));
  }
  PickleValue call(const PickleValue& callable, std::vector<PickleValue> args);
  void build(const PickleValue& obj, const PickleValue& state);
  void long_binary(size_t n) {
    if (n > 8) {  // beyond 64 bits unless it is a sign-extension of a value that fits
      need(n);
      fail(str("integer of ", n, " bytes does not fit in 64 bits"));
    }
    uint64_t v = le(n);
    if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);
    push(arena_->integer(static_cast<int64_t>(v)));
  }

  const uint8_t* p_;
  size_t size_;
  size_t pos_ = 0, op_pos_ = 0;
  const UnpickleOptions& opt_;
  const PickleGlobals& globals_;
  std::shared_ptr<PickleArena> arena_;
  std::vector<PickleValue> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleValue> memo_;
};

std::string Unpickler::unquote(const std::string& text) {
  if (text.size() < 2 || (text[0] != '\'' && text[0] != '"') || text.back() != text[0])
    fail("STRING argument is not quoted");
  const std::string in = text.substr(1, text.size() - 2);
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\\') {
      out.push_back(in[i]);
      continue;
    }
    if (++i == in.size()) fail("dangling escape in STRING");
    char e = in[i];
    switch (e) {
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case '\\':
      case '\'':
      case '"':
        out.push_back(e);
        break;
      case 'x': {
        std::string hex = in.substr(i + 1, 2);
        if (hex.size() != 2 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
          fail("bad \\x escape in STRING");
        out.push_back(static_cast<char>(std::stoi(hex, nullptr, 16)));
        i += 2;
        break;
      }
      default:
        if (e < '0' || e > '7') {  // Python keeps unknown escapes as written
          out.push_back('\\');
          out.push_back(e);
          break;
        }
        int v = 0;
        for (int k = 0; k < 3 && i < in.size() && in[i] >= '0' && in[i] <= '7'; ++k)
          v = v * 8 + (in[i++] - '0');
        --i;
        out.push_back(static_cast<char>(v & 0xFF));
    }
  }
  return out;
}

std::string Unpickler::raw_unicode_escape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == 'u' || text[i + 1] == 'U')) {
      size_t digits = text[i + 1] == 'u' ? 4 : 8;
      if (i + 2 + digits > text.size()) fail("short \\u escape in UNICODE");
      std::string hex = text.substr(i + 2, digits);
      if (hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) fail("bad \\u escape");
      append_utf8(out, static_cast<uint32_t>(std::stoul(hex, nullptr, 16)));
      i += 1 + digits;
    } else {
      append_utf8(out, static_cast<unsigned char>(text[i]));
    }
  }
  return out;
}

PickleValue Unpickler::call(const PickleValue& callable, std::vector<PickleValue> args) {
  if (!callable.is(PickleKind::Global))
    fail(str("cannot call a ", pickle_kind_name(callable.kind()), " (only allowed globals)"));
  const std::string& module = callable.module();
  const std::string& name = callable.name();
  if (module == "copyreg" && name == "_reconstructor") {
    if (args.size() != 3 || !args[0].is(PickleKind::Global) || !args[2].is_none())
      fail("copyreg._reconstructor takes (class, base, None)");
    return call(args[0], {});
  }
  const PickleGlobal& g = lookup(module, name);
  if (g.call) return g.call(*arena_, module, name, args);
  return arena_->object(module, name, std::move(args));
}

void Unpickler::build(const PickleValue& obj, const PickleValue& state) {
  // torch.save(model.state_dict()) pickles an OrderedDict whose instance attributes
  // (`_metadata`: per-module versions) arrive by BUILD. They hold no tensors; keep the dict.
  if (obj.is(PickleKind::Dict)) return;
  if (!obj.is(PickleKind::Object)) fail(str("BUILD on a ", pickle_kind_name(obj.kind()), " ", obj.repr(60)));
  const PickleGlobal& g = lookup(obj.module(), obj.name());
  if (g.build)
    g.build(*arena_, obj, state);
  else
    arena_->set_state(obj, state);
}

PickleValue Unpickler::run(size_t* consumed) {
  PickleArena& A = *arena_;
  while (true) {
    op_pos_ = pos_;
    need(1);
    uint8_t op = p_[pos_++];
    switch (op) {
      case 0x80: {  // PROTO
        uint64_t v = le(1);
        if (v > 5) fail(str("unsupported pickle protocol ", v));
        break;
      }
      case 0x95: {  // FRAME: a length prefix for buffering; the opcodes follow as usual
        uint64_t n = le(8);
        if (n > size_ - pos_) fail(str("frame of ", n, " bytes exceeds the ", size_ - pos_, " left"));
        break;
      }
      case '.': {  // STOP
        PickleValue result = pop();
        if (consumed) *consumed = pos_;
        return result;
      }
      case '(':
        if (marks_.size() >= opt_.max_depth) fail(str("nesting deeper than ", opt_.max_depth));
        marks_.push_back(stack_.size());
        break;
      case '0':
        pop();
        break;
      case '1':
        pop_mark();
        break;
      case '2':
        push(top());
        break;
      case 'N':
        push(A.none());
        break;
      case 0x88:
        push(A.boolean(true));
        break;
      case 0x89:
        push(A.boolean(false));
        break;
      case 'I': {
        std::string t = line();
        if (t == "01" || t == "00")
          push(A.boolean(t == "01"));
        else
          push(A.integer(parse_int(t)));
        break;
      }
      case 'L':
        push(A.integer(parse_int(line())));
        break;
      case 'J':
        push(A.integer(static_cast<int32_t>(static_cast<uint32_t>(le(4)))));
        break;
      case 'K':
        push(A.integer(static_cast<int64_t>(le(1))));
        break;
      case 'M':
        push(A.integer(static_cast<int64_t>(le(2))));
        break;
      case 0x8a:
        long_binary(static_cast<size_t>(le(1)));
        break;
      case 0x8b: {
        uint64_t n = le(4);
        if (n > size_ - pos_) fail(str("declared length ", n, " exceeds the ", size_ - pos_, " bytes left"));
        long_binary(static_cast<size_t>(n));
        break;
      }
      case 'F': {
        std::string t = line();
        char* end = nullptr;
        double d = std::strtod(t.c_str(), &end);
        if (t.empty() || *end != '\0') fail(str("bad float literal '", t.substr(0, 40), "'"));
        push(A.real(d));
        break;
      }
      case 'G': {
        need(8);
        uint64_t bits = 0;
        for (int k = 0; k < 8; ++k) bits = (bits << 8) | p_[pos_ + k];
        pos_ += 8;
        double d;
        std::memcpy(&d, &bits, 8);
        push(A.real(d));
        break;
      }
      case 'S':
        push(py2_string(unquote(line())));
        break;
      case 'T':
        push(py2_string(bytes(le(4))));
        break;
      case 'U':
        push(py2_string(bytes(le(1))));
        break;
      case 'V':
        push(A.str(raw_unicode_escape(line())));
        break;
      case 'X':
        push(A.str(bytes(le(4))));
        break;
      case 0x8c:
        push(A.str(bytes(le(1))));
        break;
      case 0x8d:
        push(A.str(bytes(le(8))));
        break;
      case 'B':
        push(A.bytes(bytes(le(4))));
        break;
      case 'C':
        push(A.bytes(bytes(le(1))));
        break;
      case 0x8e:
        push(A.bytes(bytes(le(8))));
        break;
      case 0x96:
        push(A.bytes(bytes(le(8))));
        break;  // BYTEARRAY8
      case ')':
        push(A.tuple());
        break;
      case 't':
        push(A.tuple(pop_mark()));
        break;
      case 0x85: {
        PickleValue a = pop();
        push(A.tuple({a}));
        break;
      }
      case 0x86: {
        PickleValue b = pop(), a = pop();
        push(A.tuple({a, b}));
        break;
      }
      case 0x87: {
        PickleValue c = pop(), b = pop(), a = pop();
        push(A.tuple({a, b, c}));
        break;
      }
      case ']':
        push(A.list());
        break;
      case 'l':
        push(A.list(pop_mark()));
        break;
      case '}':
        push(A.dict());
        break;
      case 'd': {
        std::vector<PickleValue> kv = pop_mark();
        if (kv.size() % 2) fail("DICT with an odd number of items");
        PickleValue d = A.dict();
        for (size_t k = 0; k < kv.size(); k += 2) A.set_item(d, kv[k], kv[k + 1]);
        push(d);
        break;
      }
      case 0x8f:
        push(A.set({}, false));
        break;
      case 0x91:
        push(A.set(pop_mark(), true));
        break;
      case 'a': {
        PickleValue item = pop();
        A.append(top(), item);
        break;
      }
      case 'e':
      case 0x90: {  // APPENDS, ADDITEMS
        std::vector<PickleValue> items = pop_mark();
        PickleValue& target = top();
        if (op == 0x90 && !target.is(PickleKind::Set)) fail("ADDITEMS on a non-set");
        for (const PickleValue& v : items) A.append(target, v);
        break;
      }
      case 's': {
        PickleValue v = pop(), k = pop();
        A.set_item(top(), k, v);
        break;
      }
      case 'u': {
        std::vector<PickleValue> kv = pop_mark();
        if (kv.size() % 2) fail("SETITEMS with an odd number of items");
        PickleValue& d = top();
        for (size_t k = 0; k < kv.size(); k += 2) A.set_item(d, kv[k], kv[k + 1]);
        break;
      }
      case 'p': {
        std::string t = line();
        int64_t idx = parse_int(t);
        if (idx < 0) fail("negative memo index");
        memo_put(static_cast<uint64_t>(idx));
        break;
      }
      case 'q':
        memo_put(le(1));
        break;
      case 'r':
        memo_put(le(4));
        break;
      case 0x94:
        memo_put(memo_.size());
        break;
      case 'g': {
        int64_t idx = parse_int(line());
        if (idx < 0) fail("negative memo index");
        memo_get(static_cast<uint64_t>(idx));
        break;
      }
      case 'h':
        memo_get(le(1));
        break;
      case 'j':
        memo_get(le(4));
        break;
      case 'c': {
        std::string module = line();
        std::string name = line();
        push(make_global(std::move(module), std::move(name)));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        PickleValue name = pop(), module = pop();
        if (!name.is(PickleKind::Str) || !module.is(PickleKind::Str)) fail("STACK_GLOBAL needs two str");
        push(make_global(module.as_str(), name.as_str()));
        break;
      }
      case 'R': {
        PickleValue args = pop();
        if (!args.is(PickleKind::Tuple)) fail("REDUCE arguments are not a tuple");
        PickleValue callable = pop();
        push(call(callable, args.elements()));
        break;
      }
      case 0x81: {  // NEWOBJ
        PickleValue args = pop();
        if (!args.is(PickleKind::Tuple)) fail("NEWOBJ arguments are not a tuple");
        PickleValue cls = pop();
        push(call(cls, args.elements()));
        break;
      }
      case 0x92: {  // NEWOBJ_EX
        PickleValue kwargs = pop(), args = pop();
        if (!args.is(PickleKind::Tuple) || !kwargs.is(PickleKind::Dict) || kwargs.size() != 0)
          fail("NEWOBJ_EX needs a tuple and an empty kwargs dict");
        PickleValue cls = pop();
        push(call(cls, args.elements()));
        break;
      }
      case 'i': {  // INST module\nname\n with args from the mark
        std::string module = line();
        std::string name = line();
        PickleValue cls = make_global(std::move(module), std::move(name));
        push(call(cls, pop_mark()));
        break;
      }
      case 'o': {  // OBJ: mark, class, args...
        std::vector<PickleValue> items = pop_mark();
        if (items.empty()) fail("OBJ without a class");
        PickleValue cls = items.front();
        items.erase(items.begin());
        push(call(cls, std::move(items)));
        break;
      }
      case 'b': {
        PickleValue state = pop();
        build(top(), state);
        break;
      }
      case 'P':
      case 'Q': {
        PickleValue pid = op == 'P' ? A.str(line()) : pop();
        if (!opt_.persistent_load) fail("persistent id without a persistent_load handler");
        push(opt_.persistent_load(A, pid));
        break;
      }
      case 0x82:
      case 0x83:
      case 0x84:
        fail("extension registry opcodes (EXT1/EXT2/EXT4) are not supported");
      case 0x97:
      case 0x98:
        fail("out-of-band buffers (NEXT_BUFFER/READONLY_BUFFER) are not supported");
      default:
        fail(str("unknown opcode 0x", "0123456789abcdef"[op >> 4], "0123456789abcdef"[op & 15]));
    }
  }
}

}  // namespace

PickleValue unpickle(const uint8_t* data, size_t size, const UnpickleOptions& options, size_t* consumed) {
  if (options.globals) return Unpickler(data, size, options, *options.globals).run(consumed);
  static const PickleGlobals standard = PickleGlobals::standard();
  return Unpickler(data, size, options, standard).run(consumed);
}

PickleValue unpickle_file(const std::string& path, const UnpickleOptions& options) {
  std::string bytes = read_file(path);
  try {
    return unpickle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), options);
  } catch (const IOError& e) {
    throw IOError(str(path, ": ", e.what()));
  }
}

}  // namespace hmr::io
