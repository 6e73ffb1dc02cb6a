// The quantisation of kernels/common/quantize.hpp and the rotation of rotation.hpp as one
// vectorised pass per tensor, written once over a vector type V and compiled by each x86 backend
// with its own ISA flags (avx512: 16 lanes, avx2: 8). A row of K (or Q) is loaded once: the
// smoothing subtraction, the Hadamard butterflies, the absolute maximum and the int8 encoding run
// on registers (rows of up to V::kMaxRowRegs vectors; longer or odd-sized rows through one
// L1-resident row buffer), and the int8 row and its sum (the Q.K^T correction) come out of the
// same registers.
//
// Bitwise the scalar definition, value for value:
//  * the same float operations in the same order: x - mean, the butterflies a + b, a - b level by
//    level, one multiply by float(1 / sqrt(n)), then x * float(127 / amax). Inside a vector a
//    level is x * s + partner with s = +-1 in one FMA: x * s is exact, so the FMA rounds once,
//    like the scalar add or subtract;
//  * max is exact in any order, so the absolute maxima (and the scales amax / 127) are the same;
//  * rint by the vector rounding (round to nearest even) equals the scalar form's magic-number
//    rounding for |x| < 2^22, and |x * 127 / amax| <= 127 (1 + 2^-22);
//  * rows whose 127 / amax overflows float go through the scalar encoding (quant::encode_row);
//  * sums in double: a float x float product is exact in double, so an FMA equals the scalar
//    multiply and add, and every partial sum keeps the scalar order (per channel over keys for
//    the K mean, four partial sums over channels for the LSE term).
//
// V provides kLanes, kMaxRowRegs, F (kLanes floats), I (kLanes int32), D (kDLanes doubles),
// kDRegs (double accumulators kept in registers), and
//   load, store, set1, zero, add, sub, mul, abs_max(m, x) = max(m, |x|), hmax,
//   encode(x, inv) = rint(x * inv) clamped to [-127, 127] as int32, round(x, inv) = the same
//   unclamped, izero, iadd, hsum, store_s8 (kLanes bytes), store_s8x4(p, a, b, c, d, sum) (four
//   vectors of round() as 4 kLanes bytes clamped to [-127, 127], their sum added to sum), Butterflies and butterflies(x, b) (levels h < kLanes of the
//   transform inside one vector), dzero, dload, dstore, dadd, dwiden (kDLanes floats as doubles).
//
// Everything sits in an unnamed namespace: each ISA library compiles its own copy; the entries
// other code calls are Entries<V> (quantize_entries.hpp), instantiated by that library.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/common/quantize.hpp"
#include "kernels/common/quantize_entries.hpp"
#include "kernels/common/rotation.hpp"

