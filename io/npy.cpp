// .npy/.npz reading and writing. The header is a Python dict literal, parsed here by a tiny
// recursive-descent reader that accepts only the keys and value forms numpy writes.
#include "io/npy.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "io/file.h"
#include "io/tensor_bytes.h"
#include "io/zip.h"

namespace hmr::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
constexpr size_t kMaxHeader = size_t{1} << 20;  // numpy itself refuses headers above 10 kB-ish

struct Header {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// Recursive descent over the header literal: {'descr': '<f4', 'fortran_order': False,
// 'shape': (2, 3), }. Only strings, True/False and tuples of non-negative ints are values.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& label) : s_(text), label_(label) {}

  Header parse() {
    Header h;
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    while (!peek('}')) {
      std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        fail_if(peek('['), "structured dtypes (a list descr) are not supported");
        h.descr = string_literal();
        has_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        has_order = true;
      } else if (key == "shape") {
        h.shape = tuple();
        has_shape = true;
      } else {
        fail_if(true, "unexpected key '" + key + "'");
      }
      if (!peek('}')) expect(',');
    }
    expect('}');
    fail_if(!has_descr || !has_order || !has_shape, "missing descr, fortran_order or shape");
    return h;
  }

 private:
  void fail_if(bool bad, const std::string& why) const {
    HMR_CHECK(!bad, IOError, "npy: '", label_, "': bad header (", why, ") at offset ", pos_, " of '",
              s_.substr(0, 120), "'");
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n')) ++pos_;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  void expect(char c) {
    fail_if(!peek(c), std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string string_literal() {
    skip_space();
    fail_if(pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"'), "expected a string");
    char quote = s_[pos_++];
    size_t end = s_.find(quote, pos_);
    fail_if(end == std::string::npos, "unterminated string");
    std::string out = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }
  bool word(const char* w) {
    size_t n = std::strlen(w);
    if (s_.compare(pos_, n, w) != 0) return false;
    pos_ += n;
    return true;
  }
  bool boolean() {
    skip_space();
    if (word("True")) return true;
    if (word("False")) return false;
    fail_if(true, "expected True or False");
    return false;
  }
  Shape tuple() {
    Shape shape;
    expect('(');
    while (!peek(')')) {
      skip_space();
      fail_if(pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_])),
              "expected a dimension");
      int64_t v = 0;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        fail_if(v > (int64_t{1} << 56), "dimension too large");
        v = v * 10 + (s_[pos_++] - '0');
      }
      word("L");  // Python 2 longs
      shape.push_back(v);
      fail_if(shape.size() > 64, "more than 64 dimensions");
      if (!peek(')')) expect(',');
    }
    expect(')');
    return shape;
  }

  const std::string& s_;
  const std::string& label_;
  size_t pos_ = 0;
};

// How the file's elements become ours: the numpy item size, our dtype, and whether the value
// has to be widened (then read as a signed/unsigned integer of the file's size).
struct ElementRule {
  int file_size;
  DType dtype;
  bool widen;
  bool is_signed;
};

ElementRule element_rule(const std::string& descr, const std::string& label, bool& big_endian) {
  HMR_CHECK(descr != "|O" && descr != "O", IOError, "npy: '", label,
            "' is an object array ('|O'), which needs pickle; not supported");
  HMR_CHECK(descr.size() >= 3 && std::string("<>|=").find(descr[0]) != std::string::npos, IOError, "npy: '",
            label, "': unsupported descr '", descr, "'");
  big_endian = descr[0] == '>';
  std::string kind = descr.substr(1);
  if (kind == "f2") return {2, DType::F16, false, true};
  if (kind == "f4") return {4, DType::F32, false, true};
  if (kind == "f8") return {8, DType::F64, false, true};
  if (kind == "b1") return {1, DType::Bool, false, false};
  if (kind == "u1") return {1, DType::U8, false, false};
  if (kind == "i4") return {4, DType::I32, false, true};
  if (kind == "i8") return {8, DType::I64, false, true};
  if (kind == "i1") return {1, DType::I32, true, true};
  if (kind == "i2") return {2, DType::I32, true, true};
  if (kind == "u2") return {2, DType::I32, true, false};
  if (kind == "u4") return {4, DType::I64, true, false};
  HMR_CHECK(false, IOError, "npy: '", label, "': numpy dtype '", descr,
            "' has no lossless hmr dtype (supported: f2 f4 f8 b1 u1 i1 i2 i4 i8 u2 u4)");
  return {};
}

