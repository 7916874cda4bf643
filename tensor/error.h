// The one error mechanism of hmr.cpp: typed exceptions carrying a formatted message that
// names the operation, what was expected and what was found. Use HMR_CHECK on user input;
// never assert() on it.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace hmr {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class ShapeError : public Error { using Error::Error; };
class DTypeError : public Error { using Error::Error; };
class DeviceError : public Error { using Error::Error; };
class ValueError : public Error { using Error::Error; };
class IndexError : public Error { using Error::Error; };
class AutogradError : public Error { using Error::Error; };
class CudaError : public Error { using Error::Error; };
class IOError : public Error { using Error::Error; };

namespace detail {
template <class T> void write(std::ostringstream& os, const T& x) { os << x; }
// Shapes and other vectors print as [a, b, c].
template <class T> void write(std::ostringstream& os, const std::vector<T>& v) {
  os << "[";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << "]";
}
inline void format_into(std::ostringstream&) {}
template <class T, class... Rest>
void format_into(std::ostringstream& os, const T& first, const Rest&... rest) {
  write(os, first);
  format_into(os, rest...);
}
}  // namespace detail

// Concatenates its arguments with operator<< (shapes, dtypes and devices all print).
template <class... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  detail::format_into(os, args...);
  return os.str();
}

}  // namespace hmr

// HMR_CHECK(cond, ErrorType, "op: expected ", a, " but found ", b);
#define HMR_CHECK(cond, ErrorType, ...)              \
  do {                                               \
    if (!(cond)) throw ::hmr::ErrorType(::hmr::str(__VA_ARGS__)); \
  } while (0)

// Internal invariants (bugs in hmr.cpp, not bad input) still throw rather than abort.
#define HMR_INTERNAL_CHECK(cond, ...)                                                   \
  do {                                                                                  \
    if (!(cond))                                                                        \
      throw ::hmr::Error(::hmr::str("internal error at ", __FILE__, ":", __LINE__, ": ", \
                                    #cond, " ", ##__VA_ARGS__));                        \
  } while (0)
