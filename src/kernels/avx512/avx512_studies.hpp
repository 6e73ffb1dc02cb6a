// The AVX-512 backend's peak loops (the app's "% of peak", miniattn-bench) and kernel studies
// (miniattn-bench); kernels/studies.cpp finds them by backend name.
#pragma once

#include "kernels/studies.hpp"
#include "miniattn/peaks.hpp"

namespace miniattn {
const KernelStudies* avx512_studies();
PeakRates avx512_peak_rates(double seconds);
}  // namespace miniattn
