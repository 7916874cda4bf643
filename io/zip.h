// ZIP archives: the container of .npz files and of PyTorch's zip checkpoints (torch.save).
// Reading maps the whole archive and trusts nothing in it: every size and offset is checked
// against the file before use, and declared sizes never drive an allocation on their own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace hmr::io {

struct ZipEntry {
  std::string name;
  uint64_t offset_of_data = 0;  // absolute offset of the member's (compressed) bytes
  uint64_t compressed_size = 0;
  uint64_t size = 0;    // uncompressed
  uint16_t method = 0;  // 0 stored, 8 deflated (others are listed but cannot be read)
  uint32_t crc32 = 0;
};

// Entries come from the central directory (zip64 records honoured); the local header is only
// used to find where a member's data starts. Copies share the mapped bytes.
class ZipReader {
 public:
  // IOError naming path and the problem (missing file, not a zip, corrupt directory, ...).
  static ZipReader open(const std::string& path);
  // label names the archive in error messages (a path, or "<npz member x>").
  static ZipReader from_bytes(std::vector<uint8_t> bytes, std::string label);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;  // nullptr if absent
  // The uncompressed bytes of a member (stored or deflated), CRC-checked. IOError when the
  // member is absent, uses another method, is encrypted, or its data does not match.
  std::vector<uint8_t> read(const std::string& name) const;
  std::vector<uint8_t> read(const ZipEntry& entry) const;
  // The archive bytes of a stored (method 0) member without copying or CRC check, for large
  // tensors; valid as long as some ZipReader copy of this archive lives.
  const uint8_t* stored_data(const ZipEntry& entry) const;

  const std::string& label() const { return label_; }
  size_t archive_size() const { return size_; }

 private:
  ZipReader() = default;
  void parse();

  std::shared_ptr<const void> owner_;  // the mapping or the byte vector
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string label_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> index_;  // name -> position in entries_
};

// Builds an archive in memory; close() writes it atomically (temporary file + rename), so a
// crash never leaves a torn archive at path. Zip64 records are written only when a size or
// offset needs them. Timestamps are fixed (1980-01-01) so equal inputs give equal bytes.
class ZipWriter {
 public:
  explicit ZipWriter(std::string path);
  // align: pad the local header's extra field so the data starts at a multiple of align
  // (PyTorch aligns storages to 64 so they can be mapped in place). Stored members only
  // matter for alignment, but any member accepts it.
  void add(const std::string& name, const void* data, size_t n, bool deflate = false, size_t align = 0);
  void close();
  // The archive as close() would write it (for from_bytes round trips and tests).
  std::vector<uint8_t> finish_to_bytes();
  // Tests use this to exercise the zip64 records without writing 4 GiB.
  void force_zip64(bool on) { force_zip64_ = on; }

 private:
  struct Written {
    std::string name;
    uint64_t local_offset, compressed_size, size;
    uint32_t crc;
    uint16_t method;
  };
  std::string path_;
  std::vector<uint8_t> out_;
  std::vector<Written> written_;
  bool closed_ = false;
  bool force_zip64_ = false;
};

}  // namespace hmr::io
