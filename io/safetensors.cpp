// safetensors reading and writing on top of io/json. The reader never trusts the header: the
// header length is capped, and every tensor's byte range must lie in the data section, match
// its shape and dtype exactly, and not overlap another tensor's.
#include "io/safetensors.h"

#include <algorithm>

#include "io/file.h"
#include "io/json.h"
#include "io/tensor_bytes.h"

namespace hmr::io {

namespace {

constexpr uint64_t kMaxHeader = 100'000'000;  // the reference implementation's limit
constexpr const char* kMetadataKey = "__metadata__";

struct DTypeName {
  const char* name;
  DType dtype;
};
constexpr DTypeName kDTypes[] = {{"F64", DType::F64},   {"F32", DType::F32},  {"F16", DType::F16},
                                 {"BF16", DType::BF16}, {"I64", DType::I64},  {"I32", DType::I32},
                                 {"U8", DType::U8},     {"BOOL", DType::Bool}};

DType parse_dtype(const std::string& s, const std::string& where) {
  for (const DTypeName& d : kDTypes)
    if (s == d.name) return d.dtype;
  HMR_CHECK(false, IOError, where, ": unsupported dtype '", s,
            "' (supported: F64 F32 F16 BF16 I64 I32 U8 BOOL)");
  return DType::F32;
}

const char* dtype_tag(DType t) {
  for (const DTypeName& d : kDTypes)
    if (d.dtype == t) return d.name;
  return "?";
}

uint64_t le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

struct Range {
  uint64_t begin, end;
  std::string name;
};

// Non-negative integers of a JSON array, IOError naming where and what otherwise.
std::vector<int64_t> int_array(const Json& v, const std::string& where, const char* field) {
  HMR_CHECK(v.is_array(), IOError, where, ": '", field, "' must be an array");
  std::vector<int64_t> out;
  for (size_t i = 0; i < v.size(); ++i) {
    HMR_CHECK(v[i].is_integer() && v[i].as_int() >= 0, IOError, where, ": '", field,
              "' must hold non-negative integers");
    out.push_back(v[i].as_int());
  }
  return out;
}

}  // namespace

SafetensorsFile safetensors_from_bytes(const uint8_t* data, size_t size, const std::string& label) {
  std::string file = str("safetensors: '", label, "'");
  HMR_CHECK(size >= 8, IOError, file, " is too small (", size, " bytes)");
  uint64_t header_len = le64(data);
  HMR_CHECK(header_len <= kMaxHeader && header_len <= size - 8, IOError, file, ": header length ", header_len,
            " exceeds the file (", size, " bytes) or the ", kMaxHeader, "-byte limit");
  std::string_view text(reinterpret_cast<const char*>(data + 8), static_cast<size_t>(header_len));
  Json header = parse_json(text, label + " (header)", 64);
  HMR_CHECK(header.is_object(), IOError, file, ": header must be a JSON object");
  const uint8_t* section = data + 8 + header_len;
  const uint64_t section_size = size - 8 - header_len;

  SafetensorsFile out;
  std::vector<Range> ranges;
  for (size_t i = 0; i < header.size(); ++i) {
    const std::string& name = header.keys()[i];
    const Json& v = header.value(i);
    if (name == kMetadataKey) {
      HMR_CHECK(v.is_object(), IOError, file, ": __metadata__ must be an object of strings");
      for (size_t k = 0; k < v.size(); ++k) {
        HMR_CHECK(v.value(k).is_string(), IOError, file, ": __metadata__ value of '", v.keys()[k],
                  "' must be a string");
        out.metadata[v.keys()[k]] = v.value(k).as_string();
      }
      continue;
    }
    std::string where = str(file, " tensor '", name, "'");
    HMR_CHECK(v.is_object() && v.find("dtype") && v.find("shape") && v.find("data_offsets"), IOError, where,
              ": entry needs dtype, shape and data_offsets");
    HMR_CHECK(v.at("dtype").is_string(), IOError, where, ": dtype must be a string");
    DType dtype = parse_dtype(v.at("dtype").as_string(), where);
    Shape shape = int_array(v.at("shape"), where, "shape");
    std::vector<int64_t> offsets = int_array(v.at("data_offsets"), where, "data_offsets");
    HMR_CHECK(offsets.size() == 2 && offsets[0] <= offsets[1], IOError, where,
              ": data_offsets must be [begin, end] with begin <= end");
    uint64_t begin = static_cast<uint64_t>(offsets[0]), end = static_cast<uint64_t>(offsets[1]);
    HMR_CHECK(end <= section_size, IOError, where, ": data_offsets [", begin, ", ", end, "] lie outside the ",
              section_size, "-byte data section");
    // tensor_from_bytes checks that the range holds exactly shape * itemsize bytes.
    out.tensors.set(
        name, tensor_from_bytes(section + begin, static_cast<size_t>(end - begin), shape, dtype, where));
    if (end > begin) ranges.push_back({begin, end, name});
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i)
    HMR_CHECK(ranges[i].begin >= ranges[i - 1].end, IOError, file, ": tensors '", ranges[i - 1].name,
              "' and '", ranges[i].name, "' overlap");
  return out;
}

SafetensorsFile load_safetensors(const std::string& path) {
  std::string bytes = read_file(path);
  return safetensors_from_bytes(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);
}

std::vector<uint8_t> safetensors_to_bytes(const TensorDict& tensors,
                                          const std::map<std::string, std::string>& metadata) {
  // Data order: larger elements first, stable, so every tensor starts aligned to its size.
  std::vector<const TensorDict::Item*> order;
  for (const auto& item : tensors) {
    HMR_CHECK(item.first != kMetadataKey, IOError,
              "save_safetensors: a tensor may not be named __metadata__");
    order.push_back(&item);
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const auto* a, const auto* b) { return a->second.itemsize() > b->second.itemsize(); });
  std::map<std::string, std::pair<uint64_t, uint64_t>> offsets;
  uint64_t cursor = 0;
  for (const auto* item : order) {
    uint64_t n = static_cast<uint64_t>(item->second.numel() * item->second.itemsize());
    offsets[item->first] = {cursor, cursor + n};
    cursor += n;
  }

  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [k, v] : metadata) meta.set(k, Json(v));
    header.set(kMetadataKey, std::move(meta));
  }
  for (const auto& [name, t] : tensors) {
    Json entry = Json::object();
    entry.set("dtype", Json(dtype_tag(t.dtype())));
    Json shape = Json::array();
    for (int64_t s : t.sizes()) shape.push_back(Json(s));
    entry.set("shape", std::move(shape));
    Json range = Json::array();
    range.push_back(Json(static_cast<int64_t>(offsets[name].first)));
    range.push_back(Json(static_cast<int64_t>(offsets[name].second)));
    entry.set("data_offsets", std::move(range));
    header.set(name, std::move(entry));
  }
  std::string text = to_json(header);
  text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-aligned

  std::vector<uint8_t> out;
  out.reserve(8 + text.size() + cursor);
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i)));
  out.insert(out.end(), text.begin(), text.end());
  for (const auto* item : order) {
    std::vector<uint8_t> bytes = contiguous_bytes(item->second);
    out.insert(out.end(), bytes.begin(), bytes.end());
  }
  return out;
}

void save_safetensors(const std::string& path, const TensorDict& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<uint8_t> bytes = safetensors_to_bytes(tensors, metadata);
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace hmr::io
