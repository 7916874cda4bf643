// Versions of the CUDA libraries the kernels link (cuBLAS, cuDNN). They live in kernels/, not
// beside the runtime in tensor/cuda_context.h, because tensor/ must not link these libraries.
#pragma once

namespace hmr::cuda {

// As the libraries' own version macros spell them (CUBLAS_VERSION: major*10000 + minor*100 +
// patch; CUDNN_VERSION: the same for cuDNN 9). 0 in a build without CUDA. Neither needs a GPU.
int cublas_version();
int cudnn_version();

}  // namespace hmr::cuda
