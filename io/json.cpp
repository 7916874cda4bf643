// JSON parsing (recursive descent with a depth limit) and writing. Numbers go through
// std::from_chars/to_chars, which ignore the C locale and round-trip doubles exactly.
#include "io/json.h"

#include <charconv>
#include <cmath>
#include <unordered_set>

#include "io/file.h"
#include "tensor/error.h"

namespace hmr::io {

const char* json_type_name(Json::Type t) {
  switch (t) {
    case Json::Type::Null:
      return "null";
    case Json::Type::Bool:
      return "bool";
    case Json::Type::Number:
      return "number";
    case Json::Type::String:
      return "string";
    case Json::Type::Array:
      return "array";
    case Json::Type::Object:
      return "object";
  }
  return "?";
}

void Json::expect(Type t) const {
  HMR_CHECK(type_ == t, IOError, "json: expected ", json_type_name(t), " but found ", json_type_name(type_));
}

bool Json::as_bool() const {
  expect(Type::Bool);
  return bool_;
}
double Json::as_double() const {
  expect(Type::Number);
  return num_;
}
int64_t Json::as_int() const {
  expect(Type::Number);
  HMR_CHECK(is_int_, IOError, "json: expected an integer but found ", num_);
  return int_;
}
const std::string& Json::as_string() const {
  expect(Type::String);
  return str_;
}

size_t Json::size() const {
  HMR_CHECK(type_ == Type::Array || type_ == Type::Object, IOError, "json: size() of a ",
            json_type_name(type_));
  return items_.size();
}
const Json& Json::operator[](size_t i) const {
  expect(Type::Array);
  HMR_CHECK(i < items_.size(), IOError, "json: index ", i, " out of range for an array of ", items_.size());
  return items_[i];
}
void Json::push_back(Json v) {
  expect(Type::Array);
  items_.push_back(std::move(v));
}
const std::vector<std::string>& Json::keys() const {
  expect(Type::Object);
  return keys_;
}
const Json& Json::value(size_t i) const {
  expect(Type::Object);
  HMR_CHECK(i < items_.size(), IOError, "json: member ", i, " out of range for an object of ", items_.size());
  return items_[i];
}
const Json* Json::find(const std::string& key) const {
  expect(Type::Object);
  for (size_t i = 0; i < keys_.size(); ++i)
    if (keys_[i] == key) return &items_[i];
  return nullptr;
}
const Json& Json::at(const std::string& key) const {
  const Json* v = find(key);
  HMR_CHECK(v != nullptr, IOError, "json: object has no member '", key, "'");
  return *v;
}
void Json::set(const std::string& key, Json v) {
  expect(Type::Object);
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i] == key) {
      items_[i] = std::move(v);
      return;
    }
  }
  keys_.push_back(key);
  items_.push_back(std::move(v));
}

// ---- parser ---------------------------------------------------------------------------------

namespace {

class Parser {
 public:
  Parser(std::string_view s, const std::string& label, int max_depth)
      : s_(s), label_(label), max_depth_(max_depth) {}

