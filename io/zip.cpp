// ZIP reading and writing (PKWARE APPNOTE 6.3: local headers, central directory, end record,
// zip64 records). Only stored and deflated members; deflate goes through zlib in raw mode.
// The reader is defensive: it is fed checkpoints downloaded from anywhere.
#include "io/zip.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "io/file.h"
#include "tensor/error.h"

namespace hmr::io {

namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndSize = 22;
constexpr size_t kZip64EndSize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kPaddingExtraId = 0x4850;  // "PH": ours, ignored by every other reader
constexpr uint32_t kMax32 = 0xFFFFFFFFu;
constexpr uint16_t kMax16 = 0xFFFFu;
// Deflate cannot expand data by more than ~1032x; a larger declared ratio is a lie.
constexpr uint64_t kMaxDeflateRatio = 1032;

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t le64(const uint8_t* p) {
  return static_cast<uint64_t>(le32(p)) | (static_cast<uint64_t>(le32(p + 4)) << 32);
}

// Whether [offset, offset + n) lies inside a buffer of size bytes, without overflow.
bool in_bounds(uint64_t offset, uint64_t n, uint64_t size) { return offset <= size && n <= size - offset; }

// The zip64 extra field replaces, in this order, each 32-bit field that holds 0xFFFFFFFF.
struct Zip64Fields {
  uint64_t* size;
  uint64_t* compressed_size;
  uint64_t* local_offset;
};

void apply_zip64_extra(const uint8_t* extra, size_t n, Zip64Fields f, const std::string& where) {
  size_t pos = 0;
  while (pos + 4 <= n) {
    uint16_t id = le16(extra + pos), len = le16(extra + pos + 2);
    HMR_CHECK(pos + 4 + len <= n, IOError, where, ": extra field runs past its header");
    if (id == kZip64ExtraId) {
      const uint8_t* p = extra + pos + 4;
      size_t left = len;
      for (uint64_t* field : {f.size, f.compressed_size, f.local_offset}) {
        if (field == nullptr || *field != kMax32) continue;
        HMR_CHECK(left >= 8, IOError, where, ": zip64 extra field is too short");
        *field = le64(p);
        p += 8;
        left -= 8;
      }
      return;
    }
    pos += 4 + len;
  }
}

class Mapping {
 public:
  Mapping(void* p, size_t n) : p_(p), n_(n) {}
  ~Mapping() { ::munmap(p_, n_); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  const uint8_t* data() const { return static_cast<const uint8_t*>(p_); }

 private:
  void* p_;
  size_t n_;
};

// --- little-endian output --------------------------------------------------------------------
void put16(std::vector<uint8_t>& o, uint64_t v) {
  o.push_back(static_cast<uint8_t>(v));
  o.push_back(static_cast<uint8_t>(v >> 8));
}
void put32(std::vector<uint8_t>& o, uint64_t v) {
  put16(o, v & 0xFFFF);
  put16(o, (v >> 16) & 0xFFFF);
}
void put64(std::vector<uint8_t>& o, uint64_t v) {
  put32(o, v & kMax32);
  put32(o, v >> 32);
}

std::vector<uint8_t> deflate_raw(const uint8_t* data, size_t n, const std::string& what) {
  z_stream zs{};
  HMR_CHECK(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK, IOError,
            what, ": zlib deflateInit failed");
  std::vector<uint8_t> out(deflateBound(&zs, static_cast<uLong>(n)) + 16);
  zs.next_in = const_cast<Bytef*>(data);
  zs.next_out = out.data();
  // zlib's counters are 32-bit uInt; feed and drain in chunks for members above 4 GiB.
  size_t in_left = n, out_left = out.size();
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    uInt in_chunk = static_cast<uInt>(std::min<size_t>(in_left, 1u << 30));
    uInt out_chunk = static_cast<uInt>(std::min<size_t>(out_left, 1u << 30));
    zs.avail_in = in_chunk;
    zs.avail_out = out_chunk;
    rc = deflate(&zs, in_left == in_chunk ? Z_FINISH : Z_NO_FLUSH);
    in_left -= in_chunk - zs.avail_in;
    out_left -= out_chunk - zs.avail_out;
    if (rc != Z_OK) break;
  }
  deflateEnd(&zs);
  HMR_CHECK(rc == Z_STREAM_END, IOError, what, ": zlib deflate failed (", rc, ")");
  out.resize(out.size() - out_left);
  return out;
}

uint32_t crc_of(const uint8_t* data, size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {
    uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = crc32(crc, data, chunk);
    data += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

}  // namespace

// ---- reader ----------------------------------------------------------------------------------

ZipReader ZipReader::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  HMR_CHECK(fd >= 0, IOError, "zip: cannot open '", path, "': ", std::strerror(errno));
  struct stat st {};
  int stat_rc = ::fstat(fd, &st);
  int stat_errno = errno;
  if (stat_rc != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    HMR_CHECK(stat_rc == 0, IOError, "zip: cannot stat '", path, "': ", std::strerror(stat_errno));
    // Pipes and devices: fall back to reading the bytes.
    std::string bytes = read_file(path);
    return from_bytes(std::vector<uint8_t>(bytes.begin(), bytes.end()), path);
  }
  size_t n = static_cast<size_t>(st.st_size);
  ZipReader r;
  r.label_ = path;
  if (n > 0) {
    void* p = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    ::close(fd);
    HMR_CHECK(p != MAP_FAILED, IOError, "zip: cannot map '", path, "': ", std::strerror(map_errno));
    auto mapping = std::make_shared<Mapping>(p, n);
    r.data_ = mapping->data();
    r.size_ = n;
    r.owner_ = std::move(mapping);
  } else {
    ::close(fd);
  }
  r.parse();
  return r;
}

ZipReader ZipReader::from_bytes(std::vector<uint8_t> bytes, std::string label) {
  ZipReader r;
  auto owned = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  r.data_ = owned->data();
  r.size_ = owned->size();
  r.owner_ = std::move(owned);
  r.label_ = std::move(label);
  r.parse();
  return r;
}

void ZipReader::parse() {
  const std::string& L = label_;
  HMR_CHECK(size_ >= kEndSize, IOError, "zip: '", L, "' is too small to be a zip archive (", size_,
            " bytes)");
  // The end record sits in the last 22 + 65535 (comment) bytes; scan backwards for it.
  size_t lowest = size_ > kEndSize + kMax16 ? size_ - kEndSize - kMax16 : 0;
  size_t end_pos = std::numeric_limits<size_t>::max();
  for (size_t p = size_ - kEndSize + 1; p-- > lowest;) {
    if (le32(data_ + p) == kEndSig && p + kEndSize + le16(data_ + p + 20) <= size_) {
      end_pos = p;
      break;
    }
  }
  HMR_CHECK(end_pos != std::numeric_limits<size_t>::max(), IOError, "zip: '", L,
            "' is not a zip archive (no end-of-central-directory record)");
  const uint8_t* end = data_ + end_pos;
  uint64_t count = le16(end + 10);
  uint64_t cd_size = le32(end + 12);
  uint64_t cd_offset = le32(end + 16);
  HMR_CHECK(le16(end + 4) == 0 && le16(end + 6) == 0 && le16(end + 8) == le16(end + 10), IOError, "zip: '", L,
            "' is a multi-disk archive (unsupported)");

  uint64_t cd_limit = end_pos;  // the central directory ends before the end record(s)
  if (count == kMax16 || cd_size == kMax32 || cd_offset == kMax32) {
    HMR_CHECK(end_pos >= kZip64LocatorSize && le32(end - kZip64LocatorSize) == kZip64LocatorSig, IOError,
              "zip: '", L, "': end record asks for zip64 but the zip64 locator is missing");
    uint64_t z_end = le64(end - kZip64LocatorSize + 8);
    HMR_CHECK(z_end <= end_pos - kZip64LocatorSize &&
                  in_bounds(z_end, kZip64EndSize, end_pos - kZip64LocatorSize) &&
                  le32(data_ + z_end) == kZip64EndSig,
              IOError, "zip: '", L, "': zip64 end record offset ", z_end, " is invalid");
    const uint8_t* z = data_ + z_end;
    count = le64(z + 32);
    cd_size = le64(z + 40);
    cd_offset = le64(z + 48);
    HMR_CHECK(le32(z + 16) == 0 && le32(z + 20) == 0 && le64(z + 24) == count, IOError, "zip: '", L,
              "' is a multi-disk archive (unsupported)");
    cd_limit = z_end;
  }
  HMR_CHECK(in_bounds(cd_offset, cd_size, cd_limit), IOError, "zip: '", L, "': central directory (offset ",
            cd_offset, ", ", cd_size, " bytes) lies outside the archive");
  HMR_CHECK(count <= cd_size / kCentralHeaderSize, IOError, "zip: '", L, "': ", count,
            " entries cannot fit in a central directory of ", cd_size, " bytes");

  entries_.clear();
  entries_.reserve(static_cast<size_t>(count));
  index_.clear();
  uint64_t pos = cd_offset;
  const uint64_t cd_end = cd_offset + cd_size;
  for (uint64_t i = 0; i < count; ++i) {
    std::string where = str("zip: '", L, "' central directory entry ", i);
    HMR_CHECK(in_bounds(pos, kCentralHeaderSize, cd_end) && le32(data_ + pos) == kCentralHeaderSig, IOError,
              where, ": bad signature or truncated at offset ", pos);
    const uint8_t* h = data_ + pos;
    uint16_t flags = le16(h + 8);
    ZipEntry e;
    e.method = le16(h + 10);
    e.crc32 = le32(h + 16);
    e.compressed_size = le32(h + 20);
    e.size = le32(h + 24);
    size_t name_len = le16(h + 28), extra_len = le16(h + 30), comment_len = le16(h + 32);
    uint64_t local = le32(h + 42);
    HMR_CHECK(in_bounds(pos + kCentralHeaderSize, name_len + extra_len + comment_len, cd_end), IOError, where,
              ": name/extra/comment run past the central directory");
    e.name.assign(reinterpret_cast<const char*>(h + kCentralHeaderSize), name_len);
    where = str("zip: '", L, "' entry '", e.name, "'");
    apply_zip64_extra(h + kCentralHeaderSize + name_len, extra_len, {&e.size, &e.compressed_size, &local},
                      where);
    HMR_CHECK((flags & 1) == 0, IOError, where, " is encrypted (unsupported)");
    HMR_CHECK(index_.emplace(e.name, entries_.size()).second, IOError, "zip: '", L,
              "' has two entries named '", e.name, "'");

    HMR_CHECK(in_bounds(local, kLocalHeaderSize, cd_offset) && le32(data_ + local) == kLocalHeaderSig,
              IOError, where, ": local header at offset ", local, " is missing or truncated");
    uint64_t data_start = local + kLocalHeaderSize + le16(data_ + local + 26) + le16(data_ + local + 28);
    HMR_CHECK(in_bounds(data_start, e.compressed_size, cd_offset), IOError, where, ": data (offset ",
              data_start, ", ", e.compressed_size, " bytes) runs past the archive's data area");
    e.offset_of_data = data_start;
    entries_.push_back(std::move(e));
    pos += kCentralHeaderSize + name_len + extra_len + comment_len;
  }
}

const ZipEntry* ZipReader::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

std::vector<uint8_t> ZipReader::read(const std::string& name) const {
  const ZipEntry* e = find(name);
  HMR_CHECK(e != nullptr, IOError, "zip: '", label_, "' has no entry named '", name, "'");
  return read(*e);
}

const uint8_t* ZipReader::stored_data(const ZipEntry& e) const {
  std::string where = str("zip: '", label_, "' entry '", e.name, "'");
  HMR_CHECK(e.method == 0, IOError, where, " is compressed (method ", e.method, "), not stored");
  HMR_CHECK(e.size == e.compressed_size && in_bounds(e.offset_of_data, e.size, size_), IOError, where,
            ": stored sizes disagree (", e.size, " vs ", e.compressed_size, ")");
  return data_ + e.offset_of_data;
}

std::vector<uint8_t> ZipReader::read(const ZipEntry& e) const {
  std::string where = str("zip: '", label_, "' entry '", e.name, "'");
  HMR_CHECK(in_bounds(e.offset_of_data, e.compressed_size, size_), IOError, where,
            ": data lies outside the archive");
  const uint8_t* src = data_ + e.offset_of_data;
  std::vector<uint8_t> out;
  if (e.method == 0) {
    out.assign(stored_data(e), stored_data(e) + e.size);
  } else if (e.method == 8) {
    HMR_CHECK(e.size / kMaxDeflateRatio <= e.compressed_size, IOError, where, ": declared size ", e.size,
              " is impossible for ", e.compressed_size, " deflated bytes");
    // Grow the output as inflate actually produces bytes, so a lying header cannot make us
    // allocate more than the stream really holds (plus one chunk). One byte of room beyond the
    // declared size reveals a stream that is longer than declared.
    constexpr size_t kChunk = size_t{1} << 24;
    const uint64_t limit = e.size + 1;
    out.resize(static_cast<size_t>(std::min<uint64_t>(limit, kChunk)));
    z_stream zs{};
    HMR_CHECK(inflateInit2(&zs, -15) == Z_OK, IOError, where, ": zlib inflateInit failed");
    zs.next_in = const_cast<Bytef*>(src);
    uint64_t in_left = e.compressed_size;
    size_t produced = 0;
    int rc = Z_OK;
    for (;;) {
      if (produced == out.size()) {
        if (out.size() == limit) break;
        out.resize(static_cast<size_t>(std::min<uint64_t>(limit, uint64_t{out.size()} * 2)));
      }
      zs.next_out = out.data() + produced;
      zs.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - produced, 1u << 30));
      zs.avail_in = static_cast<uInt>(std::min<uint64_t>(in_left, 1u << 30));
      uInt in_before = zs.avail_in, out_before = zs.avail_out;
      rc = inflate(&zs, Z_NO_FLUSH);
      in_left -= in_before - zs.avail_in;
      produced += out_before - zs.avail_out;
      if (rc != Z_OK) break;
    }
    std::string zlib_reason = zs.msg ? zs.msg : "stream is truncated";
    inflateEnd(&zs);
    HMR_CHECK(produced <= e.size, IOError, where, ": deflated data is longer than the declared ", e.size,
              " bytes");
    HMR_CHECK(rc == Z_STREAM_END, IOError, where, ": corrupt deflate stream (zlib: ", zlib_reason, ")");
    HMR_CHECK(produced == e.size, IOError, where, ": inflated to ", produced,
              " bytes but the directory declares ", e.size);
    out.resize(produced);
  } else {
    HMR_CHECK(false, IOError, where, " uses compression method ", e.method,
              " (only stored and deflated are supported)");
  }
  uint32_t crc = crc_of(out.data(), out.size());
  HMR_CHECK(crc == e.crc32, IOError, where, ": CRC mismatch (stored ", e.crc32, ", computed ", crc, ")");
  return out;
}

