// The CPU thread pool: OpenMP's, driven through one helper so no kernel spells out pragmas.
// Work below the grain size runs inline on the calling thread (tiny tensors pay nothing).
#pragma once

#include <algorithm>
#include <cstdint>

#include <omp.h>

namespace hmr {

int num_threads();
void set_num_threads(int n);

// Calls f(begin, end) on disjoint chunks covering [begin, end), in parallel when the range
// exceeds grain. f must not throw across threads: errors are checked before parallel work.
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  int64_t n = end - begin;
  if (n <= 0) return;
  int threads = num_threads();
  if (n <= grain || threads <= 1 || omp_in_parallel()) {
    f(begin, end);
    return;
  }
  int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / grain);
#pragma omp parallel num_threads(static_cast<int>(chunks))
  {
    int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    int64_t per = (n + nt - 1) / nt;
    int64_t b = begin + t * per, e = std::min(end, b + per);
    if (b < e) f(b, e);
  }
}

}  // namespace hmr
