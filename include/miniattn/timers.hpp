// The app's timers: the phases of phases.hpp, shown as Kokkos profiling regions, so Kokkos Tools
// (space-time-stack, kernel-timer) see the same breakdown as the app's own report.
#pragma once

#include "miniattn/phases.hpp"

namespace miniattn {

// Points the profiling-region hooks of phases.hpp at Kokkos::Profiling (no-op without Kokkos).
void use_kokkos_regions();

}  // namespace miniattn
