#include "driver/failure.hpp"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace miniattn {
namespace {

// The registered paths, in fixed buffers so that a signal handler can read them safely.
char g_temp_paths[kMaxTemporaryOutputs][4096];
volatile std::sig_atomic_t g_num_temps = 0;

constexpr std::array<int, 3> kCleanupSignals{SIGTERM, SIGINT, SIGHUP};

extern "C" void remove_temps_and_reraise(int sig) {
  for (int i = 0; i < g_num_temps; ++i) ::unlink(g_temp_paths[i]);  // async-signal-safe
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void remove_temps() {
  const int n = g_num_temps;
  g_num_temps = 0;
  for (int i = 0; i < n; ++i) std::remove(g_temp_paths[i]);
}

constexpr std::array<std::string_view, 8> kStages{"setup",  "allocate", "read",   "attention",
                                                  "verify", "write",    "report", "commit"};

struct Fault {
  int rank = -1;
  std::string stage;
  std::string mode = "throw";
};

// "" and fills f when text is RANK:STAGE[:MODE], else what is wrong with it.
std::string parse_fault(std::string_view text, Fault& f) {
  const std::string expect =
      fmt::format("MINIATTN_FAULT={}: expected RANK:STAGE[:MODE] with STAGE one of {} and MODE "
                  "one of throw, exit, kill",
                  text, fmt::join(kStages, ", "));
  const std::size_t c1 = text.find(':');
  if (c1 == std::string_view::npos) return expect;
  const std::string rank(text.substr(0, c1));
  const std::string_view rest = text.substr(c1 + 1);
  const std::size_t c2 = rest.find(':');
  f.stage = std::string(rest.substr(0, c2));
  if (c2 != std::string_view::npos) f.mode = std::string(rest.substr(c2 + 1));
  char* end = nullptr;
  const long r = std::strtol(rank.c_str(), &end, 10);
  if (rank.empty() || *end != '\0' || r < 0 || r > 1 << 24) return expect;
  f.rank = static_cast<int>(r);
  bool known = false;
  for (std::string_view s : kStages) known = known || s == f.stage;
  if (!known || (f.mode != "throw" && f.mode != "exit" && f.mode != "kill")) return expect;
  return "";
}

}  // namespace

void set_temporary_outputs(const std::vector<std::string>& paths) {
  g_num_temps = 0;  // the handler reads no buffer while it is rewritten
  int n = 0;
  for (const std::string& path : paths) {
    // Longer than PATH_MAX: the file could not have been created.
    if (path.empty() || path.size() >= sizeof g_temp_paths[0] || n == kMaxTemporaryOutputs) continue;
    std::memcpy(g_temp_paths[n++], path.c_str(), path.size() + 1);
  }
  static const bool installed = [] {
    for (int sig : kCleanupSignals) {
      struct sigaction sa {};
      sa.sa_handler = remove_temps_and_reraise;
      sigemptyset(&sa.sa_mask);
      sigaction(sig, &sa, nullptr);
    }
    return true;
  }();
  (void)installed;
  g_num_temps = n;
}

void end_job(const Comm& comm, std::string_view what, ExitCode code) {
  std::fflush(stdout);
  fmt::print(stderr, "miniattn: rank {}: error: {}\n", comm.rank(), what);
  std::fflush(stderr);
  remove_temps();
  comm.abort(static_cast<int>(code));
}

void inject_fault(const Comm& comm, std::string_view stage) {
  const char* env = std::getenv("MINIATTN_FAULT");
  if (!env || !*env) return;
  Fault f;
  const std::string bad = parse_fault(env, f);
  // Every rank reads the same variable, so every rank agrees on a malformed one.
  raise_if_any(comm, bad, ExitCode::BadInput);
  if (f.rank != comm.rank() || f.stage != stage) return;
  const std::string what =
      fmt::format("injected fault at stage '{}' (MINIATTN_FAULT={})", stage, env);
  if (f.mode == "throw") throw std::runtime_error(what);
  fmt::print(stderr, "miniattn: rank {}: {}: {}\n", comm.rank(), what,
             f.mode == "exit" ? "exiting without MPI_Finalize" : "sending itself SIGKILL");
  std::fflush(stderr);
  if (f.mode == "exit") std::_Exit(static_cast<int>(ExitCode::RuntimeFailure));
  ::raise(SIGKILL);
}

}  // namespace miniattn
