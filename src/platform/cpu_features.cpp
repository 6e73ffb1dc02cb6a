// CPU feature probe. Built without ISA flags: only cpuid/xgetbv (x86-64) or the auxiliary
// vector and prctl (aarch64), never an instruction the CPU might lack.
#include "miniattn/cpu_features.hpp"

#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#include <sys/prctl.h>
#endif

namespace miniattn {
namespace {

#if defined(__x86_64__)
uint64_t xgetbv0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

void probe(CpuFeatures& f) {
  f.arch = "x86_64";
  unsigned a, b, c, d;
  if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000004u) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      __get_cpuid(0x80000002u + i, &a, &b, &c, &d);
      std::memcpy(brand + 16 * i, &a, 4);
      std::memcpy(brand + 16 * i + 4, &b, 4);
      std::memcpy(brand + 16 * i + 8, &c, 4);
      std::memcpy(brand + 16 * i + 12, &d, 4);
    }
    f.model = brand;
    while (!f.model.empty() && f.model.back() == ' ') f.model.pop_back();
  }
  if (!__get_cpuid(1, &a, &b, &c, &d)) return;
  const bool osxsave = (c >> 27) & 1;
  const bool fma = (c >> 12) & 1;
  if (!osxsave) return;
  const uint64_t xcr0 = xgetbv0();
  const bool os_avx = (xcr0 & 0x6) == 0x6;            // XMM and YMM state
  const bool os_avx512 = os_avx && (xcr0 & 0xE0) == 0xE0;  // opmask, ZMM hi256, hi16 ZMM
  if (!os_avx) return;
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7) return;
  __cpuid_count(7, 0, a, b, c, d);
  const unsigned leaf7_max_sub = a;
  f.fma = fma;
  f.avx2 = (b >> 5) & 1;
  if (os_avx512) {
    f.avx512f = (b >> 16) & 1;
    f.avx512dq = (b >> 17) & 1;
    f.avx512bw = (b >> 30) & 1;
    f.avx512vl = (b >> 31) & 1;
    f.avx512_vnni = (c >> 11) & 1;
  }
  if (leaf7_max_sub >= 1) {
    __cpuid_count(7, 1, a, b, c, d);
    f.avx_vnni = (a >> 4) & 1;
    if (os_avx512) f.avx512_bf16 = (a >> 5) & 1;
  }
}
#elif defined(__aarch64__) && defined(__linux__)
void probe(CpuFeatures& f) {
  f.arch = "aarch64";
  const unsigned long hw = getauxval(AT_HWCAP);
  const unsigned long hw2 = getauxval(AT_HWCAP2);
#ifdef HWCAP_SVE
  f.sve = hw & HWCAP_SVE;
#endif
#ifdef HWCAP2_SVEBF16
  f.sve_bf16 = hw2 & HWCAP2_SVEBF16;
#endif
#ifdef HWCAP2_SVEI8MM
  f.sve_i8mm = hw2 & HWCAP2_SVEI8MM;
#endif
  (void)hw2;
#ifdef PR_SVE_GET_VL
  if (f.sve) {
    const int vl = prctl(PR_SVE_GET_VL);
    if (vl > 0) f.sve_bits = (vl & PR_SVE_VL_LEN_MASK) * 8;
  }
#endif
}
#else
void probe(CpuFeatures& f) {
#if defined(__aarch64__)
  f.arch = "aarch64";
#else
  f.arch = "unknown";
#endif
}
#endif

}  // namespace

std::string CpuFeatures::summary() const {
  std::string s;
  auto add = [&s](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(avx2, "avx2");
  add(fma, "fma");
  add(avx_vnni, "avx_vnni");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512dq, "avx512dq");
  add(avx512_vnni, "avx512_vnni");
  add(avx512_bf16, "avx512_bf16");
  if (sve) s += (s.empty() ? "" : " ") + std::string("sve") + std::to_string(sve_bits);
  add(sve_bf16, "sve_bf16");
  add(sve_i8mm, "sve_i8mm");
  return s.empty() ? std::string("baseline") : s;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures x;
    probe(x);
    return x;
  }();
  return f;
}

}  // namespace miniattn
