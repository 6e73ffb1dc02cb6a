// Fast Walsh-Hadamard transform on 16 lanes. Butterfly levels h = 1, 2, 4, 8 stay inside one
// register: with p the lanes permuted by j -> j ^ h, x * s + p (s = +1 where bit h of the lane is
// clear, -1 where set) is a + b in the low lane of each pair and a - b in the high one, exactly
// (x * s is exact, so the fused multiply-add rounds once, like the scalar add). Levels h >= 16
// pair whole registers. 2 instructions per 16 values per in-register level, 2 per 32 values per
// register level, against ~6 scalar ones per pair: about 60 instructions for a row of 128.
#include "kernels/avx512/avx512_rotation.hpp"

#include <immintrin.h>

#include <cmath>

#include "kernels/common/rotation.hpp"

namespace miniattn::avx512 {
namespace {

struct InRegister {
  __m512i perm[4];
  __m512 sign[4];
  InRegister() {
    for (int l = 0; l < 4; ++l) {
      const int h = 1 << l;
      alignas(64) int idx[16];
      alignas(64) float s[16];
      for (int j = 0; j < 16; ++j) {
        idx[j] = j ^ h;
        s[j] = (j & h) ? -1.0f : 1.0f;
      }
      perm[l] = _mm512_load_si512(idx);
      sign[l] = _mm512_load_ps(s);
    }
  }
};

inline __m512 levels_1_to_8(__m512 v, const InRegister& c) {
#pragma GCC unroll 4
  for (int l = 0; l < 4; ++l) v = _mm512_fmadd_ps(v, c.sign[l], _mm512_permutexvar_ps(c.perm[l], v));
  return v;
}

// Register levels hv, 2 hv, ... < NV of one block (compile-time, so every index is in range).
template <int NV, int HV>
inline void register_levels(__m512* v) {
  if constexpr (HV < NV) {
#pragma GCC unroll 16
    for (int i = 0; i < NV; i += 2 * HV)
#pragma GCC unroll 16
      for (int j = i; j < i + HV; ++j) {
        const __m512 a = v[j], b = v[j + HV];
        v[j] = _mm512_add_ps(a, b);
        v[j + HV] = _mm512_sub_ps(a, b);
      }
    register_levels<NV, 2 * HV>(v);
  }
}

// One block of NV registers (16 NV values), everything in registers.
template <int NV>
inline void block_in_registers(float* x, const InRegister& c, __m512 norm) {
  __m512 v[NV];
#pragma GCC unroll 16
  for (int i = 0; i < NV; ++i) v[i] = levels_1_to_8(_mm512_loadu_ps(x + 16 * i), c);
  register_levels<NV, 1>(v);
#pragma GCC unroll 16
  for (int i = 0; i < NV; ++i) _mm512_storeu_ps(x + 16 * i, _mm512_mul_ps(v[i], norm));
}

// Larger blocks: the register levels through memory (L1-resident).
void block_in_memory(float* x, int n, const InRegister& c, __m512 norm) {
  const int nv = n / 16;
  for (int i = 0; i < nv; ++i) _mm512_storeu_ps(x + 16 * i, levels_1_to_8(_mm512_loadu_ps(x + 16 * i), c));
  for (int hv = 1; hv < nv; hv *= 2)
    for (int i = 0; i < nv; i += 2 * hv)
      for (int j = i; j < i + hv; ++j) {
        const __m512 a = _mm512_loadu_ps(x + 16 * j), b = _mm512_loadu_ps(x + 16 * (j + hv));
        _mm512_storeu_ps(x + 16 * j, _mm512_add_ps(a, b));
        _mm512_storeu_ps(x + 16 * (j + hv), _mm512_sub_ps(a, b));
      }
  for (int i = 0; i < nv; ++i) _mm512_storeu_ps(x + 16 * i, _mm512_mul_ps(_mm512_loadu_ps(x + 16 * i), norm));
}

}  // namespace

void hadamard_rows(float* x, int64_t rows, int d) {
  static const InRegister c;
  for (int64_t r = 0; r < rows; ++r)
    for (int at = 0; at < d;) {
      const int n = rotation::block_size(at, d);
      float* b = x + r * d + at;
      const __m512 norm = _mm512_set1_ps(static_cast<float>(1.0 / std::sqrt(static_cast<double>(n))));
      switch (n) {
        case 16: block_in_registers<1>(b, c, norm); break;
        case 32: block_in_registers<2>(b, c, norm); break;
        case 64: block_in_registers<4>(b, c, norm); break;
        case 128: block_in_registers<8>(b, c, norm); break;
        case 256: block_in_registers<16>(b, c, norm); break;
        default: block_in_memory(b, n, c, norm); break;  // n >= 512 (d is a multiple of 16)
      }
      at += n;
    }
}

}  // namespace miniattn::avx512
