#include "driver/progress.hpp"

#include <unistd.h>

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
  items_ = items;
  done_ = 0;
  shown_tenths_ = 0;
  t0_ = wall_seconds();
}

void Progress::advance(int64_t items) noexcept {
  const int64_t done = done_.fetch_add(items, std::memory_order_relaxed) + items;
  if (!out_ || items_ <= 0) return;
  const int tenths = static_cast<int>(done * 10 / items_);
  int shown = shown_tenths_.load(std::memory_order_relaxed);
  if (tenths <= shown || tenths >= 10) return;  // the end is end_run's
  const double elapsed = wall_seconds() - t0_;
  if (elapsed < min_seconds_) return;
  if (!shown_tenths_.compare_exchange_strong(shown, tenths)) return;  // another thread prints it
  char text[160];
  std::snprintf(text, sizeof text, "%s: %d%% of rank 0's %lld work items, %.1f s", label_,
                tenths * 10, static_cast<long long>(items_), elapsed);
  print(false, text);
}

void Progress::end_run(double seconds) {
  // Short runs pass silently (unless --verbose): progress is for runs worth waiting on.
  if (!out_ || (seconds < min_seconds_ && shown_tenths_ == 0)) return;
  char text[160];
  std::snprintf(text, sizeof text, "%s: %.3f s", label_, seconds);
  print(true, text);
}

void Progress::note(std::string_view line) const {
  if (!root_ || verbosity() != Verbosity::Verbose) return;
  fmt::print(stderr, "[miniattn] {}\n", line);
  std::fflush(stderr);
}

}  // namespace miniattn
