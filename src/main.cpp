// miniattn: MPI_Init -> Kokkos -> run_app -> finalise. A thin shell; the run is src/driver/.
#include "driver/driver.hpp"

#if MINIATTN_HAVE_MPI
#include <mpi.h>
#endif
#if MINIATTN_HAVE_KOKKOS
#include <Kokkos_Core.hpp>
#endif

int main(int argc, char** argv) {
#if MINIATTN_HAVE_MPI
  int provided = 0;
  // Threads run kernels only; MPI is called from the main thread.
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
#endif
  int code = 0;
  {
#if MINIATTN_HAVE_KOKKOS
    Kokkos::ScopeGuard kokkos(argc, argv);
#endif
    code = miniattn::run_app(argc, argv);
  }
#if MINIATTN_HAVE_MPI
  MPI_Finalize();
#endif
  return code;
}
