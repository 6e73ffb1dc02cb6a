// What the app says besides errors and its report: --quiet, --verbose, and the progress of long
// runs, shown by rank 0 per repeat and, for kernels that take more than a second, per tenth of
// the rank's work items.
//
// However many repeats a run has, progress stays short: a line is kept for each tenth of the
// whole loop of runs (warmup and timed; every run when there are ten or fewer, and always the
// last). A terminal also sees the latest run and item count rewritten in place, at most once a
// second; a batch log (--verbose, stderr not a terminal) gets the kept lines only.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string_view>

#include "miniattn/executor.hpp"

namespace miniattn {

enum class Verbosity { Quiet, Normal, Verbose };
void set_verbosity(Verbosity v);  // once, from the command line
Verbosity verbosity();

// Rank 0's progress display. Shown never with --quiet; always with --verbose (on stderr);
// otherwise only when someone is watching a terminal: stderr itself, or the
// controlling terminal of a rank whose stderr an MPI launcher forwards through a pipe
// (mpirun started from an interactive shell). Batch jobs and CI logs stay clean.
class Progress final : public WorkProgress {
 public:
  explicit Progress(bool root);
  ~Progress() override;
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  bool shown() const { return out_ != nullptr; }
  // Run `run` (0-based) of `runs`, the first `warmup` of them untimed, over `items` items.
  void begin_run(int64_t run, int64_t runs, int64_t warmup, int64_t items);
  void advance(int64_t items) noexcept override;
  void end_run(double seconds);
  // A line for --verbose only (rank 0, stderr).
  void note(std::string_view line) const;

 private:
  // Prints the line if it is kept (it reaches a new tenth of the loop, or ends the last run) or,
  // on a terminal, if the last line is a second old; true if printed. With print_mutex_ held.
  bool show(int loop_tenths, bool run_end, const char* text) noexcept;
  void print(bool final_line, const char* text) noexcept;

  static constexpr double kLineSeconds = 1.0;  // at most one rewritten line per second

  bool root_ = false;
  std::FILE* out_ = nullptr;
  bool own_out_ = false;  // the controlling terminal, opened here
  bool tty_ = false;      // rewrite one line with \r instead of printing lines
  double min_seconds_ = 1.0;  // item progress only for kernels that run longer
  char label_[64] = {};
  int64_t run_ = 0, runs_ = 1;
  int64_t items_ = 0;
  double t0_ = 0.0;
  std::atomic<int64_t> done_{0};
  std::atomic<int> shown_tenths_{0};  // of this run's items
  int shown_loop_tenths_ = 0;         // of the whole loop of runs
  double last_line_ = -1e300;         // wall time of the last line printed
  std::mutex print_mutex_;            // one printing thread at a time
};

}  // namespace miniattn