// ---- writer ----------------------------------------------------------------------------------

ZipWriter::ZipWriter(std::string path) : path_(std::move(path)) {}

void ZipWriter::add(const std::string& name, const void* data, size_t n, bool deflate, size_t align) {
  HMR_CHECK(!closed_, IOError, "zip: add('", name, "') to '", path_, "' after close()");
  HMR_CHECK(!name.empty() && name.size() <= kMax16, IOError, "zip: entry name of ", name.size(),
            " bytes is not allowed in '", path_, "'");
  for (const Written& w : written_)
    HMR_CHECK(w.name != name, IOError, "zip: '", path_, "' already has an entry named '", name, "'");
  const auto* bytes = static_cast<const uint8_t*>(data);
  std::vector<uint8_t> packed;
  if (deflate) packed = deflate_raw(bytes, n, str("zip: entry '", name, "' of '", path_, "'"));
  const uint8_t* payload = deflate ? packed.data() : bytes;
  uint64_t csize = deflate ? packed.size() : n;

  Written w{name, out_.size(), csize, n, crc_of(bytes, n), static_cast<uint16_t>(deflate ? 8 : 0)};
  bool zip64 = force_zip64_ || n >= kMax32 || csize >= kMax32;
  size_t extra_len = zip64 ? 20 : 0;
  if (align > 1) {
    size_t unpadded = out_.size() + kLocalHeaderSize + name.size() + extra_len;
    size_t pad = (align - (unpadded + 4) % align) % align;
    extra_len += 4 + pad;
  }
  HMR_CHECK(extra_len <= kMax16, IOError, "zip: alignment ", align, " is too large");
  put32(out_, kLocalHeaderSig);
  put16(out_, zip64 ? 45 : 20);  // version needed: 4.5 for zip64, 2.0 for deflate
  put16(out_, 0x0800);           // names are UTF-8
  put16(out_, w.method);
  put16(out_, 0);     // time 00:00
  put16(out_, 0x21);  // date 1980-01-01
  put32(out_, w.crc);
  put32(out_, zip64 ? kMax32 : csize);
  put32(out_, zip64 ? kMax32 : n);
  put16(out_, name.size());
  put16(out_, extra_len);
  out_.insert(out_.end(), name.begin(), name.end());
  if (zip64) {
    put16(out_, kZip64ExtraId);
    put16(out_, 16);
    put64(out_, n);
    put64(out_, csize);
    extra_len -= 20;
  }
  if (extra_len > 0) {
    put16(out_, kPaddingExtraId);
    put16(out_, extra_len - 4);
    out_.insert(out_.end(), extra_len - 4, 0);
  }
  out_.insert(out_.end(), payload, payload + csize);
  written_.push_back(std::move(w));
}

