// The MPI communicator of a Comm, for libraries that take one (HDF5's MPI-IO). Everything else
// uses Comm's own operations.
#pragma once

#include <mpi.h>

#include "miniattn/comm.hpp"

namespace miniattn {

inline MPI_Comm mpi_comm(const Comm& comm) {
  return *static_cast<const MPI_Comm*>(comm.native_handle());
}

}  // namespace miniattn
