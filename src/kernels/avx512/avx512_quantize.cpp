// Quantisation on 16 lanes: the vector type of kernels/common/quantize_simd.hpp, and V written
// straight into the packed key pairs (bf16) and quads (int8) the P.V reads.
//
// Butterflies inside a vector: level h pairs lane j with lane j ^ h, fetched by an in-lane
// vpermilps (h = 1, 2) or a 128-bit lane shuffle (h = 4, 8), and one FMA x * s + partner with
// s = -1 on the lanes that hold the b of a pair: 2 instructions per 16 values per level.
#include "kernels/avx512/avx512_quantize.hpp"

#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/common/quantize_simd.hpp"

namespace miniattn::avx512 {

struct QuantVec {
  static constexpr int kLanes = 16;
  static constexpr int kMaxRowRegs = 16;  // rows of up to 256 values stay in registers
  static constexpr int kDLanes = 8;
  static constexpr int kDRegs = 16;  // K mean: 128 channels' double sums in registers
  using F = __m512;
  using I = __m512i;
  using D = __m512d;

  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, F x) { _mm512_storeu_ps(p, x); }
  static F set1(float x) { return _mm512_set1_ps(x); }
  static F zero() { return _mm512_setzero_ps(); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static F abs_max(F m, F x) { return _mm512_max_ps(m, _mm512_abs_ps(x)); }
  static float hmax(F x) { return _mm512_reduce_max_ps(x); }

  static I encode(F x, F inv) {
    const I r = _mm512_cvt_roundps_epi32(_mm512_mul_ps(x, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_min_epi32(_mm512_max_epi32(r, _mm512_set1_epi32(-127)), _mm512_set1_epi32(127));
  }
  // rint(x * inv) without the clamp, for store_s8x4 (which clamps).
  static I round(F x, F inv) {
    return _mm512_cvt_roundps_epi32(_mm512_mul_ps(x, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // Four vectors of round() as 64 int8 clamped to [-127, 127], a's 16 first; sum += the values.
  // Saturating packs (int32 -> int16 -> int8, lane by lane) then one dword permutation: 5
  // instructions per 64 values, against 4 x (max, min, vpmovdb) per-vector.
  static void store_s8x4(int8_t* p, I a, I b, I c, I d, I& sum) {
    // After the packs, dword 4 L + s holds channels 4 L .. 4 L + 3 of vector s.
    const I idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const I bytes = _mm512_packs_epi16(_mm512_packs_epi32(a, b), _mm512_packs_epi32(c, d));
    const I q = _mm512_max_epi8(_mm512_permutexvar_epi32(idx, bytes), _mm512_set1_epi8(-127));
    _mm512_storeu_si512(p, q);
    sum = _mm512_dpbusd_epi32(sum, _mm512_set1_epi8(1), q);
  }
  static I izero() { return _mm512_setzero_si512(); }
  static I iadd(I a, I b) { return _mm512_add_epi32(a, b); }
  static int32_t hsum(I x) { return _mm512_reduce_add_epi32(x); }
  static void store_s8(int8_t* p, I x) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(x)); }

  struct Butterflies {
    F sign[4];  // level h = 1 << l: -1 on the lanes j with bit h set
    Butterflies() {
      for (int l = 0; l < 4; ++l) {
        alignas(64) float s[16];
        for (int j = 0; j < 16; ++j) s[j] = (j & (1 << l)) ? -1.0f : 1.0f;
        sign[l] = _mm512_load_ps(s);
      }
    }
  };
  static F butterflies(F v, const Butterflies& b) {
    v = _mm512_fmadd_ps(v, b.sign[0], _mm512_permute_ps(v, 0xB1));         // lanes j ^ 1
    v = _mm512_fmadd_ps(v, b.sign[1], _mm512_permute_ps(v, 0x4E));         // j ^ 2
    v = _mm512_fmadd_ps(v, b.sign[2], _mm512_shuffle_f32x4(v, v, 0xB1));   // j ^ 4
    return _mm512_fmadd_ps(v, b.sign[3], _mm512_shuffle_f32x4(v, v, 0x4E));  // j ^ 8
  }

  static D dload(const double* p) { return _mm512_loadu_pd(p); }
  static void dstore(double* p, D x) { _mm512_storeu_pd(p, x); }
  static D dadd(D a, D b) { return _mm512_add_pd(a, b); }
  static D dwiden(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
};

namespace {

// bf16 of each lane (round to nearest even: quant::float_to_bf16), in the low 16 bits.
inline __m512i bf16_bits(__m512i b) {
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
  return _mm512_srli_epi32(_mm512_add_epi32(b, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF))), 16);
}

}  // namespace

void v_bf16_pairs(const float* v, int64_t j0, int64_t n, int64_t block_n, int d, uint16_t* v2) {
  for (int64_t j = j0; j < j0 + n; j += 2) {
    const float* a = v + j * d;
    const float* b = j + 1 < block_n ? a + d : nullptr;
    uint16_t* out = v2 + (j / 2) * d * 2;
    for (int c = 0; c < d; c += 16) {
      const __m512i lo = bf16_bits(_mm512_castps_si512(_mm512_loadu_ps(a + c)));
      const __m512i hi = b ? _mm512_slli_epi32(bf16_bits(_mm512_castps_si512(_mm512_loadu_ps(b + c))), 16)
                           : _mm512_setzero_si512();
      _mm512_storeu_si512(out + 2 * c, _mm512_or_si512(lo, hi));
    }
  }
}

void v_s8_quads(const float* v, int64_t j0, int64_t n, int64_t block_n, int d, const float* amax, int8_t* v4) {
  std::vector<float> inv(static_cast<std::size_t>(d));
  const bool any_tiny = quant::v_channel_inverse(amax, d, inv.data());
  // After the saturating packs of keys (0, 1) and (2, 3), 128-bit lane L holds channels
  // 4 L .. 4 L + 3 of key 0, then key 1, 2, 3; one byte shuffle per lane puts each channel's four
  // keys together, which is the quad layout. The packs saturate, max(-127) completes the clamp.
  const __m512i quad = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
  const __m512i lo = _mm512_set1_epi8(-127);
  const int64_t end = j0 + n;
  for (int64_t j = j0; j < end; j += 4) {
    const int keys = static_cast<int>(std::min<int64_t>(4, block_n - j));
    const float* r[4];
    for (int i = 0; i < 4; ++i) r[i] = i < keys ? v + (j + i) * d : nullptr;
    int8_t* out = v4 + (j / 4) * d * 4;
    for (int c = 0; c < d; c += 16) {
      const __m512 vinv = _mm512_loadu_ps(inv.data() + c);
      __m512i e[4];
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) e[i] = r[i] ? QuantVec::round(_mm512_loadu_ps(r[i] + c), vinv) : _mm512_setzero_si512();
      const __m512i b = _mm512_packs_epi16(_mm512_packs_epi32(e[0], e[1]), _mm512_packs_epi32(e[2], e[3]));
      _mm512_storeu_si512(out + 4 * c, _mm512_max_epi8(_mm512_shuffle_epi8(b, quad), lo));
    }
  }
  for (int c = 0; c < d && any_tiny; ++c)
    if (quant::is_tiny(amax[c]))
      for (int64_t j = j0; j < std::min(end, block_n); ++j)
        v4[((j / 4) * d + c) * 4 + j % 4] = quant::encode_tiny(v[j * d + c], amax[c]);
}

}  // namespace miniattn::avx512

// The entries of kernels/common/quantize_entries.hpp on this library's vectors.
template struct miniattn::quant_simd::Entries<miniattn::avx512::QuantVec>;
