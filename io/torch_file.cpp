// torch.load without Python. Storages arrive through the pickle's persistent ids: zip members
// (archive/data/<key>) in the zip format, or raw blocks after the pickles in the legacy format.
// One hmr Storage per PyTorch storage key, so views saved together stay views of one buffer.
#include "io/torch_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>

#include "io/file.h"
#include "io/zip.h"
#include "tensor/error.h"

namespace hmr::io {

namespace {

// PyTorch storage class -> element type. int8/int16 storages are widened to int32 (hmr has
// no narrower signed types); element offsets and strides stay valid because they count
// elements, not bytes.
struct StorageType {
  DType dtype;
  int file_itemsize;  // bytes per element in the file
  bool is_signed_narrow;
};

StorageType storage_type(const PickleValue& cls) {
  HMR_CHECK(cls.is(PickleKind::Global), IOError, "torch: storage type must be a class, found ", cls.repr(80));
  static const std::map<std::string, StorageType> kTypes = {
      {"FloatStorage", {DType::F32, 4, false}}, {"DoubleStorage", {DType::F64, 8, false}},
      {"HalfStorage", {DType::F16, 2, false}},  {"BFloat16Storage", {DType::BF16, 2, false}},
      {"LongStorage", {DType::I64, 8, false}},  {"IntStorage", {DType::I32, 4, false}},
      {"ShortStorage", {DType::I32, 2, true}},  {"CharStorage", {DType::I32, 1, true}},
      {"ByteStorage", {DType::U8, 1, false}},   {"BoolStorage", {DType::Bool, 1, false}},
  };
  auto it = kTypes.find(cls.name());
  HMR_CHECK(cls.module() == "torch" && it != kTypes.end(), IOError, "torch: unsupported storage type ",
            cls.qualified_name());
  return it->second;
}

// numel elements of type t from the file's layout at data into dst (t.dtype).
void convert_storage(const StorageType& t, const uint8_t* data, int64_t numel, void* dst) {
  if (numel == 0) return;
  if (!t.is_signed_narrow && t.dtype != DType::Bool) {
    std::memcpy(dst, data, static_cast<size_t>(numel * t.file_itemsize));
    return;
  }
  if (t.dtype == DType::Bool) {  // any nonzero byte is true; keep bool bytes 0/1
    auto* out = static_cast<uint8_t*>(dst);
    for (int64_t i = 0; i < numel; ++i) out[i] = data[i] != 0;
    return;
  }
  auto* out = static_cast<int32_t*>(dst);
  for (int64_t i = 0; i < numel; ++i) {
    if (t.file_itemsize == 1) {
      out[i] = static_cast<int8_t>(data[i]);
    } else {
      int16_t v;
      std::memcpy(&v, data + 2 * i, 2);
      out[i] = v;
    }
  }
}

Tensor storage_from_bytes(const StorageType& t, const uint8_t* data, int64_t numel) {
  Tensor s = Tensor::empty({numel}, t.dtype);
  convert_storage(t, data, numel, s.raw_data());
  return s;
}

constexpr int64_t kMaxDim = int64_t{1} << 40;

// torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
// backward_hooks[, metadata]) and the older _rebuild_tensor(storage, offset, size, stride).
PickleValue rebuild_tensor(PickleArena& arena, const std::vector<PickleValue>& args) {
  HMR_CHECK(args.size() >= 4, IOError, "torch: _rebuild_tensor takes at least 4 arguments, got ",
            args.size());
  HMR_CHECK(args[0].is(PickleKind::Storage), IOError, "torch: _rebuild_tensor expects a storage, found ",
            args[0].repr(80));
  const Tensor& storage = args[0].as_tensor();
  int64_t offset = args[1].as_int();
  Shape sizes, strides;
  for (const PickleValue& v : args[2].elements()) sizes.push_back(v.as_int());
  for (const PickleValue& v : args[3].elements()) strides.push_back(v.as_int());
  HMR_CHECK(sizes.size() <= 64, IOError, "torch: tensor with ", sizes.size(), " dimensions");
  HMR_CHECK(sizes.size() == strides.size(), IOError, "torch: tensor size ", sizes, " and stride ", strides,
            " differ in length");
  int64_t numel = storage.numel();
  HMR_CHECK(offset >= 0 && offset <= numel, IOError, "torch: storage offset ", offset,
            " outside a storage of ", numel, " elements");
  // Bound each term before make_view adds them, so hostile sizes cannot overflow. An empty
  // tensor reaches nothing, whatever its strides.
  bool empty = false;
  for (size_t d = 0; d < sizes.size(); ++d) {
    HMR_CHECK(sizes[d] >= 0 && sizes[d] <= kMaxDim && strides[d] >= 0 && strides[d] <= kMaxDim, IOError,
              "torch: tensor size ", sizes, " / stride ", strides, " out of range");
    empty = empty || sizes[d] == 0;
  }
  for (size_t d = 0; d < sizes.size() && !empty; ++d)
    HMR_CHECK(sizes[d] <= 1 || strides[d] <= numel / (sizes[d] - 1), IOError, "torch: tensor size ", sizes,
              " with stride ", strides, " reaches outside a storage of ", numel, " elements");
  return arena.tensor(
      Tensor::make_view(storage.storage(), sizes, strides, storage.offset() + offset, storage.dtype()));
}

PickleGlobal call_only(std::function<PickleValue(PickleArena&, const std::vector<PickleValue>&)> f) {
  PickleGlobal g;
  g.call = [f](PickleArena& a, const std::string&, const std::string&, const std::vector<PickleValue>& x) {
    return f(a, x);
  };
  return g;
}

// Storages by key, filled by the persistent_load callback of either format.
struct StorageTable {
  std::map<std::string, PickleValue> by_key;
};

std::string pid_key(const PickleValue& v) {
  return v.is(PickleKind::Str) ? v.as_str() : std::to_string(v.as_int());
}

void check_storage_pid(const PickleValue& pid, size_t min_size) {
  HMR_CHECK(pid.is(PickleKind::Tuple) && pid.size() >= min_size && pid[0].is(PickleKind::Str), IOError,
            "torch: unexpected persistent id ", pid.repr(120));
  HMR_CHECK(pid[0].as_str() == "storage", IOError, "torch: persistent id of kind '", pid[0].as_str(),
            "' is not supported (only storages; saved module source code is not)");
}

TorchFile load_zip(const ZipReader& zip) {
  std::string prefix;
  for (const ZipEntry& e : zip.entries()) {
    const std::string suffix = "data.pkl";
    if (e.name.size() >= suffix.size() &&
        e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        e.name.find('/') == e.name.size() - suffix.size() - 1) {
      prefix = e.name.substr(0, e.name.size() - suffix.size());
      break;
    }
  }
  HMR_CHECK(!prefix.empty(), IOError, "torch: ", zip.label(),
            " is a zip archive without <name>/data.pkl (not a torch.save checkpoint)");
  if (const ZipEntry* bo = zip.find(prefix + "byteorder")) {
    std::vector<uint8_t> order = zip.read(*bo);
    HMR_CHECK(std::string(order.begin(), order.end()) == "little", IOError, "torch: ", zip.label(),
              " was saved on a big-endian machine, which is not supported");
  }
  std::vector<uint8_t> pkl = zip.read(prefix + "data.pkl");
  PickleGlobals globals = torch_globals();
  StorageTable table;
  UnpickleOptions opt;
  opt.globals = &globals;
  opt.persistent_load = [&](PickleArena& arena, const PickleValue& pid) {
    check_storage_pid(pid, 5);
    StorageType t = storage_type(pid[1]);
    std::string key = pid_key(pid[2]);
    auto it = table.by_key.find(key);
    if (it != table.by_key.end()) return it->second;
    int64_t numel = pid[4].as_int();
    const ZipEntry* e = zip.find(prefix + "data/" + key);
    HMR_CHECK(e, IOError, "torch: ", zip.label(), " has no member ", prefix, "data/", key);
    // Divide rather than multiply: a hostile numel must not wrap around to the member size.
    HMR_CHECK(numel >= 0 && static_cast<uint64_t>(numel) == e->size / t.file_itemsize &&
                  e->size % t.file_itemsize == 0,
              IOError, "torch: storage ", key, " declares ", numel, " elements of ", t.file_itemsize,
              " bytes but its member holds ", e->size, " bytes");
    Tensor s;
    if (e->method == 0) {
      s = storage_from_bytes(t, zip.stored_data(*e), numel);
    } else {
      std::vector<uint8_t> bytes = zip.read(*e);
      s = storage_from_bytes(t, bytes.data(), numel);
    }
    PickleValue v = arena.storage(s);
    table.by_key.emplace(key, v);
    return v;
  };
  return TorchFile{unpickle(pkl.data(), pkl.size(), opt), "zip"};
}

// The legacy layout: magic, protocol version, sys_info, the object, the storage keys, then
// each storage as an 8-byte little-endian element count and its raw elements.
// The bytes of a legacy file: a mapping of it, or a caller's buffer.
struct ByteView {
  const uint8_t* p;
  size_t n;
  const uint8_t* data() const { return p; }
  size_t size() const { return n; }
  uint8_t operator[](size_t i) const { return p[i]; }
};

TorchFile load_legacy(ByteView bytes) {
  static const uint8_t kMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                   0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
  HMR_CHECK(bytes.size() >= sizeof(kMagic) && std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) == 0, IOError,
            "torch: not a PyTorch checkpoint (neither a zip archive nor the legacy magic number)");
  size_t pos = sizeof(kMagic);
  auto next = [&](const UnpickleOptions& opt) {
    size_t used = 0;
    PickleValue v = unpickle(bytes.data() + pos, bytes.size() - pos, opt, &used);
    pos += used;
    return v;
  };
  PickleGlobals globals = torch_globals();
  UnpickleOptions plain;
  plain.globals = &globals;
  int64_t protocol = next(plain).as_int();
  HMR_CHECK(protocol == 1001, IOError, "torch: legacy protocol version ", protocol,
            " is not supported (expected 1001)");
  PickleValue sys_info = next(plain);
  HMR_CHECK(sys_info.is(PickleKind::Dict), IOError, "torch: legacy sys_info is not a dict");
  PickleValue little = sys_info.find("little_endian");
  HMR_CHECK(!little.defined() || little.as_bool(), IOError,
            "torch: checkpoint was saved on a big-endian machine, which is not supported");

