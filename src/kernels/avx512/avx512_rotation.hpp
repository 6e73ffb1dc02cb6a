// The Hadamard rotation of kernels/common/rotation.hpp on 16 lanes (compiled with the avx512
// library's ISA flags; called only where the CPU has AVX-512F).
#pragma once

#include <cstdint>

namespace miniattn::avx512 {

// x <- x H for `rows` rows of d values, bitwise equal to rotation::hadamard_rows_scalar.
void hadamard_rows(float* x, int64_t rows, int d);

}  // namespace miniattn::avx512
