// The phases every run is timed by (DESIGN.md), shared by the kernels and the app, and the
// profiling regions they appear as (Kokkos Tools in the app: see timers.hpp).
#pragma once

#include <array>
#include <string_view>

namespace miniattn {

enum class Phase : int {
  Read,
  Quantize,
  Pack,
  QkGemm,
  Softmax,
  PvGemm,
  Comm,
  Write,
  Verify,
  Total,
};
inline constexpr int kNumPhases = 10;

std::string_view phase_name(Phase p);

struct PhaseSeconds {
  std::array<double, kNumPhases> s{};
  double& operator[](Phase p) { return s[static_cast<int>(p)]; }
  double operator[](Phase p) const { return s[static_cast<int>(p)]; }
  PhaseSeconds& operator+=(const PhaseSeconds& o) {
    for (int i = 0; i < kNumPhases; ++i) s[i] += o.s[i];
    return *this;
  }
};

// Profiling regions: no-ops until the app installs hooks (Kokkos::Profiling in miniattn).
using RegionPush = void (*)(std::string_view name);
using RegionPop = void (*)();
void set_region_hooks(RegionPush push, RegionPop pop);
void push_region(std::string_view name);
void pop_region();

// Adds the wall time of its scope to one phase and marks it as a profiling region.
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

}  // namespace miniattn
