// What the app says besides errors and its report: --quiet, --verbose, and the progress of long
// runs, shown by rank 0 per repeat and, for kernels that take more than a second, per tenth of
// the rank's work items.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "miniattn/executor.hpp"

namespace miniattn {

enum class Verbosity { Quiet, Normal, Verbose };
void set_verbosity(Verbosity v);  // once, from the command line
Verbosity verbosity();

// Rank 0's progress display. Shown never with --quiet; always with --verbose (on stderr, one
// line per step); otherwise only when someone is watching a terminal: stderr itself, or the
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
  void print(bool final_line, const char* text) noexcept;

  bool root_ = false;
  std::FILE* out_ = nullptr;
  bool own_out_ = false;  // the controlling terminal, opened here
  bool tty_ = false;      // rewrite one line with \r instead of printing lines
  double min_seconds_ = 1.0;  // item progress only for kernels that run longer
  char label_[64] = {};
  int64_t items_ = 0;
  double t0_ = 0.0;
  std::atomic<int64_t> done_{0};
  std::atomic<int> shown_tenths_{0};
};

}  // namespace miniattn