  // Storages are allocated when the pickle names them and filled from the blocks after it.
  struct Pending {
    StorageType type;
    Tensor root;
  };
  std::map<std::string, Pending> roots;
  std::map<std::string, PickleValue> views;
  UnpickleOptions opt = plain;
  opt.persistent_load = [&](PickleArena& arena, const PickleValue& pid) {
    check_storage_pid(pid, 6);
    StorageType t = storage_type(pid[1]);
    std::string key = pid_key(pid[2]);
    int64_t numel = pid[4].as_int();
    HMR_CHECK(numel >= 0 && static_cast<uint64_t>(numel) <= (bytes.size() - pos) / t.file_itemsize, IOError,
              "torch: storage ", key, " declares ", numel, " elements, more than the file holds");
    auto it = roots.find(key);
    if (it == roots.end()) it = roots.emplace(key, Pending{t, Tensor::empty({numel}, t.dtype)}).first;
    HMR_CHECK(it->second.type.dtype == t.dtype, IOError, "torch: storage ", key,
              " is used with two element types");
    const Tensor& root = it->second.root;
    PickleValue view_meta = pid[5];
    if (view_meta.is_none()) {
      auto v = views.find("\x01" + key);
      if (v != views.end()) return v->second;
      PickleValue sv = arena.storage(root);
      views.emplace("\x01" + key, sv);
      return sv;
    }
    // (view_key, offset, view_size): an old-style storage view into the root storage.
    HMR_CHECK(view_meta.is(PickleKind::Tuple) && view_meta.size() == 3, IOError,
              "torch: bad storage view metadata ", view_meta.repr(80));
    std::string view_key = pid_key(view_meta[0]);
    auto v = views.find(view_key);
    if (v != views.end()) return v->second;
    int64_t offset = view_meta[1].as_int(), size = view_meta[2].as_int();
    HMR_CHECK(offset >= 0 && size >= 0 && offset <= root.numel() && size <= root.numel() - offset, IOError,
              "torch: storage view [", offset, ", +", size, ") outside storage ", key, " of ", root.numel(),
              " elements");
    PickleValue sv = arena.storage(Tensor::make_view(root.storage(), {size}, {1}, offset, t.dtype));
    views.emplace(view_key, sv);
    return sv;
  };
  PickleValue root = next(opt);
  PickleValue keys = next(plain);
  HMR_CHECK(keys.is(PickleKind::List), IOError, "torch: legacy storage key list is not a list");
  for (const PickleValue& k : keys.elements()) {
    std::string key = pid_key(k);
    auto it = roots.find(key);
    HMR_CHECK(it != roots.end(), IOError, "torch: storage ", key, " is listed but never used");
    HMR_CHECK(bytes.size() - pos >= 8, IOError, "torch: truncated before storage ", key);
    uint64_t count = 0;
    for (int b = 0; b < 8; ++b) count |= uint64_t{bytes[pos + b]} << (8 * b);
    pos += 8;
    const Pending& p = it->second;
    HMR_CHECK(count == static_cast<uint64_t>(p.root.numel()), IOError, "torch: storage ", key, " holds ",
              count, " elements but the pickle declared ", p.root.numel());
    uint64_t nbytes = count * static_cast<uint64_t>(p.type.file_itemsize);
    HMR_CHECK(nbytes <= bytes.size() - pos, IOError, "torch: storage ", key, " truncated: ", nbytes,
              " bytes needed, ", bytes.size() - pos, " left");
    convert_storage(p.type, bytes.data() + pos, p.root.numel(), p.root.raw_data());
    pos += static_cast<size_t>(nbytes);
  }
  return TorchFile{root, "legacy"};
}

bool is_zip(const uint8_t* p, size_t n) { return n >= 4 && std::memcmp(p, "PK\x03\x04", 4) == 0; }

bool is_tensor_dict(const PickleValue& v) {
  if (!v.is(PickleKind::Dict) || v.size() == 0) return false;
  for (const auto& [k, t] : v.items())
    if (!k.is(PickleKind::Str) || !t.is(PickleKind::Tensor)) return false;
  return true;
}

}  // namespace

