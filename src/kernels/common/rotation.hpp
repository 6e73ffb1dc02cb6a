// Incoherent processing (FlashAttention-3 §3.3, QuaRot): Q and K multiplied by one orthonormal
// Hadamard matrix H before quantisation. Q.K^T = (QH)(KH)^T, so the scores (and softmax, O and
// LSE) are unchanged in exact arithmetic, while an outlier channel is spread over every channel
// and per-token int8 loses far less.
//
// H is block diagonal over the binary decomposition of D into powers of two (D = 96: a 64 and a
// 32 block), each block the Sylvester-Walsh matrix H_n / sqrt(n), applied with the fast
// Walsh-Hadamard transform (n log2 n additions). Every implementation performs the same float
// operations in the same order: butterflies a + b, a - b for h = 1, 2, 4, ..., n / 2 over the
// block, then one multiply by float(1 / sqrt(n)), so the rotated values (and the int8 values
// quantised from them) are bitwise identical whichever CPU path or backend produced them.
#pragma once

#include <cstdint>

namespace miniattn::rotation {

// Rotates `rows` rows of d values (row stride d) in place: x <- x H.
void hadamard_rows(float* x, int64_t rows, int d);

// The plain C++ form (the definition the vector paths reproduce bit for bit).
void hadamard_rows_scalar(float* x, int64_t rows, int d);

// y = x H in double (no rounding between levels): for rotating a mean that was summed in double.
void hadamard_row_double(double* x, int d);

// Size of the power-of-two block that starts at channel `at` of a row of d channels.
inline int block_size(int at, int d) {
  int n = 1;
  while (2 * n <= d - at) n *= 2;
  return n;
}

}  // namespace miniattn::rotation
