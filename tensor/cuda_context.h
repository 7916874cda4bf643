// The CUDA side of tensor/: device discovery, one stream per device, the caching allocator
// and raw copies. Everything here is callable in a build without CUDA (HMR_WITH_CUDA off) or
// on a machine without a GPU: device_count() is then 0 and the rest throws CudaError with the
// reason (see unavailable_reason()).
#pragma once

#include <cstdint>
#include <string>

#include "tensor/storage.h"

namespace hmr::cuda {

bool compiled_with_cuda();
int device_count();                    // 0 when CUDA is off or no device/driver is usable
std::string unavailable_reason();      // why device_count() is 0 ("" when it is not)
bool is_available();                   // device_count() > 0

struct DeviceProperties {
  std::string name;
  int64_t total_memory = 0;
  int major = 0, minor = 0;
  int multiprocessor_count = 0;
  int max_threads_per_multiprocessor = 0;  // launchers size their grids from this
};
// Queried once per device and cached: kernel launchers read it on every launch, and
// cudaGetDeviceProperties is far too slow for that.
const DeviceProperties& device_properties(int device);

// Runtime and driver versions as CUDART_VERSION's number (0 when not compiled in). The cuBLAS
// and cuDNN versions live in kernels/cuda_libs.h, because tensor/ does not link those libraries.
int runtime_version();
int driver_version();

// The stream every kernel of that device runs on (a cudaStream_t, kept opaque here).
void* current_stream(int device);
void set_device(int device);
void synchronize(int device);

// Memory from the caching allocator: freed blocks return to a per-device pool and are reused
// in stream order, so steady-state training performs no cudaMalloc.
Storage allocate(int64_t nbytes, int device);

struct AllocatorStats {
  int64_t allocated_bytes = 0;       // in live tensors
  int64_t reserved_bytes = 0;        // held from cudaMalloc (live + cached)
  int64_t peak_allocated_bytes = 0;
  int64_t num_device_allocs = 0;     // cudaMalloc calls so far
  int64_t num_cache_hits = 0;        // allocations served from the pool
  int64_t num_allocs = 0;
};
AllocatorStats allocator_stats(int device);
void empty_cache(int device);        // returns cached, unused blocks to the driver

// Raw copies on the device's stream; the direction is inferred from the two devices.
// Host->device and device->host copies synchronise the stream before returning so the host
// buffer may be reused or read at once. A copy between two GPUs waits for the source
// device's stream first and finishes before returning, so neither side's later work races it.
void memcpy(void* dst, Device dst_device, const void* src, Device src_device, int64_t nbytes);

// Pinned (page-locked) host memory for fast transfers (cudaMallocHost; not cached, so keep
// such buffers alive and reuse them rather than allocating one per transfer).
Storage allocate_pinned(int64_t nbytes);

}  // namespace hmr::cuda
