// The parts of the sve backend that need the BF16 extension (BFDOT), in their own object
// compiled with +bf16 and called only when the CPU reports it (A64FX does not have it).
#pragma once

#include <cstdint>

#include "kernels/sve/sve_kernels.hpp"

namespace miniattn::sve {

// True when this build compiled the BFDOT kernels (the compiler knows +bf16).
bool bf16_kernels_built();

// acc[r] (= acc * alpha) += P[r] . V with bfdot over `pairs` key pairs: P as bf16 bits, row
// stride ldp, zero where masked; V packed in pairs: pair i, column x: V[2i][x], V[2i+1][x] at
// vp + (i * d + x) * 2.
void pv_rows_bf16(const uint16_t* p, int64_t ldp, const uint16_t* vp, int d, int rows, int pairs,
                  float* acc, const AccMode& mode);

// bfdot throughput of this thread in flop/s, register-resident, for about `seconds`.
double bfdot_peak(double seconds);

}  // namespace miniattn::sve
