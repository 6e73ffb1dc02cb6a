// The app: command line -> deck (rank 0, broadcast) -> one run -> exit code.
#pragma once

namespace miniattn {

// Everything main() does between MPI/Kokkos initialisation and finalisation. Never throws:
// errors are printed once, by rank 0, and turned into the exit code (see error.hpp).
int run_app(int argc, char** argv);

}  // namespace miniattn