PickleGlobals torch_globals() {
  PickleGlobals g = PickleGlobals::standard();
  for (const char* name : {"_rebuild_tensor_v2", "_rebuild_tensor"})
    g.add("torch._utils", name, call_only(rebuild_tensor));
  // Parameters load as their data: hmr marks requires_grad when a module adopts them.
  auto parameter = call_only([](PickleArena&, const std::vector<PickleValue>& x) {
    HMR_CHECK(!x.empty() && x[0].is(PickleKind::Tensor), IOError,
              "torch: _rebuild_parameter expects a tensor first");
    return x[0];
  });
  g.add("torch._utils", "_rebuild_parameter", parameter);
  g.add("torch._utils", "_rebuild_parameter_with_state", parameter);
  for (const char* s : {"FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "LongStorage",
                        "IntStorage", "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage"})
    g.add("torch", s, {});
  g.add("torch", "device", {});
  g.add("torch", "Size", call_only([](PickleArena& a, const std::vector<PickleValue>& x) {
          HMR_CHECK(x.size() == 1, IOError, "torch: torch.Size takes one tuple");
          return a.tuple(x[0].elements());
        }));
  g.add("torch.storage", "_load_from_bytes",
        call_only([](PickleArena&, const std::vector<PickleValue>&) -> PickleValue {
          throw IOError(
              "torch: torch.storage._load_from_bytes: this file pickles tensors with "
              "pickle.dump (each storage a nested torch.save), which is not supported; "
              "re-save it with torch.save");
        }));
  return g;
}

