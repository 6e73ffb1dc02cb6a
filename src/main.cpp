// miniattn: MPI_Init -> Kokkos -> run_app -> finalise. A thin shell; the run is src/driver/.
#include "driver/driver.hpp"

#if MINIATTN_HAVE_MPI
#include <mpi.h>
#endif
#if MINIATTN_HAVE_KOKKOS
#include <Kokkos_Core.hpp>
#endif
#if MINIATTN_HAVE_KOKKOS_BACKEND
#include "kernels/kokkos/kokkos_backend.hpp"
#endif

#include <cstring>
#include <vector>

int main(int argc, char** argv) {
#if MINIATTN_HAVE_MPI
  int provided = 0;
  // Threads run kernels only; MPI is called from the main thread.
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
#endif
  int code = 0;
  {
    // Kokkos' own warnings (e.g. OMP_PROC_BIND unset) come from every rank on stdout, around
    // the report; they are shown with --verbose only. Kokkos removes the flag it recognises.
    std::vector<char*> args(argv, argv + argc);
    static char kQuiet[] = "--kokkos-disable-warnings";
    bool verbose = false;
    for (int i = 1; i < argc; ++i) verbose = verbose || std::strcmp(argv[i], "--verbose") == 0;
#if MINIATTN_HAVE_KOKKOS
    if (!verbose) args.push_back(kQuiet);
#else
    (void)verbose;
    (void)kQuiet;
#endif
    int nargs = static_cast<int>(args.size());
    args.push_back(nullptr);
#if MINIATTN_HAVE_KOKKOS
    Kokkos::ScopeGuard kokkos(nargs, args.data());
#endif
#if MINIATTN_HAVE_KOKKOS_BACKEND
    miniattn::register_kokkos_backend();
#endif
    code = miniattn::run_app(nargs, args.data());
  }
#if MINIATTN_HAVE_MPI
  MPI_Finalize();
#endif
  return code;
}
