// The CPU elementwise driver: runs a functor over a Plan, in parallel chunks of the flat index
// range. Contiguous plans become a plain loop the compiler vectorises; otherwise each chunk
// walks the innermost dim with its strides and carries a multi-index for the outer dims.
#pragma once

#include <algorithm>
#include <tuple>
#include <utility>

#include "kernels/cast.h"
#include "kernels/plan.h"
#include "tensor/parallel.h"

namespace hmr::kernels::cpu {

constexpr int64_t kGrain = 32768;

namespace detail {

template <class Out, class... Ins, class F, size_t... I>
inline void unit_loop(Out* __restrict o, std::tuple<const Ins*...> in, int64_t n, const F& f,
                      std::index_sequence<I...>) {
  (void)in;
  for (int64_t j = 0; j < n; ++j) o[j] = f(std::get<I>(in)[j]...);
}

template <class Out, class... Ins, class F, size_t... I>
inline void strided_loop(Out* o, int64_t so, std::tuple<const Ins*...> in, const int64_t* si,
                         int64_t n, const F& f, std::index_sequence<I...> seq) {
  (void)si;
  bool unit = so == 1;
  ((unit = unit && si[I] == 1), ...);
  if (unit) return unit_loop<Out, Ins...>(o, in, n, f, seq);
  for (int64_t j = 0; j < n; ++j) o[j * so] = f(std::get<I>(in)[j * si[I]]...);
}

template <class... Ins, size_t... I>
inline std::tuple<const Ins*...> offset_inputs(char* const* base, const int64_t* off,
                                               std::index_sequence<I...>) {
  return std::tuple<const Ins*...>{reinterpret_cast<const Ins*>(base[1 + I]) + off[1 + I]...};
}

}  // namespace detail

// out[i] = f(in0[i], in1[i], ...). Out and Ins are the element types of the operands; f takes
// the input values and returns an Out (conversions are f's job).
template <class Out, class... Ins, class F>
void for_each(const Plan<1 + sizeof...(Ins)>& p, char* const* base, const F& f) {
  constexpr int N = 1 + sizeof...(Ins);
  using Seq = std::index_sequence_for<Ins...>;
  if (p.numel == 0) return;
  if (p.contiguous) {
    parallel_for(0, p.numel, kGrain, [&](int64_t b, int64_t e) {
      int64_t off[N];
      for (int k = 0; k < N; ++k) off[k] = b;
      detail::unit_loop<Out, Ins...>(reinterpret_cast<Out*>(base[0]) + b,
                                     detail::offset_inputs<Ins...>(base, off, Seq{}), e - b, f, Seq{});
    });
    return;
  }
  const int nd = p.ndim;
  const int64_t inner = p.sizes[nd - 1];
  parallel_for(0, p.numel, kGrain, [&](int64_t b, int64_t e) {
    int64_t idx[kMaxDims];
    int64_t off[N] = {};
    int64_t rem = b;
    for (int d = nd - 1; d >= 0; --d) {
      idx[d] = rem % p.sizes[d];
      rem /= p.sizes[d];
      for (int k = 0; k < N; ++k) off[k] += idx[d] * p.strides[k][d];
    }
    int64_t si[N];
    for (int k = 0; k < N; ++k) si[k] = p.strides[k][nd - 1];
    for (int64_t i = b; i < e;) {
      int64_t run = std::min(inner - idx[nd - 1], e - i);
      detail::strided_loop<Out, Ins...>(reinterpret_cast<Out*>(base[0]) + off[0], si[0],
                                        detail::offset_inputs<Ins...>(base, off, Seq{}), si + 1,
                                        run, f, Seq{});
      i += run;
      // Advance the multi-index by run elements (a run never crosses the end of a row).
      for (int k = 0; k < N; ++k) off[k] += run * si[k];
      idx[nd - 1] += run;
      for (int d = nd - 1; d > 0 && idx[d] == p.sizes[d]; --d) {
        for (int k = 0; k < N; ++k) off[k] += p.strides[k][d - 1] - p.sizes[d] * p.strides[k][d];
        idx[d] = 0;
        ++idx[d - 1];
      }
    }
  });
}

}  // namespace hmr::kernels::cpu
