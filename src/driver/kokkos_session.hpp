// Kokkos for one run: started once the deck is known (its [run] threads sets the host space's
// threads), with the command line's --kokkos-* options, and finalised when the run is over.
#pragma once

#include <string>
#include <vector>

#include "miniattn/comm.hpp"

namespace miniattn {

// Threads per rank: [run] threads when > 0, else OMP_NUM_THREADS, else every core the rank may
// use (its affinity mask).
int requested_threads(int64_t deck_threads);

// The cores this rank may run on.
int available_cores();

class KokkosSession {
 public:
  // kokkos_args: the --kokkos-* options of the command line (they win over `threads`); warnings
  // of Kokkos itself (every rank, on stdout) only with `verbose`. Rank 0 warns once when the
  // host space runs fewer threads than asked for (a Kokkos with the Serial space only).
  KokkosSession(const Comm& comm, int threads, const std::vector<std::string>& kokkos_args, bool verbose);
  ~KokkosSession();
  KokkosSession(const KokkosSession&) = delete;
  KokkosSession& operator=(const KokkosSession&) = delete;
};

}  // namespace miniattn
