// The one file that names every backend's kernel studies and peak loops: a backend that has
// them is one entry here (its *_studies.cpp beside its kernels). Which backends are built and
// run on this machine is the registry's answer.
#include "kernels/studies.hpp"

#include <algorithm>
#include <vector>

#include "kernels/portable/portable_studies.hpp"
#if defined(MINIATTN_HAVE_SVE)
#include "kernels/sve/sve_studies.hpp"
#endif
#if defined(MINIATTN_HAVE_AVX512)
#include "kernels/avx512/avx512_studies.hpp"
#endif
#if defined(MINIATTN_HAVE_AVX2)
#include "kernels/avx2/avx2_studies.hpp"
#endif
#include "miniattn/peaks.hpp"
#include "miniattn/registry.hpp"

namespace miniattn {
namespace {

struct Entry {
  const char* backend;
  const KernelStudies* (*studies)();
  PeakRates (*peaks)(double seconds);  // null: no peak loops
};

#if defined(MINIATTN_HAVE_AVX2)
// With the dot product create_backend("avx2") picks on this CPU.
const KernelStudies* avx2_studies_here() { return avx2_studies(avx2_dot_for_cpu()); }
PeakRates avx2_peaks_here(double seconds) { return avx2_peak_rates(avx2_dot_for_cpu(), seconds); }
#endif

const std::vector<Entry>& entries() {
  static const std::vector<Entry> list = {
#if defined(MINIATTN_HAVE_AVX512)
      {"avx512", avx512_studies, avx512_peak_rates},
#endif
#if defined(MINIATTN_HAVE_SVE)
      {"sve", sve::sve_studies, sve::sve_peak_rates},
#endif
#if defined(MINIATTN_HAVE_AVX2)
      {"avx2", avx2_studies_here, avx2_peaks_here},
#endif
      {"portable", portable_studies, nullptr},
  };
  return list;
}

const Entry* entry_of(std::string_view backend) {
  for (const Entry& e : entries())
    if (backend == e.backend) return &e;
  return nullptr;
}

}  // namespace

const KernelStudies* kernel_studies(std::string_view backend) {
  const Entry* e = entry_of(backend);
  if (!e) return nullptr;
  for (const BackendInfo& i : backend_infos())
    if (i.name == backend) return i.supported ? e->studies() : nullptr;
  return nullptr;
}

std::optional<MachinePeakRates> measure_machine_peaks(double seconds, int trials) {
  for (const BackendInfo& i : backend_infos()) {  // highest priority first
    const Entry* e = entry_of(i.name);
    if (!i.supported || !e || !e->peaks) continue;
    MachinePeakRates m;
    m.backend = i.name;
    for (int t = 0; t < trials; ++t) {
      const PeakRates r = e->peaks(seconds);
      m.rates.int8_gops = std::max(m.rates.int8_gops, r.int8_gops);
      m.rates.fp32_gflops = std::max(m.rates.fp32_gflops, r.fp32_gflops);
      m.rates.bf16_gflops = std::max(m.rates.bf16_gflops, r.bf16_gflops);
    }
    if (m.rates.int8_gops > 0.0) return m;
  }
  return std::nullopt;
}

}  // namespace miniattn
