// Quantisation shared by every CPU backend, so that the int8 operands (and therefore the int32
// scores) are bitwise identical whichever backend runs. Symmetric int8 with a float scale:
//   scale = amax / 127,  q = rint(x * (127 / amax)) clamped to [-127, 127];  amax = 0 gives
//   scale = 0 and q = 0. Scales are stored per row (per_block repeats the block's scale), so the
//   kernels read them the same way in both modes.
// Order of operations for K: x = k - mean (smoothing, float), then the rotation (if any), then
// amax and the encoding; for Q: the rotation, then amax and the encoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "miniattn/attn_params.hpp"

namespace miniattn::quant {

// How Q and K become int8: the scale granularity and the rotation before quantisation.
struct QkQuant {
  QkScales scales = QkScales::PerToken;
  Rotation rotate = Rotation::None;
  QkQuant(QkScales s = QkScales::PerToken, Rotation r = Rotation::None) : scales(s), rotate(r) {}
};
inline QkQuant qk_quant(const AttnParams& p) { return {p.qk_scales, p.rotate}; }

// Quantises rows [0, rows) of a Q tile (row stride d) with per_token or per_block (one scale
// for the whole tile) scales.
void quantize_q_tile(QkQuant mode, const float* q, int rows, int d, int8_t* q8, float* scale);

// K smoothing subtracts mean from every key, which shifts every score of query row q by
// -q . mean: softmax (so O) is invariant to it, the log-sum-exp is not. shift[r] = scale *
// q[r] . mean (natural-log units, summed in double) is what finalize_rows adds back to LSE.
void smoothing_lse_shift(const float* q, int rows, int d, const float* mean, double scale,
                         float* shift);

// Per-channel mean of K over keys [0, n), accumulated in double in key order.
void k_channel_mean(const float* k, int64_t n, int d, float* mean);
// sum[c] += K[j][c] over keys [0, n) in key order, in double (a shard's part of the mean when
// the keys of a head are spread over ranks: ring mode).
void k_channel_sum(const float* k, int64_t n, int d, double* sum);
// mean[c] = sum[c] / n in float (0 for n = 0): the last step of k_channel_mean.
void k_mean_from_sum(const double* sum, int64_t n, int d, float* mean);

// Quantises keys [0, n) of one KV head after subtracting mean (may be null: no smoothing).
// per_block groups keys in blocks of kKeyQuantBlock aligned to key 0.
void quantize_k(QkQuant mode, const float* k, int64_t n, int d, const float* mean, int8_t* k8,
                float* scale);

// V for the bf16 P.V: round to nearest even.
void v_to_bf16(const float* v, std::size_t count, uint16_t* out);

// V for the int8 P.V: per-channel symmetric scales over keys [0, n).
void quantize_v_per_channel(const float* v, int64_t n, int d, int8_t* v8, float* scale);
// The two halves of it, for keys spread over ranks: amax[c] = max(amax[c], |V[j][c]|) over keys
// [0, n); then keys [0, n) quantised with the channel maxima amax of the whole sequence (scale:
// the channels' scales, or null when the caller has them already).
void v_channel_absmax(const float* v, int64_t n, int d, float* amax);
void quantize_v_with_absmax(const float* v, int64_t n, int d, const float* amax, int8_t* v8,
                            float* scale);
// The steps of quantize_v_with_absmax, for the vectorised passes: scale[c] = amax[c] / 127, and
// the multipliers inv[c] = 127 / amax[c] (0 for amax = 0, and for the channels whose inverse
// overflows float, whose values encode_tiny gives); true when there is such a channel.
void v_channel_scales(const float* amax, int d, float* scale);
bool v_channel_inverse(const float* amax, int d, float* inv);
bool is_tiny(float amax);
int8_t encode_tiny(float x, float amax);

// The int8 encoding of n values of one row (or block) whose absolute maximum is amax (already
// smoothed and rotated): rint(x * 127 / amax) clamped to [-127, 127], 0 when amax = 0, through
// double where 127 / amax overflows float.
void encode_row(const float* x, int n, float amax, int8_t* q);

// V of keys [0, n) in the unpacked forms p.pv asks for, where the pointer is not null: bf16
// (v_to_bf16), or int8 with the channel maxima amax (quantize_v_with_absmax).
void v_unpacked(const AttnParams& p, const float* v, int64_t n, const float* amax, uint16_t* v_bf16, int8_t* v8);

// Every quantised form of one KV head (keys [0, n)) that p asks for: K smoothed (when
// p.smooth_k) and quantised, V as bf16 or int8 per pv precision. Pointers for forms p does not
// use may be null. The executor runs the same steps in parallel chunks.
struct KvHeadQuant {
  int8_t* k8 = nullptr;        // n x d
  float* k_scale = nullptr;    // n
  float* k_mean = nullptr;     // d
  uint16_t* v_bf16 = nullptr;  // n x d
  int8_t* v8 = nullptr;        // n x d
  float* v_scale = nullptr;    // d
};
void quantize_kv_head(const AttnParams& p, const float* k, const float* v, int64_t n,
                      const KvHeadQuant& out);

// Every quantised operand of a whole problem (B x H x Lq x D queries, B x Hkv x Lk x D keys and
// values), laid out like the float arrays: Q per work item of p.tile.q rows aligned to row 0 of
// each head, K and V per KV head, as the CPU executor quantises them. For tests and checks.
struct ProblemQuant {
  std::vector<int8_t> q8, k8, v8;
  std::vector<float> q_scale, k_scale, k_mean, v_scale;
  std::vector<uint16_t> v_bf16;
  std::vector<float> lse_shift;  // per query row (0 without smoothing)
};
ProblemQuant quantize_problem(const AttnParams& p, const float* q, const float* k, const float* v);

// q, k, v (the whole problem) replaced by what the int8 pipeline multiplies: q8 * q_scale,
// k8 * k_scale (smoothed, and rotated where p.rotate says so: dot products, hence softmax, do
// not see the rotation), and V as the P.V sees it (unchanged for fp32, bf16-rounded, or v8 *
// v_scale). Its float64 reference, with z.lse_shift added to LSE, is what the pipeline computes
// up to the exp2 and P rounding.
void dequantise_problem(const AttnParams& p, const ProblemQuant& z, float* q, float* k, float* v);

inline uint16_t float_to_bf16(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  b += 0x7FFFu + ((b >> 16) & 1u);  // round to nearest even (inputs are finite)
  return static_cast<uint16_t>(b >> 16);
}

inline float bf16_to_float(uint16_t h) {
  const uint32_t b = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

}  // namespace miniattn::quant
