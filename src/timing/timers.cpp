#include "miniattn/timers.hpp"

#include <array>
#include <string>

#include "miniattn/clock.hpp"

#if MINIATTN_HAVE_KOKKOS
#include <Kokkos_Core.hpp>
#endif

namespace miniattn {

void push_region(std::string_view name) {
#if MINIATTN_HAVE_KOKKOS
  Kokkos::Profiling::pushRegion("miniattn::" + std::string(name));
#else
  (void)name;
#endif
}

void pop_region() {
#if MINIATTN_HAVE_KOKKOS
  Kokkos::Profiling::popRegion();
#endif
}

ScopedPhase::ScopedPhase(PhaseSeconds& into, Phase phase)
    : into_(into), phase_(phase), t0_(wall_seconds()) {
  push_region(phase_name(phase));
}

ScopedPhase::~ScopedPhase() {
  pop_region();
  into_[phase_] += wall_seconds() - t0_;
}

}  // namespace miniattn