namespace miniattn::quant_simd {
namespace {

inline float block_norm(int n) { return static_cast<float>(1.0 / std::sqrt(static_cast<double>(n))); }

constexpr int floor_pow2(int n) {
  int p = 1;
  while (2 * p <= n) p *= 2;
  return p;
}

// ---------------------------------------------------------------------------------------------
// The fast Walsh-Hadamard transform of rotation.hpp on vectors.
// ---------------------------------------------------------------------------------------------

// One power-of-two block of NB vectors in registers: levels inside each vector, then levels that
// pair whole vectors (h = NB / 2 last), then the norm.
template <class V, int NB>
inline void fwht_block(typename V::F* v, const typename V::Butterflies& b) {
#pragma GCC unroll 16
  for (int i = 0; i < NB; ++i) v[i] = V::butterflies(v[i], b);
#pragma GCC unroll 4
  for (int hv = 1; hv < NB; hv *= 2)
#pragma GCC unroll 16
    for (int i = 0; i < NB; i += 2 * hv)
#pragma GCC unroll 16
      for (int j = i; j < i + hv; ++j) {
        const typename V::F x = v[j], y = v[j + hv];
        v[j] = V::add(x, y);
        v[j + hv] = V::sub(x, y);
      }
  const typename V::F norm = V::set1(block_norm(NB * V::kLanes));
#pragma GCC unroll 16
  for (int i = 0; i < NB; ++i) v[i] = V::mul(v[i], norm);
}

// A row of NV vectors in registers: the blocks of the binary decomposition of its length.
template <class V, int At, int NV>
inline void fwht_row_regs(typename V::F* v, const typename V::Butterflies& b) {
  if constexpr (At < NV) {
    constexpr int nb = floor_pow2(NV - At);
    fwht_block<V, nb>(v + At, b);
    fwht_row_regs<V, At + nb, NV>(v, b);
  }
}

template <class V, int NB>
inline void fwht_block_at(float* x, const typename V::Butterflies& b) {
  typename V::F v[NB];
#pragma GCC unroll 16
  for (int i = 0; i < NB; ++i) v[i] = V::load(x + i * V::kLanes);
  fwht_block<V, NB>(v, b);
#pragma GCC unroll 16
  for (int i = 0; i < NB; ++i) V::store(x + i * V::kLanes, v[i]);
}

// Blocks too long for the registers: the levels that pair vectors run through memory (L1).
template <class V>
void fwht_block_in_memory(float* x, int n, const typename V::Butterflies& b) {
  const int nv = n / V::kLanes;
  for (int i = 0; i < nv; ++i) V::store(x + i * V::kLanes, V::butterflies(V::load(x + i * V::kLanes), b));
  for (int hv = 1; hv < nv; hv *= 2)
    for (int i = 0; i < nv; i += 2 * hv)
      for (int j = i; j < i + hv; ++j) {
        const typename V::F p = V::load(x + j * V::kLanes), q = V::load(x + (j + hv) * V::kLanes);
        V::store(x + j * V::kLanes, V::add(p, q));
        V::store(x + (j + hv) * V::kLanes, V::sub(p, q));
      }
  const typename V::F norm = V::set1(block_norm(n));
  for (int i = 0; i < nv; ++i) V::store(x + i * V::kLanes, V::mul(V::load(x + i * V::kLanes), norm));
}

// A block of nb vectors: in registers when nb is at most V::kMaxRowRegs, else through memory.
template <class V, int NB = 1>
inline void fwht_block_any(float* x, int nb, const typename V::Butterflies& b) {
  if constexpr (NB <= V::kMaxRowRegs) {
    if (nb == NB) return fwht_block_at<V, NB>(x, b);
    return fwht_block_any<V, 2 * NB>(x, nb, b);
  } else {
    fwht_block_in_memory<V>(x, nb * V::kLanes, b);
  }
}

// One row of d values (d a multiple of 16) in place.
template <class V>
void fwht_row(float* x, int d, const typename V::Butterflies& b) {
  static_assert(16 % V::kLanes == 0, "blocks of 16 values must be whole vectors");
  for (int at = 0; at < d;) {
    const int n = rotation::block_size(at, d);
    fwht_block_any<V>(x + at, n / V::kLanes, b);
    at += n;
  }
}

template <class V>
void hadamard_rows(float* x, int64_t rows, int d) {
  static const typename V::Butterflies b;
  for (int64_t r = 0; r < rows; ++r) fwht_row<V>(x + r * d, d, b);
}

// ---------------------------------------------------------------------------------------------
// Rows: smoothing + rotation, absolute maximum, encoding.
// ---------------------------------------------------------------------------------------------

// Encodes n values (a multiple of kLanes) with one absolute maximum; returns the sum of the int8
// values. Rows whose 127 / amax overflows float take the scalar route.
template <class V>
int32_t encode_values(const float* x, int n, float amax, int8_t* q) {
  const float inv = amax == 0.0f ? 0.0f : 127.0f / amax;
  if (std::isinf(inv)) {
    quant::encode_row(x, n, amax, q);
    int32_t s = 0;
    for (int i = 0; i < n; ++i) s += q[i];
    return s;
  }
  const typename V::F vinv = V::set1(inv);  // 0 for amax = 0: every value encodes to 0
  typename V::I sum = V::izero();
  int i = 0;
  for (; i + 4 * V::kLanes <= n; i += 4 * V::kLanes)
    V::store_s8x4(q + i, V::round(V::load(x + i), vinv), V::round(V::load(x + i + V::kLanes), vinv),
                  V::round(V::load(x + i + 2 * V::kLanes), vinv), V::round(V::load(x + i + 3 * V::kLanes), vinv), sum);
  for (; i < n; i += V::kLanes) {
    const typename V::I e = V::encode(V::load(x + i), vinv);
    V::store_s8(q + i, e);
    sum = V::iadd(sum, e);
  }
  return V::hsum(sum);
}

template <class V>
float absmax_values(const float* x, int n) {
  typename V::F m0 = V::zero(), m1 = V::zero();
  int i = 0;
  for (; i + 2 * V::kLanes <= n; i += 2 * V::kLanes) {
    m0 = V::abs_max(m0, V::load(x + i));
    m1 = V::abs_max(m1, V::load(x + i + V::kLanes));
  }
  if (i < n) m0 = V::abs_max(m0, V::load(x + i));
  return V::hmax(V::max(m0, m1));
}

// The row as quantisation sees it: x - mean (mean may be null), rotated when asked.
template <class V>
void prepare_row(const float* x, int d, const float* mean, bool rotate, float* out,
                 const typename V::Butterflies& b) {
  for (int c = 0; c < d; c += V::kLanes)
    V::store(out + c, mean ? V::sub(V::load(x + c), V::load(mean + c)) : V::load(x + c));
  if (rotate) fwht_row<V>(out, d, b);
}

// Rows whose NV vectors fit the registers, one scale per row: loaded once, everything in
// registers until the int8 bytes are stored.
template <class V, int NV, bool Smooth, bool Rotate>
void rows_per_token_regs(const float* x, int64_t rows, const float* mean, int8_t* q8, float* scale,
                         int32_t* sums, const typename V::Butterflies& b) {
  constexpr int d = NV * V::kLanes;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    typename V::F v[NV];
#pragma GCC unroll 16
    for (int i = 0; i < NV; ++i)
      v[i] = Smooth ? V::sub(V::load(xr + i * V::kLanes), V::load(mean + i * V::kLanes)) : V::load(xr + i * V::kLanes);
    if constexpr (Rotate) fwht_row_regs<V, 0, NV>(v, b);
    typename V::F m0 = V::zero(), m1 = V::zero();
#pragma GCC unroll 16
    for (int i = 0; i + 1 < NV; i += 2) {
      m0 = V::abs_max(m0, v[i]);
      m1 = V::abs_max(m1, v[i + 1]);
    }
    if constexpr (NV % 2 == 1) m0 = V::abs_max(m0, v[NV - 1]);
    const float amax = V::hmax(V::max(m0, m1));
    const float inv = amax == 0.0f ? 0.0f : 127.0f / amax;
    int8_t* qr = q8 + r * d;
    int32_t s;
    if (std::isinf(inv)) {  // a subnormal row: the scalar encoding of the same values
      alignas(64) float tmp[d];
#pragma GCC unroll 16
      for (int i = 0; i < NV; ++i) V::store(tmp + i * V::kLanes, v[i]);
      s = encode_values<V>(tmp, d, amax, qr);
    } else {
      static_assert(NV % 4 == 0, "rows in registers are whole groups of four vectors");
      const typename V::F vinv = V::set1(inv);
      typename V::I acc = V::izero();
#pragma GCC unroll 4
      for (int i = 0; i < NV; i += 4)
        V::store_s8x4(qr + i * V::kLanes, V::round(v[i], vinv), V::round(v[i + 1], vinv), V::round(v[i + 2], vinv),
                      V::round(v[i + 3], vinv), acc);
      s = V::hsum(acc);
    }
    scale[r] = amax / 127.0f;
    if (sums) sums[r] = s;
  }
}

template <class V, int NV>
bool rows_per_token_fixed(const float* x, int64_t rows, const float* mean, bool rotate, int8_t* q8, float* scale,
                          int32_t* sums, const typename V::Butterflies& b) {
  if constexpr (NV > V::kMaxRowRegs) {
    return false;
  } else {
    if (mean && rotate) rows_per_token_regs<V, NV, true, true>(x, rows, mean, q8, scale, sums, b);
    else if (mean) rows_per_token_regs<V, NV, true, false>(x, rows, mean, q8, scale, sums, b);
    else if (rotate) rows_per_token_regs<V, NV, false, true>(x, rows, mean, q8, scale, sums, b);
    else rows_per_token_regs<V, NV, false, false>(x, rows, mean, q8, scale, sums, b);
    return true;
  }
}

// quant::quantize_rows with smoothing and rotation folded in: rows [0, rows) of x (stride d),
// one scale per row or one for all; sums (may be null) gets each int8 row's sum.
template <class V>
void quantize_rows(bool one_scale, bool rotate, const float* x, int64_t rows, int d, const float* mean, int8_t* q8,
                   float* scale, int32_t* sums) {
  static const typename V::Butterflies b;
  if (!one_scale) {
    const int nv = d / V::kLanes;
    if (nv == 4 && rows_per_token_fixed<V, 4>(x, rows, mean, rotate, q8, scale, sums, b)) return;
    if (nv == 8 && rows_per_token_fixed<V, 8>(x, rows, mean, rotate, q8, scale, sums, b)) return;
    if (nv == 16 && rows_per_token_fixed<V, 16>(x, rows, mean, rotate, q8, scale, sums, b)) return;
    std::vector<float> row(static_cast<std::size_t>(d));
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * d;
      const float* src = xr;
      if (mean || rotate) {
        prepare_row<V>(xr, d, mean, rotate, row.data(), b);
        src = row.data();
      }
      const float amax = absmax_values<V>(src, d);
      const int32_t s = encode_values<V>(src, d, amax, q8 + r * d);
      scale[r] = amax / 127.0f;
      if (sums) sums[r] = s;
    }
    return;
  }
  std::vector<float> all(static_cast<std::size_t>(rows) * d);
  float amax = 0.0f;
  for (int64_t r = 0; r < rows; ++r) {
    prepare_row<V>(x + r * d, d, mean, rotate, all.data() + r * d, b);
    amax = std::max(amax, absmax_values<V>(all.data() + r * d, d));
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t s = encode_values<V>(all.data() + r * d, d, amax, q8 + r * d);
    scale[r] = amax / 127.0f;
    if (sums) sums[r] = s;
  }
}

