// A small JSON value, parser and writer (RFC 8259) for safetensors headers and for annotation
// files (OpenPose keypoints, COCO). Objects keep their keys in file order and reject duplicate
// keys; integers without fraction or exponent that fit int64 are kept exactly (offsets above
// 2^53 survive). Parse errors are IOErrors giving the source label and byte offset.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hmr::io {

class Json {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool b) : type_(Type::Bool), bool_(b) {}
  Json(int v) : Json(static_cast<int64_t>(v)) {}
  Json(int64_t v) : type_(Type::Number), is_int_(true), int_(v), num_(static_cast<double>(v)) {}
  Json(uint64_t v) = delete;  // would silently wrap above 2^63; convert explicitly
  Json(double v) : type_(Type::Number), num_(v) {}
  Json(std::string s) : type_(Type::String), str_(std::move(s)) {}
  Json(const char* s) : Json(std::string(s)) {}
  static Json array() { return Json(Type::Array); }
  static Json object() { return Json(Type::Object); }

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_integer() const { return type_ == Type::Number && is_int_; }  // exact int64
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  // Typed access; IOError naming the expected and actual type on a mismatch.
  bool as_bool() const;
  double as_double() const;
  int64_t as_int() const;  // integers only (1.0 is not accepted: it was not written as one)
  const std::string& as_string() const;

  // Arrays and objects: size() counts elements or members.
  size_t size() const;
  const Json& operator[](size_t i) const;  // IndexError-free: IOError when out of range
  void push_back(Json v);
  // Objects: members in insertion order.
  const std::vector<std::string>& keys() const;
  const Json& value(size_t i) const;
  const Json* find(const std::string& key) const;  // nullptr when absent
  const Json& at(const std::string& key) const;    // IOError naming the key when absent
  void set(const std::string& key, Json v);        // inserts or replaces in place

 private:
  explicit Json(Type t) : type_(t) {}
  void expect(Type t) const;

  Type type_ = Type::Null;
  bool bool_ = false;
  bool is_int_ = false;
  int64_t int_ = 0;
  double num_ = 0;
  std::string str_;
  std::vector<Json> items_;        // array elements, or object values
  std::vector<std::string> keys_;  // object keys, parallel to items_
};

const char* json_type_name(Json::Type t);

// Parses one JSON document (surrounding whitespace allowed). label names the source in errors.
// More than max_depth nested arrays/objects is an error rather than a stack overflow.
Json parse_json(std::string_view text, const std::string& label = "<json>", int max_depth = 256);
Json load_json(const std::string& path);

// Serialises v; indent < 0 writes the compact form, otherwise pretty-prints with that many
// spaces per level. Non-finite numbers are an IOError (JSON has none). Strings are written as
// UTF-8 with only the required escapes.
std::string to_json(const Json& v, int indent = -1);

}  // namespace hmr::io
