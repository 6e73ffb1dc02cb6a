#include "driver/kokkos_session.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "miniattn/kokkos_host.hpp"

#if defined(__linux__)
#include <sched.h>
#endif

namespace miniattn {
namespace {

// Kokkos 4 renamed the option (and dropped the old name).
#if KOKKOS_VERSION >= 40000
constexpr const char* kThreadsOption = "--kokkos-num-threads";
#else
constexpr const char* kThreadsOption = "--kokkos-threads";
#endif

bool names_threads(const std::string& arg) {
  return arg.rfind("--kokkos-num-threads", 0) == 0 || arg.rfind("--kokkos-threads", 0) == 0;
}

}  // namespace

int available_cores() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int requested_threads(int64_t deck_threads) {
  if (deck_threads > 0) return static_cast<int>(deck_threads);
  if (const char* env = std::getenv("OMP_NUM_THREADS"); env && *env) {
    const int n = std::atoi(env);  // "4" or a list "4,2": the first level
    if (n > 0) return n;
  }
  return available_cores();
}

KokkosSession::KokkosSession(const Comm& comm, int threads, const std::vector<std::string>& kokkos_args,
                             bool verbose) {
  std::vector<std::string> args{"miniattn"};
  bool user_threads = false;
  for (const std::string& a : kokkos_args) {
    args.push_back(a);
    user_threads = user_threads || names_threads(a);
  }
  if (!user_threads) args.push_back(fmt::format("{}={}", kThreadsOption, threads));
  // Kokkos' warnings (e.g. OMP_PROC_BIND unset) come from every rank, amid the report.
  if (!verbose) args.push_back("--kokkos-disable-warnings");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  int argc = static_cast<int>(argv.size());
  argv.push_back(nullptr);
  Kokkos::initialize(argc, argv.data());
  if (comm.root() && !user_threads && host_threads() < threads) {
    fmt::print(stderr,
               "miniattn: warning: {} runs {} thread(s) per rank, not the {} asked for: its host "
               "execution space has no threads (build Kokkos with -DKokkos_ENABLE_OPENMP=ON, as "
               "scripts/setup_kokkos.sh does)\n",
               kokkos_description(), host_threads(), threads);
    std::fflush(stderr);
  }
}

KokkosSession::~KokkosSession() { Kokkos::finalize(); }

}  // namespace miniattn
