// The rank's data and work on the host, through Kokkos: LayoutRight host Views with the data's
// real shape (Q and O rows x D, LSE rows, quantised K and V keys x D, ...), zero-filled when made
// (so every page is touched before anything is timed), and the labelled parallel kernels that
// run on the host execution space (OpenMP threads where Kokkos has them). Kokkos Tools see every
// kernel by its label.
#pragma once

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "miniattn/decomp.hpp"
#include "miniattn/synthetic.hpp"

namespace miniattn {

using HostExec = Kokkos::DefaultHostExecutionSpace;

template <class T>
using HostView = Kokkos::View<T, Kokkos::LayoutRight, Kokkos::HostSpace>;

// Items [0, n) handed out one at a time to whichever thread is free (the work items of a rank
// differ in cost: causal tiles, ragged tails).
inline Kokkos::RangePolicy<HostExec, Kokkos::Schedule<Kokkos::Dynamic>, Kokkos::IndexType<int64_t>>
dynamic_items(int64_t n) {
  return Kokkos::RangePolicy<HostExec, Kokkos::Schedule<Kokkos::Dynamic>, Kokkos::IndexType<int64_t>>(0, n)
      .set_chunk_size(1);
}

// Items [0, n) in contiguous static chunks (uniform work: element-wise passes).
inline Kokkos::RangePolicy<HostExec, Kokkos::Schedule<Kokkos::Static>, Kokkos::IndexType<int64_t>>
static_items(int64_t n) {
  return Kokkos::RangePolicy<HostExec, Kokkos::Schedule<Kokkos::Static>, Kokkos::IndexType<int64_t>>(0, n);
}

// Threads of the host execution space (1 where Kokkos has only the Serial space).
inline int host_threads() { return HostExec().concurrency(); }

// f(i) for items [0, n), handed out one at a time to `workers` threads (0: all the host space's):
// with all of them, the Kokkos kernel `label` over dynamic_items(n); with fewer (miniattn-bench
// timing one thread count inside a Kokkos started with more), one iteration per worker, each
// claiming items from a shared counter, the same dynamic schedule on fewer threads.
template <class F>
void parallel_items(const char* label, int64_t n, int workers, const F& f) {
  if (workers <= 0 || workers >= host_threads()) {
    Kokkos::parallel_for(label, dynamic_items(n), f);
    return;
  }
  std::atomic<int64_t> next{0};
  Kokkos::parallel_for(label, static_items(std::min<int64_t>(workers, n)), [&](int64_t) {
    for (int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) f(i);
  });
}

// Kokkos' version and the execution spaces it was built with, e.g. "Kokkos 3.4.1 (OpenMP,
// Serial), host space OpenMP".
std::string kokkos_description();

// Synthetic rows (synthetic.hpp) of the row set `rows` of one tensor, back to back in out (row
// stride d), generated in parallel over the host threads in chunks of rows (the values are the
// same whichever thread makes them): the Kokkos kernel `label`.
void generate_rows(const char* label, Distribution dist, uint64_t seed, Tensor t, int64_t heads,
                   int64_t len, int d, const RowSet& rows, float* out);

// A View's bytes.
template <class V>
std::size_t view_bytes(const V& v) {
  return v.span() * sizeof(typename V::value_type);
}

}  // namespace miniattn