TorchFile load_torch_bytes(std::vector<uint8_t> bytes, const std::string& label) {
  try {
    if (is_zip(bytes.data(), bytes.size())) return load_zip(ZipReader::from_bytes(std::move(bytes), label));
    return load_legacy(ByteView{bytes.data(), bytes.size()});
  } catch (const IOError& e) {
    throw IOError(str(label, ": ", e.what()));
  }
}

TorchFile load_torch(const std::string& path) {
  // Only the first bytes decide the format; a zip is then mapped, not read.
  uint8_t head[4] = {0, 0, 0, 0};
  size_t got = 0;
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    got = std::fread(head, 1, sizeof(head), f);
    std::fclose(f);
  }
  if (is_zip(head, got)) {
    try {
      return load_zip(ZipReader::open(path));
    } catch (const IOError& e) {
      throw IOError(str(path, ": ", e.what()));
    }
  }
  // Legacy files are mapped too: storages are copied once, from the page cache to tensors.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd >= 0 && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    auto n = static_cast<size_t>(st.st_size);
    void* map = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (map != MAP_FAILED) {
      std::unique_ptr<void, std::function<void(void*)>> unmap(map, [n](void* m) { ::munmap(m, n); });
      try {
        return load_legacy(ByteView{static_cast<const uint8_t*>(map), n});
      } catch (const IOError& e) {
        throw IOError(str(path, ": ", e.what()));
      }
    }
  } else if (fd >= 0) {
    ::close(fd);
  }
  std::string bytes = read_file(path);  // pipes; and names the path and reason when unreadable
  return load_torch_bytes(std::vector<uint8_t>(bytes.begin(), bytes.end()), path);
}

