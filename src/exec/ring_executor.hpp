// Ring mode: a rank's CPU executor when K/V is sharded by sequence over the ranks of a ring
// (ring_plan.hpp says who holds what). Each run:
//   1. quantises the rank's Q rows and its own K/V shard, with the statistics of the whole
//      sequence (K smoothing mean: allreduce of per-shard double sums; int8 V scales: allreduce
//      of channel maxima; per_block K scales need nothing, shards being 64-key aligned), and
//      packs the shard once;
//   2. R steps: attends every local query tile to the shard in hand while the shard moves one
//      rank along the ring (non-blocking: Comm::isend_bytes to the next rank, irecv_bytes from
//      the previous), the main thread driving MPI progress between tiles; each tile's
//      online-softmax state (m, l, acc) lives across the steps, so a block is merged exactly as
//      the kernel merges its own tiles;
//   3. normalises O and writes LSE.
// The comm phase is the main thread's time inside MPI (the transfers it drives plus the waits
// that compute did not cover). measure() (start-up, outside the timed runs) times the ring's
// link and the first step's compute with no transfer in flight; stats() reports the link, the
// waits, and what the transfers cost the compute against that no-transfer time (docs/SCALING.md,
// ring mode, "Report").
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "miniattn/comm.hpp"
#include "miniattn/executor.hpp"
#include "miniattn/kokkos_host.hpp"
#include "miniattn/kernel.hpp"
#include "miniattn/ring_plan.hpp"

namespace miniattn {

class StepComm;  // one ring step's transfers (ring_executor.cpp)

// A ring's link as its ranks see it: every rank sends to the next and receives from the previous
// at once (the pattern of a ring step); the medians over a few exchanges, the slowest rank's.
struct LinkStats {
  double latency_s = 0.0;      // an exchange of 8 bytes
  double bandwidth_Bps = 0.0;  // payload bytes per second of an exchange of `bytes`
  std::size_t bytes = 0;
};
// Collective over `ring`; the ring's order is its rank order. Zeros on one rank.
LinkStats measure_ring_link(const Comm& ring, std::size_t bytes);

// The rows, keys and KV heads a rank holds in ring mode (buffers not yet attached).
RankSlice ring_slice(const RingPlan& plan, int rank);

class RingExecutor final : public RankExecutor {
 public:
  // Allocates and touches every buffer; no communication (the ring communicator is made on the
  // first run, which every rank reaches together).
  RingExecutor(const Backend& backend, const AttnParams& p, const RingPlan& plan,
               const RankSlice& slice, const Comm& world);
  RingExecutor(const RingExecutor&) = delete;
  RingExecutor& operator=(const RingExecutor&) = delete;

  // Collective over the ring, before the timed runs (run() calls it if nobody did): the link to
  // the ring neighbours, and the compute of step 0 (the own shard) with no transfer in flight.
  void measure();
  const LinkStats& link() const { return link_; }

  double run(PhaseSeconds& phases) override;
  std::size_t bytes_allocated() const override { return bytes_; }
  bool reference(std::vector<ReferenceTask>& tasks) override;
  std::vector<ExecutorStat> stats() const override;

 private:
  // One (KV head, key chunk) block of a shard in a ring buffer: byte offsets of its arrays.
  struct Section {
    int64_t group = 0;  // index among the ring's KV heads
    int64_t key0 = 0;
    int64_t n = 0;
    std::size_t k8 = 0, k_scale = 0, v = 0, v_bf16 = 0, v8 = 0, k = 0, packed = 0;
  };
  struct ShardLayout {
    std::vector<Section> sections;  // group-major, chunks ascending
    std::size_t bytes = 0;
  };
  struct RingTraffic {  // of one run
    double bytes_sent = 0, in_flight = 0, wait = 0, mpi_calls = 0, stats_allreduce = 0;
    double compute = 0, compute_quiet = 0;  // the steps' compute; the same without transfers
    int steps = 0;
  };

  struct RefRows;
  RefRows gather_rows(const RefRows& mine, int64_t b, int64_t e, std::vector<int>& counts) const;
  void own_keys_reference(const RefRows& rows, double* records) const;
  ShardLayout layout_of(int ring_rank) const;
  KvBlock block(const Section& s, const std::byte* base) const;
  void make_comm();
  void prepare_shard(PhaseSeconds& phases);
  void quantize(PhaseSeconds& phases);
  void pack();
  double step_work(const ShardLayout& shard) const;
  double ring(PhaseSeconds& phases);
  void attend_step(const ShardLayout& shard, const std::byte* base, StepComm& step);

  const Backend& backend_;
  AttnParams p_;
  const RingPlan& plan_;
  RankSlice slice_;
  const Comm& world_;
  int ring_rank_ = 0;
  Range groups_;  // the ring's KV heads (flattened)
  int chunks_per_group_ = 1;
  std::vector<ShardLayout> layouts_;  // of every ring rank's shard
  std::size_t bytes_ = 0;

  std::vector<WorkItem> items_;
  std::vector<int64_t> item_row_;    // local row of each item's first row
  std::vector<int64_t> item_group_;  // index among the ring's KV heads
  std::vector<double> step_work_;    // unmasked scores of a step on each ring rank's shard

  HostView<int8_t**> q8_;         // rows x d
  HostView<float*> q_scale_;      // rows
  HostView<float**> k_mean_;      // groups x d
  HostView<float*> lse_shift_;    // rows: smoothing's LSE term (smooth_k only)
  HostView<float**> v_scale_;     // groups x d (int8 P.V)
  HostView<float*> m_, l_;        // online-softmax state of every local row
  HostView<float**> acc_;         // rows x d
  HostView<std::byte*> shard_[2];  // the shard computed on and the one in flight
  // Per concurrent thread (a UniqueToken slot): the backend's scratch, a reference record, the
  // cycle counts of the kernel phases.
  Kokkos::Experimental::UniqueToken<HostExec> token_;
  HostView<std::byte**> scratch_;
  HostView<double**> ref_record_;
  HostView<TileCycles*> cycles_;
  RingTraffic traffic_;             // of the run in progress
  std::vector<RingTraffic> runs_;  // of every run
  LinkStats link_;
  double quiet_step0_ = -1.0;  // measure(): step 0's compute seconds, no transfer in flight
  std::optional<Comm> ring_;  // the ranks of this rank's ring (make_comm)
};

}  // namespace miniattn