// Reads n little-endian bytes as an unsigned integer.
uint64_t load_le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Converts the file's element bytes into ours: byte order, then widening.
std::vector<uint8_t> convert_elements(const uint8_t* src, uint64_t numel, const ElementRule& rule,
                                      bool big_endian) {
  size_t in_size = static_cast<size_t>(rule.file_size);
  std::vector<uint8_t> bytes(src, src + numel * in_size);
  if (big_endian && in_size > 1) {
    for (size_t i = 0; i < bytes.size(); i += in_size) std::reverse(&bytes[i], &bytes[i] + in_size);
  }
  if (!rule.widen) return bytes;
  size_t out_size = static_cast<size_t>(itemsize(rule.dtype));
  std::vector<uint8_t> out(numel * out_size);
  for (uint64_t i = 0; i < numel; ++i) {
    uint64_t u = load_le(&bytes[i * in_size], rule.file_size);
    int64_t v = static_cast<int64_t>(u);
    if (rule.is_signed && in_size < 8 && (u >> (8 * in_size - 1)) & 1) v -= int64_t{1} << (8 * in_size);
    if (out_size == 4) {
      int32_t w = static_cast<int32_t>(v);
      std::memcpy(&out[i * 4], &w, 4);
    } else {
      std::memcpy(&out[i * 8], &v, 8);
    }
  }
  return out;
}

// Fortran-ordered bytes (column-major for shape) to row-major.
std::vector<uint8_t> fortran_to_c(const std::vector<uint8_t>& src, const Shape& shape, size_t item) {
  size_t nd = shape.size();
  uint64_t numel = src.size() / std::max<size_t>(item, 1);
  std::vector<uint8_t> dst(src.size());
  if (numel == 0) return dst;
  Shape fstride(nd, 1);  // element strides of the column-major source
  for (size_t d = 1; d < nd; ++d) fstride[d] = fstride[d - 1] * shape[d - 1];
  std::vector<int64_t> idx(nd, 0);
  int64_t src_el = 0;
  for (uint64_t k = 0; k < numel; ++k) {
    std::memcpy(&dst[k * item], &src[static_cast<size_t>(src_el) * item], item);
    for (size_t d = nd; d-- > 0;) {
      if (++idx[d] < shape[d]) {
        src_el += fstride[d];
        break;
      }
      src_el -= (shape[d] - 1) * fstride[d];
      idx[d] = 0;
    }
  }
  return dst;
}

const char* descr_of(DType t) {
  switch (t) {
    case DType::Bool:
      return "|b1";
    case DType::U8:
      return "|u1";
    case DType::I32:
      return "<i4";
    case DType::I64:
      return "<i8";
    case DType::F16:
      return "<f2";
    case DType::F32:
      return "<f4";
    case DType::F64:
      return "<f8";
    case DType::BF16:
      break;
  }
  return nullptr;
}

std::string strip_npy(const std::string& name) {
  const std::string ext = ".npy";
  if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0)
    return name.substr(0, name.size() - ext.size());
  return name;
}

// The header and payload of .npy bytes, shared by the numeric and the string readers.
struct Parsed {
  Header header;
  const uint8_t* payload;
  uint64_t payload_size;
};

Parsed parse_npy(const uint8_t* data, size_t size, const std::string& label) {
  HMR_CHECK(size >= kMagicSize + 4 && std::memcmp(data, kMagic, kMagicSize) == 0, IOError, "npy: '", label,
            "' is not an .npy file (bad magic)");
  uint8_t major = data[6];
  HMR_CHECK(major >= 1 && major <= 3, IOError, "npy: '", label, "': unsupported format version ", int(major),
            ".", int(data[7]));
  size_t len_bytes = major == 1 ? 2 : 4;
  HMR_CHECK(size >= 8 + len_bytes, IOError, "npy: '", label, "' is truncated in its header");
  uint64_t header_len = load_le(data + 8, static_cast<int>(len_bytes));
  size_t start = 8 + len_bytes;
  HMR_CHECK(header_len <= kMaxHeader && header_len <= size - start, IOError, "npy: '", label,
            "': header length ", header_len, " exceeds the file (", size, " bytes)");
  std::string text(reinterpret_cast<const char*>(data + start), static_cast<size_t>(header_len));
  return {HeaderParser(text, label).parse(), data + start + header_len, size - start - header_len};
}

