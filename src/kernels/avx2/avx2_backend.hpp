#pragma once

#include <memory>
#include <string>

#include "miniattn/kernel.hpp"

namespace miniattn {

// The instructions of the avx2 backend's integer dot products (Q.K^T and the int8 P.V).
enum class Avx2Dot : int {
  Madd16,      // AVX2: int16 vpmaddwd + vpaddd (operands sign-extended at pack time)
  AvxVnni,     // AVX-VNNI (VEX): vpdpbusd with Q + 128 and column sums, vpdpwssd
  Avx512Vnni,  // the same instructions EVEX-encoded on ymm (AVX512-VNNI + VL): tests the VNNI
               // path on AVX-512 machines; never picked by the registry
};

const char* to_string(Avx2Dot dot);
// AvxVnni where the CPU has AVX-VNNI, else Madd16.
Avx2Dot avx2_dot_for_cpu();
// Empty if this CPU can run the avx2 backend with that dot product, else why not.
std::string avx2_unsupported(Avx2Dot dot);

std::unique_ptr<Backend> make_avx2_backend();  // avx2_dot_for_cpu()
std::unique_ptr<Backend> make_avx2_backend(Avx2Dot dot);

}  // namespace miniattn
