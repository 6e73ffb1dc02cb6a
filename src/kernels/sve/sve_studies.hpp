// The SVE backend's peak loops (the app's "% of peak", miniattn-bench) and the seeds' kernel
// studies on SVE (miniattn-bench); kernels/studies.cpp finds them by backend name.
#pragma once

#include "kernels/studies.hpp"
#include "miniattn/peaks.hpp"

namespace miniattn::sve {
const KernelStudies* sve_studies();
PeakRates sve_peak_rates(double seconds);
}  // namespace miniattn::sve
