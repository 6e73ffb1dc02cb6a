// Quantisation on 8 lanes: the vector type of kernels/common/quantize_simd.hpp, and K/V written
// straight into the avx2 backend's packed forms (int16 K, bf16 V as floats, int16 V key pairs).
//
// Butterflies inside a vector: level h pairs lane j with lane j ^ h (vpermilps for h = 1, 2,
// vperm2f128 for h = 4) and one FMA x * s + partner, s = -1 on the lanes that hold the b of a pair.
#include "kernels/avx2/avx2_quantize.hpp"

#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/avx2/avx2_simd.hpp"
#include "kernels/common/quantize_simd.hpp"

namespace miniattn::avx2 {

struct QuantVec {
  static constexpr int kLanes = 8;
  static constexpr int kMaxRowRegs = 8;  // rows of up to 64 values stay in the 16 registers
  static constexpr int kDLanes = 4;
  static constexpr int kDRegs = 8;
  using F = __m256;
  using I = __m256i;
  using D = __m256d;

  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, F x) { _mm256_storeu_ps(p, x); }
  static F set1(float x) { return _mm256_set1_ps(x); }
  static F zero() { return _mm256_setzero_ps(); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static F abs_max(F m, F x) { return _mm256_max_ps(m, _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x)); }
  static float hmax(F x) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
  }

  static I encode(F x, F inv) {
    const I r = _mm256_cvttps_epi32(_mm256_round_ps(_mm256_mul_ps(x, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    return _mm256_min_epi32(_mm256_max_epi32(r, _mm256_set1_epi32(-127)), _mm256_set1_epi32(127));
  }
  // rint(x * inv) without the clamp, for store_s8x4 (which clamps).
  static I round(F x, F inv) {
    return _mm256_cvttps_epi32(_mm256_round_ps(_mm256_mul_ps(x, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  // Four vectors of round() as 32 int8 clamped to [-127, 127], a's 8 first; sum += the values.
  // Saturating packs (int32 -> int16 -> int8, lane by lane) then one dword permutation.
  static void store_s8x4(int8_t* p, I a, I b, I c, I d, I& sum) {
    // After the packs, dword 4 h + s holds channels 4 h .. 4 h + 3 of vector s.
    const I idx = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const I bytes = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    const I q = _mm256_max_epi8(_mm256_permutevar8x32_epi32(bytes, idx), _mm256_set1_epi8(-127));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), q);
    const I pairs = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);  // exact: |pair sum| <= 254
    sum = _mm256_add_epi32(sum, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
  }
  static I izero() { return _mm256_setzero_si256(); }
  static I iadd(I a, I b) { return _mm256_add_epi32(a, b); }
  static int32_t hsum(I x) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    return _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1)));
  }
  static void store_s8(int8_t* p, I x) {
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packs_epi16(w, w));
  }

  struct Butterflies {
    F sign[3];  // level h = 1 << l: -1 on the lanes j with bit h set
    Butterflies() {
      for (int l = 0; l < 3; ++l) {
        alignas(32) float s[8];
        for (int j = 0; j < 8; ++j) s[j] = (j & (1 << l)) ? -1.0f : 1.0f;
        sign[l] = _mm256_load_ps(s);
      }
    }
  };
  static F butterflies(F v, const Butterflies& b) {
    v = _mm256_fmadd_ps(v, b.sign[0], _mm256_permute_ps(v, 0xB1));              // lanes j ^ 1
    v = _mm256_fmadd_ps(v, b.sign[1], _mm256_permute_ps(v, 0x4E));              // j ^ 2
    return _mm256_fmadd_ps(v, b.sign[2], _mm256_permute2f128_ps(v, v, 0x01));  // j ^ 4
  }

  static D dload(const double* p) { return _mm256_loadu_pd(p); }
  static void dstore(double* p, D x) { _mm256_storeu_pd(p, x); }
  static D dadd(D a, D b) { return _mm256_add_pd(a, b); }
  static D dwiden(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
};

namespace {

}  // namespace

void widen_s8(const int8_t* x, int64_t count, int16_t* out) {
  for (int64_t i = 0; i < count; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
}

void v_bf16_floats(const float* v, int64_t count, float* out) {
  for (int64_t i = 0; i < count; i += 8) _mm256_storeu_ps(out + i, round_bf16(_mm256_loadu_ps(v + i)));
}

void v_s16_pairs(const float* v, int64_t j0, int64_t n, int64_t block_n, int d, const float* amax, int16_t* v16) {
  std::vector<float> inv(static_cast<std::size_t>(d));
  const bool any_tiny = quant::v_channel_inverse(amax, d, inv.data());
  const int64_t end = j0 + n;
  for (int64_t j = j0; j < end; j += 2) {
    const bool second = j + 1 < block_n;
    int16_t* out = v16 + (j / 2) * d * 2;
    for (int c = 0; c < d; c += 8) {
      const __m256 vinv = _mm256_loadu_ps(inv.data() + c);
      const __m256i lo = QuantVec::encode(_mm256_loadu_ps(v + j * d + c), vinv);
      const __m256i hi = second ? QuantVec::encode(_mm256_loadu_ps(v + (j + 1) * d + c), vinv) : _mm256_setzero_si256();
      const __m256i w = _mm256_or_si256(_mm256_and_si256(lo, _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(hi, 16));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 2 * c), w);
    }
  }
  for (int c = 0; c < d && any_tiny; ++c)
    if (quant::is_tiny(amax[c]))
      for (int64_t j = j0; j < std::min(end, block_n); ++j)
        v16[((j / 2) * d + c) * 2 + j % 2] = quant::encode_tiny(v[j * d + c], amax[c]);
}

}  // namespace miniattn::avx2

// The entries of kernels/common/quantize_entries.hpp on this library's vectors.
template struct miniattn::quant_simd::Entries<miniattn::avx2::QuantVec>;
