// miniattn: MPI_Init -> run_app (command line, deck, Kokkos, the run) -> finalise. A thin
// shell; the run is src/driver/.
#include "driver/driver.hpp"

#if MINIATTN_HAVE_MPI
#include <mpi.h>
#endif
int main(int argc, char** argv) {
#if MINIATTN_HAVE_MPI
  int provided = 0;
  // Threads run kernels only; MPI is called from the main thread.
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
#endif
  // Kokkos starts inside, once the deck says how many threads a rank runs.
  const int code = miniattn::run_app(argc, argv);
#if MINIATTN_HAVE_MPI
  MPI_Finalize();
#endif
  return code;
}