  Json document() {
    Json v = value(0);
    skip_space();
    fail_if(pos_ != s_.size(), "unexpected text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw IOError(str("json: '", label_, "': ", why, " at offset ", pos_));
  }
  void fail_if(bool bad, const char* why) const {
    if (bad) fail(why);
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool at_end() const { return pos_ >= s_.size(); }
  bool literal(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }

  Json value(int depth) {
    skip_space();
    fail_if(at_end(), "unexpected end of input");
    char c = s_[pos_];
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') return Json(string());
    if (literal("true")) return Json(true);
    if (literal("false")) return Json(false);
    if (literal("null")) return Json();
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    fail(str("unexpected character '", c, "'"));
  }

  Json object(int depth) {
    fail_if(depth >= max_depth_, "nesting is too deep");
    ++pos_;
    Json obj = Json::object();
    std::unordered_set<std::string> seen;  // Json::find is linear; hostile headers have many keys
    skip_space();
    if (!at_end() && s_[pos_] == '}') {
      ++pos_;
      return obj;
    }
    for (;;) {
      skip_space();
      fail_if(at_end() || s_[pos_] != '"', "expected a string key");
      size_t key_pos = pos_;
      std::string key = string();
      if (!seen.insert(key).second) {
        pos_ = key_pos;
        fail("duplicate key '" + key + "'");
      }
      skip_space();
      fail_if(at_end() || s_[pos_] != ':', "expected ':'");
      ++pos_;
      obj.set(key, value(depth + 1));
      skip_space();
      fail_if(at_end(), "unterminated object");
      if (s_[pos_] == '}') {
        ++pos_;
        return obj;
      }
      fail_if(s_[pos_] != ',', "expected ',' or '}'");
      ++pos_;
    }
  }

  Json array(int depth) {
    fail_if(depth >= max_depth_, "nesting is too deep");
    ++pos_;
    Json arr = Json::array();
    skip_space();
    if (!at_end() && s_[pos_] == ']') {
      ++pos_;
      return arr;
    }
    for (;;) {
      arr.push_back(value(depth + 1));
      skip_space();
      fail_if(at_end(), "unterminated array");
      if (s_[pos_] == ']') {
        ++pos_;
        return arr;
      }
      fail_if(s_[pos_] != ',', "expected ',' or ']'");
      ++pos_;
    }
  }

  unsigned hex4() {
    fail_if(pos_ + 4 > s_.size(), "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<unsigned>(c - 'A' + 10);
      else
        fail("bad hex digit in \\u escape");
    }
    return v;
  }

  static void append_utf8(std::string& out, unsigned cp) {
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

  std::string string() {
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      fail_if(at_end(), "unterminated string");
      char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) {
        --pos_;
        fail("control character in string");
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      fail_if(at_end(), "unterminated escape");
      char e = s_[pos_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // high surrogate: a low one must follow
            fail_if(!literal("\\u"), "unpaired surrogate in \\u escape");
            unsigned lo = hex4();
            fail_if(lo < 0xDC00 || lo > 0xDFFF, "unpaired surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else {
            fail_if(cp >= 0xDC00 && cp <= 0xDFFF, "unpaired surrogate in \\u escape");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          --pos_;
          fail("bad escape");
      }
    }
  }

  Json number() {
    size_t start = pos_;
    auto digit = [&] { return !at_end() && s_[pos_] >= '0' && s_[pos_] <= '9'; };
    if (s_[pos_] == '-') ++pos_;
    fail_if(!digit(), "expected a digit");
    if (s_[pos_] == '0') {
      ++pos_;
    } else {
      while (digit()) ++pos_;
    }
    bool integral = true;
    if (!at_end() && s_[pos_] == '.') {
      integral = false;
      ++pos_;
      fail_if(!digit(), "expected a digit after '.'");
      while (digit()) ++pos_;
    }
    if (!at_end() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (!at_end() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      fail_if(!digit(), "expected a digit in the exponent");
      while (digit()) ++pos_;
    }
    const char* b = s_.data() + start;
    const char* e = s_.data() + pos_;
    if (integral) {
      int64_t v = 0;
      auto r = std::from_chars(b, e, v);
      // "-0" stays a double so that -0.0 survives a write/parse round trip.
      if (r.ec == std::errc() && r.ptr == e && !(v == 0 && *b == '-')) return Json(v);
    }
    double d = 0;
    auto r = std::from_chars(b, e, d);
    // Out-of-range literals (1e999) are rejected: JSON has no infinity to give back.
    if (r.ec != std::errc() || r.ptr != e) {
      pos_ = start;
      fail("number out of range");
    }
    return Json(d);
  }

  std::string_view s_;
  const std::string& label_;
  int max_depth_;
  size_t pos_ = 0;
};

// ---- writer ---------------------------------------------------------------------------------

void write_string(std::string& out, const std::string& s) {
  static const char* kHex = "0123456789abcdef";
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(c >> 4) & 0xF];
          out += kHex[c & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void newline(std::string& out, int indent, int depth) {
  if (indent < 0) return;
  out += '\n';
  out.append(static_cast<size_t>(indent * depth), ' ');
}

void write_value(std::string& out, const Json& v, int indent, int depth) {
  switch (v.type()) {
    case Json::Type::Null:
      out += "null";
      return;
    case Json::Type::Bool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Json::Type::String:
      write_string(out, v.as_string());
      return;
    case Json::Type::Number: {
      char buf[64];
      std::to_chars_result r{};
      if (v.is_integer()) {
        r = std::to_chars(buf, buf + sizeof(buf), v.as_int());
      } else {
        HMR_CHECK(std::isfinite(v.as_double()), IOError, "json: cannot write the non-finite number ",
                  v.as_double());
        r = std::to_chars(buf, buf + sizeof(buf), v.as_double());
      }
      out.append(buf, r.ptr);
      return;
    }
    case Json::Type::Array: {
      out += '[';
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        newline(out, indent, depth + 1);
        write_value(out, v[i], indent, depth + 1);
      }
      if (v.size()) newline(out, indent, depth);
      out += ']';
      return;
    }
    case Json::Type::Object: {
      out += '{';
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        newline(out, indent, depth + 1);
        write_string(out, v.keys()[i]);
        out += indent < 0 ? ":" : ": ";
        write_value(out, v.value(i), indent, depth + 1);
      }
      if (v.size()) newline(out, indent, depth);
      out += '}';
      return;
    }
  }
}

}  // namespace

Json parse_json(std::string_view text, const std::string& label, int max_depth) {
  return Parser(text, label, max_depth).document();
}

Json load_json(const std::string& path) { return parse_json(read_file(path), path); }

std::string to_json(const Json& v, int indent) {
  std::string out;
  write_value(out, v, indent, 0);
  return out;
}

}  // namespace hmr::io
