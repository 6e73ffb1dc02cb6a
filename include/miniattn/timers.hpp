// Phase timers by name. Each phase is also a Kokkos profiling region, so Kokkos Tools
// (space-time-stack, kernel-timer) show the same breakdown as the app's own report.
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