// quant::quantize_k: per_block scales over blocks of kKeyQuantBlock keys from key 0.
template <class V>
void quantize_k(quant::QkQuant mode, const float* k, int64_t n, int d, const float* mean, int8_t* k8, float* scale,
                int32_t* sums) {
  const bool rotate = mode.rotate == Rotation::Hadamard;
  if (mode.scales == QkScales::PerToken) return quantize_rows<V>(false, rotate, k, n, d, mean, k8, scale, sums);
  for (int64_t j0 = 0; j0 < n; j0 += kKeyQuantBlock) {
    const int64_t rows = std::min<int64_t>(kKeyQuantBlock, n - j0);
    quantize_rows<V>(true, rotate, k + j0 * d, rows, d, mean, k8 + j0 * d, scale + j0, sums ? sums + j0 : nullptr);
  }
}

// ---------------------------------------------------------------------------------------------
// Sums in double.
// ---------------------------------------------------------------------------------------------

// quant::smoothing_lse_shift: four rows at a time, each row's four partial sums (channels
// c = j mod 4) in the lanes of one 4-double vector, in channel order.
template <int R>
inline void lse_shift_rows(const float* q, int d, const float* mean, double scale, float* shift) {
  __m256d acc[R];
#pragma GCC unroll 4
  for (int i = 0; i < R; ++i) acc[i] = _mm256_setzero_pd();
  for (int c = 0; c < d; c += 4) {
    const __m256d m = _mm256_cvtps_pd(_mm_loadu_ps(mean + c));
#pragma GCC unroll 4
    for (int i = 0; i < R; ++i)
      acc[i] = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm_loadu_ps(q + static_cast<int64_t>(i) * d + c)), m, acc[i]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < R; ++i) {
    alignas(32) double s[4];
    _mm256_store_pd(s, acc[i]);
    shift[i] = static_cast<float>(scale * ((s[0] + s[1]) + (s[2] + s[3])));
  }
}

