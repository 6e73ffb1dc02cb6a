// The one file that names every backend. A new backend is a folder under src/kernels/, an
// object library in src/CMakeLists.txt defining MINIATTN_HAVE_<NAME>, and one entry here (and
// one in studies.cpp if it has peak loops or kernel studies). The kokkos backend, which needs
// Kokkos, is linked outside miniattn_core and handed over at run time (registry.hpp:
// ExternalBackend).
#include "miniattn/registry.hpp"

#include <algorithm>
#include <functional>

#include "kernels/portable/portable_backend.hpp"
#include "kernels/reference/reference_backend.hpp"
#if defined(MINIATTN_HAVE_CUDA)
#include "kernels/cuda/cuda_backend.hpp"
#endif
#if defined(MINIATTN_HAVE_SVE)
#include "kernels/sve/sve_backend.hpp"
#endif
#if defined(MINIATTN_HAVE_AVX512)
#include "kernels/avx512/avx512_backend.hpp"
#endif
#if defined(MINIATTN_HAVE_AVX2)
#include "kernels/avx2/avx2_backend.hpp"
#endif
#include "miniattn/cpu_features.hpp"
#include "miniattn/error.hpp"

namespace miniattn {
namespace {

struct Entry {
  const char* name;
  const char* enable;  // CMake option that builds it
  int priority;        // "auto" picks the highest compiled and supported; 0 = never auto
  bool compiled;
  std::function<std::string()> unsupported;  // empty if this machine can run it
  std::function<std::unique_ptr<Backend>()> make;
  const char* detail;
};

std::string always_supported() { return {}; }

#if defined(MINIATTN_HAVE_CUDA)
constexpr bool kCudaBuilt = true;
#else
constexpr bool kCudaBuilt = false;
std::string cuda_unsupported() { return "not built"; }                // never called: not compiled
std::unique_ptr<Backend> make_cuda_backend() { return nullptr; }  // never called: not compiled
#endif

std::string sve_unsupported() {
  const CpuFeatures& f = cpu_features();
  if (f.arch != "aarch64") return "needs an aarch64 CPU with SVE (this is " + f.arch + ")";
  if (!f.sve) return "this CPU has no SVE (HWCAP_SVE not set)";
  return {};
}

std::string avx512_unsupported() {
  const CpuFeatures& f = cpu_features();
  if (f.arch != "x86_64") return "needs an x86-64 CPU with AVX-512 (this is " + f.arch + ")";
  std::string missing;
  for (auto [have, name] : {std::pair{f.avx512f, "avx512f"}, {f.avx512bw, "avx512bw"},
                            {f.avx512vl, "avx512vl"}, {f.avx512dq, "avx512dq"},
                            {f.avx512_vnni, "avx512_vnni"}, {f.fma, "fma"}})
    if (!have) missing += (missing.empty() ? "" : ", ") + std::string(name);
  return missing.empty() ? std::string() : "this CPU lacks " + missing;
}

#if defined(MINIATTN_HAVE_AVX512)
constexpr bool kAvx512Built = true;
#else
constexpr bool kAvx512Built = false;
std::unique_ptr<Backend> make_avx512_backend() { return nullptr; }  // never called: not compiled
#endif

#if defined(MINIATTN_HAVE_AVX2)
constexpr bool kAvx2Built = true;
std::string avx2_unsupported_here() { return avx2_unsupported(avx2_dot_for_cpu()); }
#else
constexpr bool kAvx2Built = false;
std::string avx2_unsupported_here() { return "not built"; }     // never called: not compiled
std::unique_ptr<Backend> make_avx2_backend() { return nullptr; }  // never called: not compiled
#endif

#if defined(MINIATTN_HAVE_SVE)
constexpr bool kSveBuilt = true;
#else
constexpr bool kSveBuilt = false;
std::unique_ptr<Backend> make_sve_backend() { return nullptr; }  // never called: not compiled
#endif

ExternalBackend& kokkos_backend() {
  static ExternalBackend b;
  return b;
}

std::string kokkos_unsupported() {
  const ExternalBackend& b = kokkos_backend();
  return b.unsupported ? b.unsupported() : std::string();
}

std::unique_ptr<Backend> make_external_kokkos_backend() { return kokkos_backend().make(); }

// Rebuilt at every call: the kokkos entry changes when the program hands the backend over.
std::vector<Entry> entries() {
  const ExternalBackend& kk = kokkos_backend();
  return {
      {"cuda", "-DMINIATTN_ENABLE_CUDA=ON", 50, kCudaBuilt, cuda_unsupported, make_cuda_backend,
       "NVIDIA sm_80+: int8 mma.sync Q.K^T, ex2 softmax, bf16/int8 mma P.V, one GPU per rank"},
      {"avx512", "-DMINIATTN_ENABLE_AVX512=ON (x86-64 builds)", 40, kAvx512Built, avx512_unsupported,
       make_avx512_backend,
       "AVX-512 VNNI vpdpbusd Q.K^T, 16-row exp2, fp32 FMA / bf16 vdpbf16ps (avx512_bf16) / int8 vpdpbusd P.V"},
      {"sve", "-DMINIATTN_ENABLE_SVE=ON (aarch64 builds)", 35, kSveBuilt, sve_unsupported,
       make_sve_backend, "Arm SVE (vector-length agnostic, tuned for A64FX): sdot Q.K^T, fexpa exp2, fmla/bfdot/udot P.V"},
      {"avx2", "-DMINIATTN_ENABLE_AVX2=ON (x86-64 builds)", 30, kAvx2Built, avx2_unsupported_here,
       [] { return make_avx2_backend(); },
       "AVX2 + FMA: int16 vpmaddwd Q.K^T (AVX-VNNI vpdpbusd where present), 8-row exp2, fp32 FMA / "
       "emulated bf16 / int16 vpmaddwd (vpdpwssd) P.V"},
      // Priority from the backend: above the CPU backends when Kokkos runs on a device, else 5.
      {"kokkos", "-DMINIATTN_ENABLE_KOKKOS=ON (app builds: the app and the kernel tests link it)", kk.priority,
       kk.make != nullptr, kokkos_unsupported, make_external_kokkos_backend, kk.detail.c_str()},
      {"portable", "(always built)", 10, true, always_supported, make_portable_backend,
       "plain C++ int8 pipeline, no ISA flags"},
      {"reference", "(always built)", 0, true, always_supported, make_reference_backend,
       "float64, no quantisation: the ground truth"},
  };
}

std::vector<Entry> by_priority() {
  std::vector<Entry> v = entries();
  std::stable_sort(v.begin(), v.end(), [](const Entry& a, const Entry& b) { return a.priority > b.priority; });
  return v;
}

}  // namespace

void set_kokkos_backend(const ExternalBackend& b) { kokkos_backend() = b; }

std::vector<BackendInfo> backend_infos() {
  std::vector<BackendInfo> out;
  for (const Entry& e : by_priority()) {
    BackendInfo i;
    i.name = e.name;
    i.compiled = e.compiled;
    i.priority = e.priority;
    i.enable = e.enable;
    const std::string why = e.compiled ? e.unsupported() : std::string();
    i.supported = e.compiled && why.empty();
    i.detail = !e.compiled ? std::string("not built") : (why.empty() ? std::string(e.detail) : why);
    out.push_back(i);
  }
  return out;
}

std::string auto_backend_name() {
  for (const Entry& e : by_priority())
    if (e.priority > 0 && e.compiled && e.unsupported().empty()) return e.name;
  return "portable";
}

std::unique_ptr<Backend> create_backend(std::string_view name) {
  const std::string want = name == "auto" ? auto_backend_name() : std::string(name);
  std::string known;
  for (const Entry& e : entries()) {
    known += known.empty() ? "" : ", ";
    known += e.name;
    if (want != e.name) continue;
    if (!e.compiled)
      throw Error("backend '" + want + "' is not compiled into this binary; reconfigure with " +
                  e.enable + " (miniattn --list-backends shows what is built)");
    if (const std::string why = e.unsupported(); !why.empty())
      throw Error("backend '" + want + "' cannot run on this machine: " + why);
    return e.make();
  }
  throw Error("unknown backend '" + want + "'; expected auto or one of: " + known);
}

}  // namespace miniattn