TensorDict state_dict_of(const PickleValue& root, const std::string& key_path, bool strip_module_prefix) {
  PickleValue v = root;
  if (!key_path.empty()) {
    size_t start = 0;
    while (start <= key_path.size()) {
      size_t dot = key_path.find('.', start);
      std::string key = key_path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      HMR_CHECK(v.is(PickleKind::Dict), IOError, "torch: state_dict_of('", key_path, "'): '", key,
                "' is looked up in a ", pickle_kind_name(v.kind()), ", not a dict");
      PickleValue next = v.find(key);
      HMR_CHECK(next.defined(), IOError, "torch: state_dict_of('", key_path, "'): no key '", key,
                "'; keys there: ", v.str_keys());
      v = next;
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    HMR_CHECK(is_tensor_dict(v), IOError, "torch: state_dict_of('", key_path,
              "'): the value there is not a dict of str -> tensor: ", v.repr(120));
  } else if (!is_tensor_dict(v)) {
    HMR_CHECK(v.is(PickleKind::Dict), IOError, "torch: checkpoint root is a ", pickle_kind_name(v.kind()),
              ", not a dict holding a state dict");
    PickleValue found;
    for (const char* key : {"state_dict", "model", "model_state_dict"}) {
      PickleValue c = v.find(key);
      if (c.defined() && is_tensor_dict(c)) {
        found = c;
        break;
      }
    }
    HMR_CHECK(found.defined(), IOError,
              "torch: no state dict in the checkpoint (tried the root, "
              "'state_dict', 'model', 'model_state_dict'); top-level keys: ",
              v.str_keys());
    v = found;
  }
  bool strip = strip_module_prefix;
  for (const auto& [k, t] : v.items()) strip = strip && k.as_str().rfind("module.", 0) == 0;
  TensorDict out;
  for (const auto& [k, t] : v.items()) out.set(strip ? k.as_str().substr(7) : k.as_str(), t.as_tensor());
  return out;
}

}  // namespace hmr::io
