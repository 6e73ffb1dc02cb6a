// One rank's attention run. The driver owns the rank's float inputs and outputs (a RankSlice)
// and asks the backend for an executor: CPU backends use the threaded CPU executor (src/exec/)
// over their kernel primitives; a backend that manages its own device (cuda) provides its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "miniattn/decomp.hpp"
#include "miniattn/phases.hpp"

namespace miniattn {

// Told of work items as an executor finishes them (the driver's progress display). Called
// from any thread; must be cheap and must not throw.
class WorkProgress {
 public:
  virtual ~WorkProgress() = default;
  virtual void advance(int64_t items) noexcept = 0;
};

// The rank's share of the problem, in the driver's (host) memory.
struct RankSlice {
  Range items;               // work items
  Range rows;                // flattened (B*H*Lq) query rows
  Range groups;              // flattened (B*Hkv) KV heads
  const float* q = nullptr;  // rows x d
  const float* k = nullptr;  // groups x lk x d
  const float* v = nullptr;  // groups x lk x d
  float* o = nullptr;        // rows x d
  float* lse = nullptr;      // rows
  WorkProgress* progress = nullptr;  // may be null: nobody is watching
  // The rows and keys the buffers hold, back to back: {rows} and the whole keys of `groups`
  // in replicated mode; in ring mode the zig-zag chunks of the ring's heads (ring_plan.hpp),
  // `rows` and `groups` then being their hulls.
  RowSet row_set;  // flattened (B*H*Lq) query rows of q, o, lse
  RowSet kv_set;   // flattened (B*Hkv*Lk) key rows of k, v
};

// The slice of `rank` in replicated mode: its work items, query rows and whole KV heads, with
// the row and key sets they span (pointers left null for the caller).
inline RankSlice replicated_slice(const AttnParams& p, const Decomposition& dec, int rank) {
  RankSlice s;
  s.items = dec.rank_items(rank);
  s.rows = dec.rank_rows(rank);
  s.groups = dec.rank_kv_groups(rank);
  s.row_set = RowSet(s.rows);
  s.kv_set = RowSet({s.groups.begin * p.lk, s.groups.end * p.lk});
  return s;
}

// Query rows whose float64 reference O the driver's verification needs.
struct ReferenceTask {
  int64_t bh = 0;             // flattened b * heads + h
  std::vector<int64_t> rows;  // rows within the head
  std::vector<float> q;       // rows x d
  std::vector<double> o;      // rows x d, filled by the reference
  std::vector<double> lse;    // rows, filled by the reference (natural log; -inf: no key)
};

// One figure of an executor for the report, e.g. ring bytes sent; reduced over ranks.
struct ExecutorStat {
  std::string name;
  double value = 0.0;
};

class RankExecutor {
 public:
  virtual ~RankExecutor() = default;
  // One attention run: fills O and LSE of the slice, adds the quantize, pack, qk_gemm,
  // softmax, pv_gemm (and comm) seconds it spent to phases, and returns the kernel seconds
  // spent outside those phases (finalisation, scheduling, waiting).
  virtual double run(PhaseSeconds& phases) = 0;
  virtual std::size_t bytes_allocated() const = 0;
  // The reference O of the tasks' rows when the rank does not hold every key of its heads
  // (ring mode); collective over the executor's ranks. False: the driver computes it from the
  // slice's K/V.
  virtual bool reference(std::vector<ReferenceTask>& tasks) { return false; }
  // Figures of the last run for the report (the same names, in the same order, on every rank).
  virtual std::vector<ExecutorStat> stats() const { return {}; }
};

}  // namespace miniattn
