#include "tensor/parallel.h"

namespace hmr {

int num_threads() { return omp_get_max_threads(); }
void set_num_threads(int n) { omp_set_num_threads(n < 1 ? 1 : n); }

}  // namespace hmr
