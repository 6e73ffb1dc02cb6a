// kokkos: the INT8 fused attention kernel written in Kokkos alone (a TeamPolicy over work items,
// the K/V tile in team scratch, TeamThreadRange / ThreadVectorRange over rows, keys and
// channels), templated on the execution space. It is the path for GPUs the cuda backend does
// not serve (AMD through HIP, Intel through SYCL: a Kokkos built for them), and runs on Kokkos'
// host space (OpenMP) elsewhere. Numerics are the portable backend's. See docs/backends.md.
//
// It lives in miniattn_kokkos, outside miniattn_core (which links no Kokkos); a program linked
// with it calls register_kokkos_backend() once Kokkos is initialised.
#pragma once

#include <memory>

#include "miniattn/kernel.hpp"

namespace miniattn {

std::unique_ptr<Backend> make_kokkos_backend();

// Hands the kokkos backend to the registry (registry.hpp: set_kokkos_backend).
void register_kokkos_backend();

// The execution space of the executor's kernel, for messages and tests: "OpenMP", "Cuda", ...
const char* kokkos_execution_space_name();

}  // namespace miniattn
