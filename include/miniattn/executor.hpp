// One rank's attention run. The driver owns the rank's float inputs and outputs (a RankSlice)
// and asks the backend for an executor: CPU backends use the driver's threaded executor over
// their kernel primitives; a backend that manages its own device (cuda) provides its own.
#pragma once

#include <cstddef>
#include <cstdint>

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
};

class RankExecutor {
 public:
  virtual ~RankExecutor() = default;
  // One attention run: fills O and LSE of the slice, adds the quantize, pack, qk_gemm,
  // softmax, pv_gemm (and comm) seconds it spent to phases, and returns the kernel seconds
  // spent outside those phases (finalisation, scheduling, waiting).
  virtual double run(PhaseSeconds& phases) = 0;
  virtual std::size_t bytes_allocated() const = 0;
};

}  // namespace miniattn
