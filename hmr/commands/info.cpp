// `hmr info`: what this binary was built with and what it finds on this machine (CUDA
// devices or the reason there are none, library versions, CPU threads). The first thing to
// run when a result looks wrong on a new machine.
#include <cstdio>

#include "hmr/commands/commands.h"
#include "kernels/cuda_libs.h"
#include "tensor/cuda_context.h"
#include "tensor/parallel.h"

#ifndef HMR_BUILD_TYPE
#define HMR_BUILD_TYPE "unknown"
#endif

namespace hmr::cli {

namespace {

// CUDA encodes versions as 1000 * major + 10 * minor (13000 -> "13.0").
std::string cuda_version_string(int v) {
  if (v <= 0) return "not found";
  return str(v / 1000, ".", v % 1000 / 10);
}

// cuBLAS and cuDNN 9 encode versions as 10000 * major + 100 * minor + patch.
std::string library_version_string(int v) {
  if (v <= 0) return "not found";
  return str(v / 10000, ".", v % 10000 / 100, ".", v % 100);
}

std::string gib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

void print_row(std::ostream& os, const std::string& key, const std::string& value) {
  std::string k = key + ":";
  os << k << std::string(k.size() < 16 ? 16 - k.size() : 1, ' ') << value << "\n";
}

void print_cuda(std::ostream& os) {
  if (!cuda::compiled_with_cuda()) {
    print_row(os, "CUDA", "not compiled in (configure with -DHMR_CUDA=ON to enable)");
    return;
  }
  print_row(os, "CUDA", "compiled in");
  print_row(os, "CUDA runtime", cuda_version_string(cuda::runtime_version()));
  print_row(os, "CUDA driver", cuda_version_string(cuda::driver_version()));
  print_row(os, "cuBLAS", library_version_string(cuda::cublas_version()));
  print_row(os, "cuDNN", library_version_string(cuda::cudnn_version()));
  int n = cuda::device_count();
  if (n == 0) {
    print_row(os, "devices", "none (" + cuda::unavailable_reason() + ")");
    return;
  }
  print_row(os, "devices", std::to_string(n));
  for (int d = 0; d < n; ++d) {
    cuda::DeviceProperties p = cuda::device_properties(d);
    print_row(os, "  cuda:" + std::to_string(d),
              str(p.name, ", ", gib(p.total_memory), ", sm_", p.major, p.minor, ", ", p.multiprocessor_count,
                  " SMs"));
  }
}

int run_info(const Args&, Streams& s) {
  print_row(s.out, "hmr", version());
  print_row(s.out, "build type", HMR_BUILD_TYPE);
  print_row(s.out, "CPU threads", std::to_string(num_threads()));
  print_cuda(s.out);
  return kExitOk;
}

}  // namespace

Command info_command() {
  return {"info",
          "show the build, CUDA devices and library versions",
          "Print the version and build type, the CPU threads in use, and for a CUDA build the runtime,\n"
          "driver, cuBLAS and cuDNN versions and every device found (or why none was found).",
          {},
          false,
          run_info};
}

}  // namespace hmr::cli
