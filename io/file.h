// Whole-file reads and atomic writes. A checkpoint or dataset file written with
// write_file_atomic is either the old file or the complete new one, never a torn mix, even if
// the process dies mid-write: data goes to a temporary file in the same directory, is fsync'ed,
// then renamed over the target (rename is atomic within one file system).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hmr::io {

// The bytes of a file (binary-safe). Throws IOError naming the path and the system's reason.
std::string read_file(const std::string& path);

// Replaces path with size bytes from data, atomically; the new file gets 0666 & ~umask
// permissions like an ordinary create. Throws IOError naming the path; no temporary file is
// left behind on failure.
void write_file_atomic(const std::string& path, const void* data, size_t size);
inline void write_file_atomic(const std::string& path, std::string_view data) {
  write_file_atomic(path, data.data(), data.size());
}

}  // namespace hmr::io
