#include "miniattn/phases.hpp"

#include <array>

namespace miniattn {

std::string_view phase_name(Phase p) {
  static constexpr std::array<std::string_view, kNumPhases> kNames{
      "read", "quantize", "pack", "qk_gemm", "softmax", "pv_gemm", "comm", "write", "verify",
      "total"};
  return kNames[static_cast<int>(p)];
}

}  // namespace miniattn
