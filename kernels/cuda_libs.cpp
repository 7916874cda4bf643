// cuBLAS and cuDNN versions, asked of the libraries actually loaded (not of the headers built
// against), so a mismatched installation shows up in `hmr --version`-style reports.
#include "kernels/cuda_libs.h"

#ifdef HMR_WITH_CUDA
#include <cublas_v2.h>
#include <cudnn.h>
#endif

namespace hmr::cuda {

#ifdef HMR_WITH_CUDA

// cublasGetVersion wants a handle (and so a GPU); the properties do not.
int cublas_version() {
  int major = 0, minor = 0, patch = 0;
  if (cublasGetProperty(MAJOR_VERSION, &major) != CUBLAS_STATUS_SUCCESS ||
      cublasGetProperty(MINOR_VERSION, &minor) != CUBLAS_STATUS_SUCCESS ||
      cublasGetProperty(PATCH_LEVEL, &patch) != CUBLAS_STATUS_SUCCESS)
    return 0;
  return major * 10000 + minor * 100 + patch;
}

int cudnn_version() { return static_cast<int>(cudnnGetVersion()); }

#else

int cublas_version() { return 0; }
int cudnn_version() { return 0; }

#endif

}  // namespace hmr::cuda
