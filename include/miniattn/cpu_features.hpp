// What this CPU can run, probed once at run time. The probe is compiled without ISA flags, so
// it is safe to call on any machine the binary loads on.
#pragma once

#include <string>

namespace miniattn {

struct CpuFeatures {
  std::string arch;   // "x86_64", "aarch64", ...
  std::string model;  // brand string where the CPU gives one
  // x86-64 (each also needs OS support for the registers, checked through XGETBV)
  bool avx2 = false;
  bool fma = false;
  bool avx_vnni = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512_vnni = false;
  bool avx512_bf16 = false;
  // aarch64
  bool sve = false;
  bool sve_bf16 = false;
  bool sve_i8mm = false;
  int sve_bits = 0;  // vector length in bits, 0 without SVE

  std::string summary() const;  // e.g. "avx2 fma avx512f ... avx512_bf16"
};

const CpuFeatures& cpu_features();

}  // namespace miniattn
