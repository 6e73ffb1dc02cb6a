// Phase timers by name. Each phase is also a Kokkos profiling region, so Kokkos Tools
// (space-time-stack, kernel-timer) show the same breakdown as the app's own report.
#pragma once

#include <string_view>

#include "miniattn/phases.hpp"

namespace miniattn {

// Adds the wall time of its scope to one phase and marks it as a Kokkos profiling region.
class ScopedPhase {
 public:
  ScopedPhase(PhaseSeconds& into, Phase phase);
  ~ScopedPhase();
  ScopedPhase(const ScopedPhase&) = delete;
  ScopedPhase& operator=(const ScopedPhase&) = delete;

 private:
  PhaseSeconds& into_;
  Phase phase_;
  double t0_;
};

// Profiling region without timing (for nested steps worth seeing in Kokkos Tools).
void push_region(std::string_view name);
void pop_region();

}  // namespace miniattn
