// The phases every run is timed by (DESIGN.md), as plain data shared by the kernels and the app.
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

}  // namespace miniattn
