#include "driver/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "miniattn/clock.hpp"

namespace miniattn {
namespace {

std::atomic<Verbosity> g_verbosity{Verbosity::Normal};

}  // namespace

void set_verbosity(Verbosity v) { g_verbosity = v; }
Verbosity verbosity() { return g_verbosity; }

Progress::Progress(bool root) : root_(root) {
  if (!root || verbosity() == Verbosity::Quiet) return;
  if (verbosity() == Verbosity::Verbose) {
    out_ = stderr;
    tty_ = ::isatty(STDERR_FILENO) != 0;
    min_seconds_ = 0.0;
  } else if (::isatty(STDERR_FILENO)) {
    out_ = stderr;
    tty_ = true;
  } else if (std::FILE* tty = std::fopen("/dev/tty", "w")) {
    // Open MPI's mpirun forwards a rank's stderr through a pipe, so isatty(2) is false even in
    // an interactive shell; the rank still has the shell's terminal as controlling terminal.
    out_ = tty;
    own_out_ = true;
    tty_ = true;
  }
}

Progress::~Progress() {
  if (own_out_) std::fclose(out_);
}

void Progress::print(bool final_line, const char* text) noexcept {
  if (tty_) {
    // Rewrite the current line; clear what a longer previous text left.
    std::fprintf(out_, "\r%-78s%s", text, final_line ? "\n" : "");
  } else {
    std::fprintf(out_, "%s\n", text);
  }
  std::fflush(out_);
}

void Progress::begin_run(int64_t run, int64_t runs, int64_t warmup, int64_t items) {
  if (!out_) return;
  const bool is_warmup = run < warmup;
  std::snprintf(label_, sizeof label_, "[miniattn] %s %lld/%lld", is_warmup ? "warmup" : "run",
                static_cast<long long>(is_warmup ? run + 1 : run - warmup + 1),
                static_cast<long long>(is_warmup ? warmup : runs - warmup));
  if (run == 0) shown_loop_tenths_ = 0;
  run_ = run;
  runs_ = std::max<int64_t>(1, runs);
  items_ = items;
  done_ = 0;
  shown_tenths_ = 0;
  t0_ = wall_seconds();
}

bool Progress::show(int loop_tenths, bool run_end, const char* text) noexcept {
  const double now = wall_seconds();
  const bool keep = (run_end && run_ + 1 == runs_) || loop_tenths > shown_loop_tenths_;
  if (!keep && !(tty_ && now - last_line_ >= kLineSeconds)) return false;
  if (keep) shown_loop_tenths_ = loop_tenths;
  last_line_ = now;
  print(keep && run_end, text);  // a terminal keeps the line of a run that ends a tenth
  return true;
}

void Progress::advance(int64_t items) noexcept {
  const int64_t done = done_.fetch_add(items, std::memory_order_relaxed) + items;
  if (!out_ || items_ <= 0) return;
  const int tenths = static_cast<int>(done * 10 / items_);
  if (tenths <= shown_tenths_.load(std::memory_order_relaxed) || tenths >= 10) return;  // the end is end_run's
  const double elapsed = wall_seconds() - t0_;
  if (elapsed < min_seconds_) return;
  std::unique_lock<std::mutex> lock(print_mutex_, std::try_to_lock);
  if (!lock.owns_lock() || tenths <= shown_tenths_) return;  // another thread is printing
  char text[160];
  std::snprintf(text, sizeof text, "%s: %d%% of rank 0's %lld work items, %.1f s", label_,
                tenths * 10, static_cast<long long>(items_), elapsed);
  // Tenths of the loop within a run only when a run is a tenth of the loop or more; otherwise
  // the line of the run that ends a tenth is kept.
  const int loop_tenths = runs_ <= 10 ? static_cast<int>((10 * run_ + tenths) / runs_) : 0;
  if (show(loop_tenths, false, text)) shown_tenths_ = tenths;
}

void Progress::end_run(double seconds) {
  // Short runs pass silently (unless --verbose): progress is for runs worth waiting on.
  if (!out_ || (seconds < min_seconds_ && shown_tenths_ == 0)) return;
  char text[160];
  std::snprintf(text, sizeof text, "%s: %.3f s", label_, seconds);
  const std::lock_guard<std::mutex> lock(print_mutex_);
  show(static_cast<int>(10 * (run_ + 1) / runs_), true, text);
}

void Progress::note(std::string_view line) const {
  if (!root_ || verbosity() != Verbosity::Verbose) return;
  fmt::print(stderr, "[miniattn] {}\n", line);
  std::fflush(stderr);
}

}  // namespace miniattn
