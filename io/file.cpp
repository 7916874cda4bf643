// POSIX implementation of the whole-file helpers. The file descriptor and the temporary file
// are each owned by a small RAII guard, so every early throw closes and cleans up.
#include "io/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tensor/error.h"

namespace hmr::io {

namespace {

std::string reason() { return std::strerror(errno); }

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() { close(); }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  // Closing can report a deferred write error, so the happy path checks it.
  int close() {
    if (fd_ < 0) return 0;
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

// Unlinks the temporary file unless the rename went through.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::string path) : path_(std::move(path)) {}
  ~TemporaryFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  const std::string& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

std::string directory_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

void write_all(int fd, const char* p, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    HMR_CHECK(w > 0, IOError, "write_file_atomic: writing '", path, "' failed: ", reason());
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// A fresh name beside path. Created with O_EXCL and mode 0666 so the umask applies as for any
// ordinary create (mkstemp would force 0600 and reading the umask is not thread-safe).
FileDescriptor create_temporary(const std::string& path, std::string& tmp_path) {
  static std::atomic<uint64_t> counter{0};
  for (int attempt = 0;; ++attempt) {
    tmp_path = str(path, ".tmp.", ::getpid(), ".", counter.fetch_add(1));
    int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return FileDescriptor(fd);
    HMR_CHECK(errno == EEXIST && attempt < 100, IOError,
              "write_file_atomic: cannot create a temporary file beside '", path, "': ", reason());
  }
}

}  // namespace

std::string read_file(const std::string& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  HMR_CHECK(fd.get() >= 0, IOError, "read_file: cannot open '", path, "': ", reason());
  struct stat st {};
  HMR_CHECK(::fstat(fd.get(), &st) == 0, IOError, "read_file: cannot stat '", path, "': ", reason());
  HMR_CHECK(!S_ISDIR(st.st_mode), IOError, "read_file: '", path, "' is a directory");
  std::string data;
  if (S_ISREG(st.st_mode)) data.reserve(static_cast<size_t>(st.st_size));
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t r = ::read(fd.get(), buf.data(), buf.size());
    if (r < 0 && errno == EINTR) continue;
    HMR_CHECK(r >= 0, IOError, "read_file: reading '", path, "' failed: ", reason());
    if (r == 0) break;
    data.append(buf.data(), static_cast<size_t>(r));
  }
  return data;
}

void write_file_atomic(const std::string& path, const void* data, size_t size) {
  HMR_CHECK(!path.empty() && path.back() != '/', IOError, "write_file_atomic: '", path,
            "' is not a file path");
  std::string tmp_path;
  FileDescriptor fd = create_temporary(path, tmp_path);
  TemporaryFile tmp(tmp_path);
  write_all(fd.get(), static_cast<const char*>(data), size, path);
  HMR_CHECK(::fsync(fd.get()) == 0, IOError, "write_file_atomic: fsync of '", tmp.path(),
            "' failed: ", reason());
  HMR_CHECK(fd.close() == 0, IOError, "write_file_atomic: closing '", tmp.path(), "' failed: ", reason());
  HMR_CHECK(::rename(tmp.path().c_str(), path.c_str()) == 0, IOError, "write_file_atomic: renaming '",
            tmp.path(), "' to '", path, "' failed: ", reason());
  tmp.release();
  // Make the rename itself durable; a directory that cannot be opened or synced (some file
  // systems refuse) does not undo a completed write.
  FileDescriptor dir(::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) ::fsync(dir.get());
}

}  // namespace hmr::io
