#include "tensor/device.h"

#include <cstdlib>

#include "tensor/error.h"

namespace hmr {

Device Device::parse(const std::string& s) {
  if (s == "cpu") return cpu();
  if (s == "cuda") return cuda(0);
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5) {
    char* end = nullptr;
    long idx = std::strtol(s.c_str() + 5, &end, 10);
    if (*end == '\0' && idx >= 0) return cuda(static_cast<int>(idx));
  }
  throw ValueError(hmr::str("Device: expected \"cpu\", \"cuda\" or \"cuda:N\" but found \"", s, "\""));
}

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
}

std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

}  // namespace hmr