inline void smoothing_lse_shift(const float* q, int rows, int d, const float* mean, double scale, float* shift) {
  int r = 0;
  for (; r + 4 <= rows; r += 4) lse_shift_rows<4>(q + static_cast<int64_t>(r) * d, d, mean, scale, shift + r);
  for (; r < rows; ++r) lse_shift_rows<1>(q + static_cast<int64_t>(r) * d, d, mean, scale, shift + r);
}

// quant::k_channel_sum over NR double vectors of channels from c0, the sums in registers over
// every key.
template <class V, int NR>
void channel_sums(const float* k, int64_t n, int d, int c0, double* sum) {
  typename V::D acc[NR];
#pragma GCC unroll 16
  for (int i = 0; i < NR; ++i) acc[i] = V::dload(sum + c0 + i * V::kDLanes);
  for (int64_t j = 0; j < n; ++j) {
    const float* kr = k + j * d + c0;
#pragma GCC unroll 16
    for (int i = 0; i < NR; ++i) acc[i] = V::dadd(acc[i], V::dwiden(kr + i * V::kDLanes));
  }
#pragma GCC unroll 16
  for (int i = 0; i < NR; ++i) V::dstore(sum + c0 + i * V::kDLanes, acc[i]);
}

// quant::v_channel_absmax, NR vectors of channels from c0 in registers.
template <class V, int NR>
void channel_absmax(const float* v, int64_t n, int d, int c0, float* amax) {
  typename V::F acc[NR];
#pragma GCC unroll 16
  for (int i = 0; i < NR; ++i) acc[i] = V::load(amax + c0 + i * V::kLanes);
  for (int64_t j = 0; j < n; ++j) {
    const float* vr = v + j * d + c0;
#pragma GCC unroll 16
    for (int i = 0; i < NR; ++i) acc[i] = V::abs_max(acc[i], V::load(vr + i * V::kLanes));
  }
#pragma GCC unroll 16
  for (int i = 0; i < NR; ++i) V::store(amax + c0 + i * V::kLanes, acc[i]);
}

