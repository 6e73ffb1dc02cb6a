// The machine's instruction peaks: per-ISA loops on register operands, the reference of every
// "% of peak" in the project (the app's report measures them at start-up, miniattn-bench prints
// them). The loops live beside each ISA's kernel studies; kernels/studies.cpp finds them.
#pragma once

#include <optional>
#include <string>

namespace miniattn {

struct PeakRates {  // one thread, register-resident loops, 0 where the ISA has no such unit
  double int8_gops = 0.0;
  double fp32_gflops = 0.0;
  double bf16_gflops = 0.0;
};

// This machine's per-thread instruction peaks, from the peak loops of the highest-priority
// backend that runs here and has them; each rate the best of `trials` runs of `seconds` (a peak
// is a maximum: a trial that shared its core with another process does not lower it).
struct MachinePeakRates {
  std::string backend;  // whose loops measured them
  PeakRates rates;
};
std::optional<MachinePeakRates> measure_machine_peaks(double seconds, int trials);

}  // namespace miniattn
