#include "miniattn/timers.hpp"

#include <array>
#include <string>

#include "miniattn/clock.hpp"

#if MINIATTN_HAVE_KOKKOS
#include <Kokkos_Core.hpp>
#endif

namespace miniattn {

std::string_view phase_name(Phase p) {
  static constexpr std::array<std::string_view, kNumPhases> kNames{
      "read", "quantize", "pack", "qk_gemm", "softmax", "pv_gemm", "comm", "write", "verify",
      "total"};
  return kNames[static_cast<int>(p)];
}

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