// Channels in runs of kRegs vectors, then halves of that: f<NR>(c0) for each run.
template <int NR, int Width, class F>
inline void channel_runs(int d, int& c0, F&& f) {
  if constexpr (NR >= 1) {
    for (; c0 + NR * Width <= d; c0 += NR * Width) f(std::integral_constant<int, NR>{}, c0);
    channel_runs<NR / 2, Width>(d, c0, f);
  }
}

template <class V>
void kv_stats(const float* k, const float* v, int64_t n, int d, double* k_sum, float* v_absmax) {
  static_assert(16 % V::kDLanes == 0 && 16 % V::kLanes == 0, "d is a multiple of 16");
  if (k_sum) {
    int c0 = 0;
    channel_runs<V::kDRegs, V::kDLanes>(d, c0, [&](auto nr, int c) { channel_sums<V, decltype(nr)::value>(k, n, d, c, k_sum); });
  }
  if (v_absmax) {
    int c0 = 0;
    channel_runs<V::kDRegs, V::kLanes>(d, c0, [&](auto nr, int c) { channel_absmax<V, decltype(nr)::value>(v, n, d, c, v_absmax); });
  }
}

}  // namespace

// The exported entries (quantize_entries.hpp), instantiated by the ISA library that includes this.
template <class V>
void Entries<V>::hadamard_rows(float* x, int64_t rows, int d) {
  quant_simd::hadamard_rows<V>(x, rows, d);
}

template <class V>
void Entries<V>::kv_stats(const float* k, const float* v, int64_t n, int d, double* k_sum, float* v_absmax) {
  quant_simd::kv_stats<V>(k, v, n, d, k_sum, v_absmax);
}

template <class V>
void Entries<V>::quantize_q(quant::QkQuant mode, const float* q, int rows, int d, const float* k_mean, double scale,
                            int8_t* q8, float* q_scale, float* lse_shift) {
  quantize_rows<V>(mode.scales == QkScales::PerBlock, mode.rotate == Rotation::Hadamard, q, rows, d, nullptr, q8,
                   q_scale, nullptr);
  if (k_mean) smoothing_lse_shift(q, rows, d, k_mean, scale, lse_shift);
}

template <class V>
void Entries<V>::quantize_k(quant::QkQuant mode, const float* k, int64_t n, int d, const float* mean, int8_t* k8,
                            float* scale, int32_t* sums) {
  quant_simd::quantize_k<V>(mode, k, n, d, mean, k8, scale, sums);
}

}  // namespace miniattn::quant_simd
