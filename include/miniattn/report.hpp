// The run's report: a table on stdout, one greppable summary line, and the JSON document of
// DESIGN.md. Built on rank 0 from values already reduced over ranks.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "miniattn/attn_params.hpp"
#include "miniattn/timers.hpp"
#include "miniattn/verify.hpp"

namespace miniattn {

// Peak rates of one thread of this machine, measured by the peak loops of the best backend
// (miniattn-bench's loops); the run's peak is that times all its threads (ranks x threads).
struct MachinePeaks {
  double int8_gops = 0.0;
  double fp32_gflops = 0.0;
  double bf16_gflops = 0.0;
  std::string source;  // which loops, how long
};

struct RunSummary {
  std::string backend;
  std::string cpu;
  AttnParams params;
  int ranks = 1;
  int threads_per_rank = 1;
  std::string kv_mode = "replicated";
  int repeat = 0;
  int warmup = 0;

  std::vector<double> phase_seconds;  // ranks x kNumPhases, rank-major
  std::vector<double> kernel_runs;    // seconds of each timed run (max over ranks)
  double kernel_other_max = 0.0;      // kernel seconds outside the three timed kernel phases
  double ops = 0.0;                   // 4 * d * unmasked scores
  double predicted_imbalance = 0.0;
  std::optional<MachinePeaks> peak;
  std::optional<ErrorStats> verification;
  std::string verify_mode;  // "sampled" or "full" when verification ran
  Tolerances tolerances;
  std::string verify_hint;  // why a failed verification most likely failed, and what to try
  std::string output_file;
  std::string git_hash;

  // Scale-out facts. Bytes of Q, K, V delivered to the ranks by the read phase (float32, summed
  // over ranks: K/V a rank needs twice count twice) and of O and LSE written; input "synthetic"
  // or "hdf5" (synthetic "reads" generate the data).
  double read_bytes = 0.0;
  double write_bytes = 0.0;
  std::string input_source;
  // The executor's figures (ring mode: traffic, hidden comm), over ranks.
  struct StatRange {
    std::string name;
    double min = 0.0, avg = 0.0, max = 0.0;
  };
  std::vector<StatRange> executor_stats;

  double kernel_median() const;
  double kernel_min() const;
};

std::string format_table(const RunSummary& s);
std::string summary_line(const RunSummary& s);
std::string report_json(const RunSummary& s);  // pretty-printed JSON text

}  // namespace miniattn
