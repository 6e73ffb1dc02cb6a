#include "miniattn/phases.hpp"

#include <array>

#include "miniattn/clock.hpp"

namespace miniattn {

std::string_view phase_name(Phase p) {
  static constexpr std::array<std::string_view, kNumPhases> kNames{
      "read", "quantize", "pack", "qk_gemm", "softmax", "pv_gemm", "comm", "write", "verify",
      "total"};
  return kNames[static_cast<int>(p)];
}

namespace {
RegionPush g_push = nullptr;
RegionPop g_pop = nullptr;
}  // namespace

void set_region_hooks(RegionPush push, RegionPop pop) {
  g_push = push;
  g_pop = pop;
}

void push_region(std::string_view name) {
  if (g_push) g_push(name);
}

void pop_region() {
  if (g_pop) g_pop();
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