// The magic, version, header length and space-padded header dict, as numpy writes them.
std::vector<uint8_t> header_bytes(const std::string& descr, const Shape& shape) {
  std::string header = str("{'descr': '", descr, "', 'fortran_order': False, 'shape': (");
  for (size_t d = 0; d < shape.size(); ++d)
    header += str(shape[d], shape.size() == 1 ? "," : (d + 1 < shape.size() ? ", " : ""));
  header += "), }";
  // numpy pads with spaces so the data starts at a multiple of 64, and ends with a newline.
  size_t len_bytes = header.size() + 1 + 10 + 64 > 65535 ? 4 : 2;
  size_t prefix = kMagicSize + 2 + len_bytes;
  header += std::string((64 - (prefix + header.size() + 1) % 64) % 64, ' ') + "\n";
  std::vector<uint8_t> out(kMagic, kMagic + kMagicSize);
  out.push_back(len_bytes == 2 ? 1 : 2);
  out.push_back(0);
  for (size_t i = 0; i < len_bytes; ++i) out.push_back(static_cast<uint8_t>(header.size() >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  return out;
}

}  // namespace

Tensor npy_from_bytes(const uint8_t* data, size_t size, const std::string& label) {
  Parsed p = parse_npy(data, size, label);
  const Header& h = p.header;
  const uint8_t* payload = p.payload;
  uint64_t payload_size = p.payload_size;
  bool big_endian = false;
  ElementRule rule = element_rule(h.descr, label, big_endian);
  std::string what = str("npy: '", label, "'");
  uint64_t numel = checked_numel(h.shape, rule.file_size, what);
  HMR_CHECK(payload_size == numel * static_cast<uint64_t>(rule.file_size), IOError, what, ": shape ", h.shape,
            " of '", h.descr, "' needs ", numel * rule.file_size, " data bytes but the file has ",
            payload_size);
  std::vector<uint8_t> bytes = convert_elements(payload, numel, rule, big_endian);
  if (h.fortran_order && h.shape.size() > 1)
    bytes = fortran_to_c(bytes, h.shape, static_cast<size_t>(itemsize(rule.dtype)));
  return tensor_from_bytes(bytes.data(), bytes.size(), h.shape, rule.dtype, what);
}

Tensor load_npy(const std::string& path) {
  std::string bytes = read_file(path);
  return npy_from_bytes(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);
}

std::vector<uint8_t> npy_to_bytes(const Tensor& t) {
  const char* descr = descr_of(t.dtype());
  HMR_CHECK(descr != nullptr, DTypeError, "save_npy: numpy has no ", t.dtype(),
            "; convert the tensor to float32 first");
  std::vector<uint8_t> out = header_bytes(descr, t.sizes());
  std::vector<uint8_t> data = contiguous_bytes(t);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

void save_npy(const std::string& path, const Tensor& t) {
  std::vector<uint8_t> bytes = npy_to_bytes(t);
  write_file_atomic(path, bytes.data(), bytes.size());
}

namespace {

TensorDict npz_from_zip(const ZipReader& zip) {
  TensorDict dict;
  for (const ZipEntry& e : zip.entries()) {
    std::vector<uint8_t> member = zip.read(e);
    std::string key = strip_npy(e.name);
    HMR_CHECK(!dict.contains(key), IOError, "npz: '", zip.label(), "' has two arrays named '", key, "'");
    dict.set(key, npy_from_bytes(member.data(), member.size(), str(zip.label(), " member ", e.name)));
  }
  return dict;
}

}  // namespace

TensorDict npz_from_bytes(std::vector<uint8_t> bytes, const std::string& label) {
  return npz_from_zip(ZipReader::from_bytes(std::move(bytes), label));
}

TensorDict load_npz(const std::string& path) { return npz_from_zip(ZipReader::open(path)); }

void save_npz(const std::string& path, const TensorDict& dict, bool compressed) {
  ZipWriter zip(path);
  for (const auto& [name, t] : dict) {
    std::vector<uint8_t> member = npy_to_bytes(t);
    zip.add(name + ".npy", member.data(), member.size(), compressed);
  }
  zip.close();
}

namespace {

// The kind ('U' or 'S') and element length of a string descr such as '<U12' or '|S5'; kind 0
// when descr is not a string dtype.
std::pair<char, uint64_t> string_kind(const std::string& descr) {
  if (descr.size() < 3 || (descr[1] != 'U' && descr[1] != 'S')) return {0, 0};
  uint64_t n = 0;
  for (size_t i = 2; i < descr.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(descr[i])) || n > (uint64_t{1} << 32)) return {0, 0};
    n = n * 10 + static_cast<uint64_t>(descr[i] - '0');
  }
  return {descr[1], n};
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool valid_code_point(uint32_t cp) { return cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF); }

// UTF-8 to code points; IOError on malformed input (overlong forms are not accepted).
std::vector<uint32_t> utf8_code_points(const std::string& s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<uint8_t>(s[i]);
    int extra = b < 0x80 ? 0 : (b >> 5) == 6 ? 1 : (b >> 4) == 14 ? 2 : (b >> 3) == 30 ? 3 : -1;
    HMR_CHECK(extra >= 0, IOError, "npy: string '", s, "' is not valid UTF-8 at byte ", i);
    uint32_t cp = extra == 0 ? b : b & (0x3F >> extra);
    for (int k = 1; k <= extra; ++k) {
      HMR_CHECK(i + k < s.size() && (static_cast<uint8_t>(s[i + k]) & 0xC0) == 0x80, IOError, "npy: string '",
                s, "' is not valid UTF-8 at byte ", i + k);
      cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
    }
    static const uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    HMR_CHECK(cp >= kMin[extra] && valid_code_point(cp), IOError, "npy: string '", s,
              "' is not valid UTF-8 at byte ", i);
    out.push_back(cp);
    i += static_cast<size_t>(extra) + 1;
  }
  return out;
}

}  // namespace

