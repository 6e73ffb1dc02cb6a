// The AVX2 backend's peak loops (the app's "% of peak", miniattn-bench) and kernel studies
// (miniattn-bench), for each of its dot products; kernels/studies.cpp finds them by backend name
// with the dot product the registry picks for this CPU.
#pragma once

#include "kernels/avx2/avx2_backend.hpp"
#include "kernels/studies.hpp"
#include "miniattn/peaks.hpp"

namespace miniattn {
const KernelStudies* avx2_studies(Avx2Dot dot);
PeakRates avx2_peak_rates(Avx2Dot dot, double seconds);
}  // namespace miniattn
