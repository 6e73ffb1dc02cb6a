// One rank's attention run on a CPU backend: quantise Q/K/V, pack K/V once per KV head, then
// the rank's work items over threads (dynamic schedule), each item's rows computed by one
// thread with a fixed tile order, so O does not depend on the rank or thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "exec/aligned_array.hpp"
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
  // Allocates every buffer the runs need (and touches it) up front.
  CpuExecutor(const Backend& backend, const AttnParams& p, const Decomposition& dec,
              const RankSlice& slice, int threads);

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
  int threads_;
  std::size_t bytes_ = 0;

  AlignedArray<int8_t> q8_;
  AlignedArray<float> q_scale_;
  AlignedArray<int8_t> k8_;
  AlignedArray<float> k_scale_;
  AlignedArray<float> k_mean_;
  AlignedArray<float> lse_shift_;  // rows: smoothing's LSE term (smooth_k only)
  AlignedArray<uint16_t> v_bf16_;
  AlignedArray<int8_t> v8_;
  AlignedArray<float> v_scale_;
  AlignedArray<std::byte> packed_;
  std::size_t packed_stride_ = 0;  // bytes per KV head

  // Per thread: scratch and the row state of one tile.
  std::size_t scratch_stride_ = 0;
  AlignedArray<std::byte> scratch_;
  AlignedArray<float> state_;
};

}  // namespace miniattn
