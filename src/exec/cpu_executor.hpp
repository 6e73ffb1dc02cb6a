// One rank's attention run on a CPU backend, as labelled Kokkos kernels on the host execution
// space: quantise Q/K/V (miniattn::quantize_*: the backend's one pass per tensor, which writes
// its packed K/V layout directly where it can), else pack K/V once per KV head (miniattn::pack_kv),
// then the rank's work items over the threads (miniattn::attend, dynamic schedule), each item's
// rows computed by one thread with a fixed tile order, so O does not depend on the rank or
// thread count. Every buffer is a host View made once; per-thread scratch is a slot of a View
// handed out by a Kokkos UniqueToken.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "miniattn/kokkos_host.hpp"
#include "miniattn/decomp.hpp"
#include "miniattn/executor.hpp"
#include "miniattn/kernel.hpp"
#include "miniattn/phases.hpp"

namespace miniattn {

// The query tile of work item w whose first row is row `row` of the rank's buffers (q8 and
// q_scale are null for a backend that reads the float rows only).
inline QTile query_tile(const WorkItem& w, const float* q, const int8_t* q8, const float* q_scale,
                        int64_t row, int d) {
  QTile t;
  t.b = w.b;
  t.h = w.h;
  t.row0 = w.row0;
  t.rows = w.rows;
  t.q = q + row * d;
  if (q8) {
    t.q8 = q8 + row * d;
    t.q_scale = q_scale + row;
  }
  return t;
}

class CpuExecutor final : public RankExecutor {
 public:
  // Allocates every buffer the runs need (and touches it) up front; threads come from Kokkos'
  // host execution space (workers > 0: that many of them, for miniattn-bench's thread sweeps).
  CpuExecutor(const Backend& backend, const AttnParams& p, const Decomposition& dec,
              const RankSlice& slice, int workers = 0);

  // One attention run: fills O and LSE of the slice; adds quantize, pack, qk_gemm, softmax and
  // pv_gemm seconds to phases. Returns the kernel seconds the threads spent outside the three
  // timed kernel phases (finalisation, scheduling, waiting for the slowest thread).
  double run(PhaseSeconds& phases) override;

  std::size_t bytes_allocated() const override { return bytes_; }

 private:
  void quantize();
  void pack();
  double compute(PhaseSeconds& phases);
  KvBlock kv_block(int64_t group) const;

  const Backend& backend_;
  AttnParams p_;
  const Decomposition& dec_;
  RankSlice slice_;
  int workers_;  // threads that run the kernels (all of the host space's when 0)
  // The threads that run the kernels, counted (at least 1).
  int threads() const { return workers_ > 0 ? std::min(workers_, host_threads()) : host_threads(); }
  std::size_t bytes_ = 0;

  HostView<int8_t**> q8_;         // rows x d
  HostView<float*> q_scale_;      // rows
  HostView<float*> lse_shift_;    // rows: smoothing's LSE term (smooth_k only)
  HostView<int8_t**> k8_;         // keys (groups x lk) x d
  HostView<float*> k_scale_;      // keys
  HostView<float**> k_mean_;      // groups x d
  HostView<double**> k_sum_;      // groups x d: K's channel sums (smooth_k)
  HostView<uint16_t**> v_bf16_;   // keys x d (bf16 P.V; where the backend reads it)
  HostView<int8_t**> v8_;         // keys x d (int8 P.V; where the backend reads it)
  HostView<float**> v_absmax_;    // groups x d (int8 P.V)
  HostView<float**> v_scale_;     // groups x d (int8 P.V)
  HostView<std::byte**> packed_;  // groups x the backend's packed K/V bytes

  // Per concurrent thread (a UniqueToken slot): the backend's scratch, the row state of one
  // tile and the cycle counts of the kernel phases.
  Kokkos::Experimental::UniqueToken<HostExec> token_;
  HostView<std::byte**> scratch_;
  HostView<float**> state_;
  HostView<TileCycles*> cycles_;
};

}  // namespace miniattn
