// CPU skinning, forward and backward, threaded with parallel_for. The forward is one pass over
// the (b, v) pairs. The backward's gradient to A sums over V, so the (b, vertex-chunk) tasks
// each fill a private (J, 12) partial sum and a second, small pass adds the chunks up in a
// fixed order: no locks, no atomics, and the same result on every run.
#include "hmr/body/skinning.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "tensor/dispatch.h"
#include "tensor/parallel.h"

namespace hmr::body::skinning::cpu {
namespace {

// (b, v) pairs per forward task: a few thousand vertices, each ~100 flops.
constexpr int64_t kGrain = 2048;
// Vertices per backward chunk when the batch alone cannot keep the threads busy.
constexpr int64_t kMinChunk = 512;

// The weights as compressed rows (the non-zero (joint, weight) pairs of each vertex): SMPL's
// rows have at most 4 non-zeros of 24, and a loop over them has no data-dependent branch,
// which a dense loop skipping zeros would mispredict. Built per call: V * J reads, small
// beside the B * V vertices it serves.
template <class T>
struct SparseWeights {
  std::vector<int64_t> row_start;  // V + 1
  std::vector<int64_t> joint;      // the non-zeros' joints
  std::vector<T> value;            // and weights

  SparseWeights(const T* w, int64_t V, int64_t J) : row_start(V + 1, 0) {
    for (int64_t v = 0; v < V; ++v) {
      for (int64_t j = 0; j < J; ++j) {
        if (w[v * J + j] == T(0)) continue;
        joint.push_back(j);
        value.push_back(w[v * J + j]);
      }
      row_start[v + 1] = static_cast<int64_t>(joint.size());
    }
  }

  // T = sum over vertex v's non-zeros of w * A[j] (the sparse form of skinning::blend).
  void blend(int64_t v, const T* A, T* t) const {
    for (int k = 0; k < kTransform; ++k) t[k] = T(0);
    for (int64_t n = row_start[v]; n < row_start[v + 1]; ++n) {
      const T wj = value[n];
      const T* a = A + joint[n] * kTransform;
      for (int k = 0; k < kTransform; ++k) t[k] += wj * a[k];
    }
  }
};

// Flat (b, v) pairs [begin, end), walked with a carried (b, v) (no division per vertex).
template <class T>
void forward_range(const SparseWeights<T>& w, const T* A, const T* p, T* out, int64_t V, int64_t J,
                   int64_t begin, int64_t end) {
  T t[kTransform];
  int64_t b = begin / V, v = begin % V;
  for (int64_t i = begin; i < end; ++i) {
    w.blend(v, A + b * J * kTransform, t);
    apply(t, p + i * 3, out + i * 3);
    if (++v == V) {
      v = 0;
      ++b;
    }
  }
}

// Vertices [v0, v1) of sample b: writes grad_p for them and adds their share of grad_A to acc
// (J * 12, zeroed by the caller).
template <class T>
void backward_chunk(const SparseWeights<T>& w, const T* A, const T* p, const T* g, T* grad_p, T* acc,
                    int64_t V, int64_t J, int64_t b, int64_t v0, int64_t v1) {
  const T* Ab = A + b * J * kTransform;
  T t[kTransform], dt[kTransform];
  for (int64_t v = v0; v < v1; ++v) {
    const int64_t i = b * V + v;
    w.blend(v, Ab, t);
    apply_backward(t, p + i * 3, g + i * 3, grad_p + i * 3, dt);
    for (int64_t n = w.row_start[v]; n < w.row_start[v + 1]; ++n) {
      const T wj = w.value[n];
      T* a = acc + w.joint[n] * kTransform;
      for (int k = 0; k < kTransform; ++k) a[k] += wj * dt[k];
    }
  }
}

}  // namespace

void skin_forward(const Tensor& weights, const Tensor& A, const Tensor& v_posed, const Tensor& out) {
  const int64_t B = A.size(0), J = A.size(1), V = v_posed.size(1);
  dispatch_floating(A.dtype(), "skin", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      const SparseWeights<T> w(weights.data<T>(), V, J);
      const T *a = A.data<T>(), *p = v_posed.data<T>();
      T* o = out.data<T>();
      parallel_for(0, B * V, kGrain, [&](int64_t b, int64_t e) { forward_range(w, a, p, o, V, J, b, e); });
    }
  });
}

void skin_backward(const Tensor& weights, const Tensor& A, const Tensor& v_posed, const Tensor& grad,
                   const Tensor& grad_A, const Tensor& grad_v_posed) {
  const int64_t B = A.size(0), J = A.size(1), V = v_posed.size(1);
  // Enough (b, chunk) tasks for every thread, chunks no shorter than kMinChunk.
  const int64_t want = std::max<int64_t>(1, (2 * num_threads() + B - 1) / B);
  const int64_t chunks = std::max<int64_t>(1, std::min(want, V / kMinChunk));
  const int64_t per = (V + chunks - 1) / chunks;
  dispatch_floating(A.dtype(), "skin_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      const SparseWeights<T> w(weights.data<T>(), V, J);
      const T *a = A.data<T>(), *p = v_posed.data<T>(), *g = grad.data<T>();
      T *ga = grad_A.data<T>(), *gp = grad_v_posed.data<T>();
      const int64_t row = J * kTransform;
      // One chunk per sample: partial sums go straight to grad_A.
      std::vector<T> partial(chunks > 1 ? static_cast<size_t>(B * chunks * row) : 0);
      parallel_for(0, B * chunks, 1, [&](int64_t begin, int64_t end) {
        for (int64_t task = begin; task < end; ++task) {
          const int64_t b = task / chunks, c = task % chunks;
          T* acc = chunks > 1 ? partial.data() + task * row : ga + b * row;
          std::fill(acc, acc + row, T(0));
          backward_chunk(w, a, p, g, gp, acc, V, J, b, c * per, std::min(V, (c + 1) * per));
        }
      });
      if (chunks == 1) return;
      parallel_for(0, B * row, kGrain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          const int64_t b = i / row, k = i % row;
          T s = T(0);
          for (int64_t c = 0; c < chunks; ++c) s += partial[(b * chunks + c) * row + k];
          ga[i] = s;
        }
      });
    }
  });
}

}  // namespace hmr::body::skinning::cpu