std::vector<uint8_t> ZipWriter::finish_to_bytes() {
  HMR_CHECK(!closed_, IOError, "zip: '", path_, "' is already closed");
  closed_ = true;
  uint64_t cd_offset = out_.size();
  for (const Written& w : written_) {
    bool big_size = force_zip64_ || w.size >= kMax32 || w.compressed_size >= kMax32;
    bool big_offset = force_zip64_ || w.local_offset >= kMax32;
    size_t z_len = (big_size ? 16 : 0) + (big_offset ? 8 : 0);
    put32(out_, kCentralHeaderSig);
    put16(out_, (3 << 8) | 45);  // made by: Unix, spec 4.5
    put16(out_, z_len ? 45 : 20);
    put16(out_, 0x0800);
    put16(out_, w.method);
    put16(out_, 0);
    put16(out_, 0x21);
    put32(out_, w.crc);
    put32(out_, big_size ? kMax32 : w.compressed_size);
    put32(out_, big_size ? kMax32 : w.size);
    put16(out_, w.name.size());
    put16(out_, z_len ? z_len + 4 : 0);
    put16(out_, 0);            // comment
    put16(out_, 0);            // disk
    put16(out_, 0);            // internal attributes
    put32(out_, 0644u << 16);  // external attributes: a regular file, rw-r--r--
    put32(out_, big_offset ? kMax32 : w.local_offset);
    out_.insert(out_.end(), w.name.begin(), w.name.end());
    if (z_len) {
      put16(out_, kZip64ExtraId);
      put16(out_, z_len);
      if (big_size) {
        put64(out_, w.size);
        put64(out_, w.compressed_size);
      }
      if (big_offset) put64(out_, w.local_offset);
    }
  }
  uint64_t cd_size = out_.size() - cd_offset;
  uint64_t count = written_.size();
  bool zip64 = force_zip64_ || count >= kMax16 || cd_size >= kMax32 || cd_offset >= kMax32;
  if (zip64) {
    uint64_t z_end = out_.size();
    put32(out_, kZip64EndSig);
    put64(out_, kZip64EndSize - 12);
    put16(out_, (3 << 8) | 45);
    put16(out_, 45);
    put32(out_, 0);
    put32(out_, 0);
    put64(out_, count);
    put64(out_, count);
    put64(out_, cd_size);
    put64(out_, cd_offset);
    put32(out_, kZip64LocatorSig);
    put32(out_, 0);
    put64(out_, z_end);
    put32(out_, 1);
  }
  put32(out_, kEndSig);
  put16(out_, 0);
  put16(out_, 0);
  put16(out_, zip64 ? kMax16 : count);
  put16(out_, zip64 ? kMax16 : count);
  put32(out_, zip64 ? kMax32 : cd_size);
  put32(out_, zip64 ? kMax32 : cd_offset);
  put16(out_, 0);
  return std::move(out_);
}

void ZipWriter::close() {
  std::vector<uint8_t> bytes = finish_to_bytes();
  write_file_atomic(path_, bytes.data(), bytes.size());
}

}  // namespace hmr::io