bool npy_is_string_array(const uint8_t* data, size_t size, const std::string& label) {
  return string_kind(parse_npy(data, size, label).header.descr).first != 0;
}

NpyStrings npy_strings_from_bytes(const uint8_t* data, size_t size, const std::string& label) {
  Parsed p = parse_npy(data, size, label);
  const Header& h = p.header;
  auto [kind, length] = string_kind(h.descr);
  HMR_CHECK(kind != 0, IOError, "npy: '", label, "' holds '", h.descr,
            "', not a string array ('<U n' or '|S n')");
  // numpy never writes length 0 ('' is '<U1'); refusing it keeps a huge shape from costing nothing.
  HMR_CHECK(length > 0, IOError, "npy: '", label, "': string dtype '", h.descr, "' has length 0");
  uint64_t item = kind == 'U' ? 4 * length : length;
  std::string what = str("npy: '", label, "'");
  uint64_t numel = checked_numel(h.shape, static_cast<int64_t>(std::max<uint64_t>(item, 1)), what);
  HMR_CHECK(p.payload_size == numel * item, IOError, what, ": shape ", h.shape, " of '", h.descr, "' needs ",
            numel * item, " data bytes but the file has ", p.payload_size);
  std::vector<uint8_t> bytes(p.payload, p.payload + numel * item);
  if (h.fortran_order && h.shape.size() > 1 && item > 0) bytes = fortran_to_c(bytes, h.shape, item);
  bool big_endian = h.descr[0] == '>';
  NpyStrings out{h.shape, {}};
  out.values.reserve(numel);
  for (uint64_t i = 0; i < numel; ++i) {
    const uint8_t* el = bytes.data() + i * item;
    std::string value;
    if (kind == 'S') {
      value.assign(reinterpret_cast<const char*>(el), length);
    } else {
      for (uint64_t c = 0; c < length; ++c) {
        uint32_t cp = 0;
        for (int b = 0; b < 4; ++b) cp |= uint32_t{el[4 * c + (big_endian ? 3 - b : b)]} << (8 * b);
        HMR_CHECK(valid_code_point(cp), IOError, what, ": element ", i, " holds an invalid code point ", cp);
        append_utf8(value, cp);
      }
    }
    // numpy pads every element to the full length with NULs and drops them again on read.
    value.erase(value.find_last_not_of('\0') + 1);
    out.values.push_back(std::move(value));
  }
  return out;
}

std::vector<uint8_t> npy_strings_to_bytes(const NpyStrings& strings) {
  Tensor::check_numel_matches(static_cast<int64_t>(strings.values.size()), strings.shape);
  std::vector<std::vector<uint32_t>> points;
  size_t length = 1;  // numpy's dtype for an array of empty strings is '<U1'
  for (const std::string& v : strings.values) {
    points.push_back(utf8_code_points(v));
    length = std::max(length, points.back().size());
  }
  std::vector<uint8_t> out = header_bytes(str("<U", length), strings.shape);
  size_t start = out.size();
  out.resize(start + points.size() * length * 4, 0);
  for (size_t i = 0; i < points.size(); ++i)
    for (size_t c = 0; c < points[i].size(); ++c)
      for (int b = 0; b < 4; ++b)
        out[start + (i * length + c) * 4 + b] = static_cast<uint8_t>(points[i][c] >> (8 * b));
  return out;
}

}  // namespace hmr::io
