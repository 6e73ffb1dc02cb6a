// Host entry points of the cuda kernels (defined in the .cu files). Pointers are device
// pointers; every launch goes to the given stream and returns without waiting.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/cuda_config.hpp"

namespace miniattn::cuda {

// The fused kernel's operands. Device layouts (g = KV head local to the rank, Lp = padded keys):
//   q8 [rows][d], q_scale [rows]; k8 [g][Lp][d], k_scale [g][Lp];
//   v_bf16 [g][Lp][d] (pv = bf16);  vt8 [g][Lp/64][d][64] with keys in layout::slot_key order
//   inside every 16, v_scale [g][d] (pv = int8);  o [rows][d], lse [rows].
struct AttnArgs {
  const int8_t* q8 = nullptr;
  const float* q_scale = nullptr;
  const int8_t* k8 = nullptr;
  const float* k_scale = nullptr;
  const uint16_t* v_bf16 = nullptr;
  const int8_t* vt8 = nullptr;
  const float* v_scale = nullptr;
  float* o = nullptr;
  float* lse = nullptr;
  const float* lse_shift = nullptr;  // [rows], added to LSE (K smoothing's term), or null
  const GpuTile* tiles = nullptr;
  int num_tiles = 0;
  int d = 0;
  int lq = 0;
  int lk = 0;
  int lk_pad = 0;
  int causal = 0;
  float scale_log2 = 0.0f;
  // Three per-phase cycle sums (qk, softmax, pv) over warps, or null: clock64 per K/V tile.
  unsigned long long* cycles = nullptr;
};

void launch_attention(const AttnArgs& a, PvPrecision pv, cudaStream_t stream);

// Q.K^T alone with the fused kernel's fragment code: s[(q_row + r) * lds + key] for every row
// of every tile and keys [0, lk), no mask. For the bitwise comparison with the CPU backends.
void launch_qk_scores(const AttnArgs& a, int32_t* s, int64_t lds, cudaStream_t stream);

// Quantisation (bitwise equal to src/kernels/common/quantize.cpp).
// mean[g][d] = per-channel mean of k[g][lk][d], summed in double in key order.
void launch_k_mean(const float* k, int64_t groups, int64_t lk, int d, float* mean, cudaStream_t stream);
// Rows of src (stride d) to int8 dst and scales, one CTA per block; means may be null; rotate:
// each row (minus its mean) times the Hadamard matrix before amax and the encoding.
void launch_quantize_rows(const float* src, int d, const QuantBlock* blocks, int64_t nblocks,
                          const float* means, bool rotate, int8_t* dst, float* scale,
                          cudaStream_t stream);
// shift[row] = float(scale * q[row] . mean[tile group]) for every row of every tile, summed in
// double in quant::smoothing_lse_shift's order (d % 4 == 0): q the float queries.
void launch_lse_shift(const float* q, int d, const GpuTile* tiles, int64_t ntiles, const float* means,
                      double scale, float* shift, cudaStream_t stream);
// v [g][lk][d] -> bf16 [g][Lp][d] (round to nearest even), pad keys zero.
void launch_v_bf16(const float* v, int64_t groups, int64_t lk, int64_t lk_pad, int d, uint16_t* out,
                   cudaStream_t stream);
// int8 P.V operand: per-channel amax (amax_bits zeroed by the call), scales, and V^T packed as
// described above. amax_bits: groups x d scratch.
void launch_v_int8(const float* v, int64_t groups, int64_t lk, int64_t lk_pad, int d,
                   unsigned* amax_bits, float* v_scale, int8_t* vt8, cudaStream_t stream);

}  // namespace miniattn::cuda
