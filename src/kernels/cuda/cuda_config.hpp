// Shapes of the cuda backend's kernels and the host-side plans that feed them: which tile
// shape runs which (head_dim, pv) pair, the list of query tiles a rank's grid walks, and the
// quantisation blocks (one scale each) the GPU quantiser walks. Plain C++ (no CUDA), so the
// planning logic is unit-tested on machines without a GPU; the .cu files use the same traits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "miniattn/attn_params.hpp"
#include "miniattn/decomp.hpp"

namespace miniattn::cuda {

// Compile-time shape of one fused-kernel instantiation. Every CTA computes Br = 128 query
// rows; each warp owns 16 * kMt of them (kMt m16 tiles), so the B fragments it reads from
// shared memory (K, V) serve kMt tiles. bf16 P.V at D <= 128 keeps 2 m16 tiles per warp
// (O: 128 fp32 registers at D = 128); int8 P.V needs an int32 tile accumulator next to O and
// D = 256 a 128-register O, so those run one m16 tile per warp and 8 warps.
template <int D, bool Int8Pv>
struct KernelTraits {
  static_assert(D == 64 || D == 128 || D == 256, "head dims with a kernel instantiation");
  static constexpr int kD = D;
  static constexpr bool kInt8Pv = Int8Pv;
  static constexpr int kMt = (!Int8Pv && D <= 128) ? 2 : 1;
  static constexpr int kWarps = kMt == 2 ? 4 : 8;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kBr = kWarps * 16 * kMt;
  // Keys per K/V tile. bf16 D = 256 uses 32 so that two stages fit sm_89's 99 KiB.
  static constexpr int kBc = (!Int8Pv && D == 256) ? 32 : 64;
  // int8 P.V quantises P against each row's maximum over the K/V tile; tiles start at multiples
  // of Bc from key 0 of the head, so with Bc = kPBlock a tile is exactly one of the CPU's P blocks
  // (the last one cut at Lk, or by the causal mask, as on the CPU).
  static_assert(!Int8Pv || kBc == kPBlock, "int8 P.V tiles are the CPU's P blocks");
  static constexpr int kStages = 2;
  static constexpr int kMinBlocks = kWarps == 4 ? 2 : 1;  // CTAs per SM the registers allow

  // Shared memory, in bytes: Q tile (int8), V per-channel scales (int8 P.V), then kStages
  // stages of {K tile int8, K scales fp32, V tile (bf16 rows, or int8 V^T rows)}.
  static constexpr int kQBytes = kBr * D;
  static constexpr int kVsBytes = Int8Pv ? D * 4 : 0;
  static constexpr int kKBytes = kBc * D;
  static constexpr int kKsBytes = kBc * 4;
  static constexpr int kVBytes = Int8Pv ? D * kBc : kBc * D * 2;
  static constexpr int kStageBytes = kKBytes + kKsBytes + kVBytes;
  static constexpr int kSmemBytes = kQBytes + kVsBytes + kStages * kStageBytes;
  static_assert(kQBytes % 128 == 0 && kKBytes % 128 == 0 && kKsBytes % 128 == 0 &&
                    kVBytes % 128 == 0 && kVsBytes % 128 == 0,
                "128-byte aligned shared memory regions");
};

// The traits of one (d, pv) pair at run time.
struct KernelShape {
  int d = 0;
  bool int8_pv = false;
  int m_tiles = 0;
  int warps = 0;
  int threads = 0;
  int br = 0;
  int bc = 0;
  int stages = 0;
  int smem_bytes = 0;
};

template <int D, bool I8>
KernelShape shape_of() {
  using T = KernelTraits<D, I8>;
  return {D, I8, T::kMt, T::kWarps, T::kThreads, T::kBr, T::kBc, T::kStages, T::kSmemBytes};
}

// False (and shape untouched) if no kernel exists for d.
bool kernel_shape(int d, PvPrecision pv, KernelShape& shape);

// Keys per row of the device K/V arrays: Lk rounded up to a whole K/V tile (64 keys, the
// largest Bc), zero-filled, so tile loads need no bounds checks.
constexpr int kKeyPad = 64;
inline int64_t padded_keys(int64_t lk) { return (lk + kKeyPad - 1) / kKeyPad * kKeyPad; }

// Empty if the cuda backend runs p, else why not (names the deck key to change).
std::string check_params(const AttnParams& p);

// One CTA of the fused kernel: rows [row0, row0 + rows) of one (b, h) head.
struct GpuTile {
  int64_t q_row = 0;  // first row in the rank's flattened query rows (index into q8, O, LSE)
  int32_t rows = 0;   // <= Br
  int32_t row0 = 0;   // first row within the head (causal mask)
  int32_t group = 0;  // KV head, local to the rank (index into the device K/V arrays)
  int32_t unused = 0;
};
static_assert(sizeof(GpuTile) == 24, "GpuTile is copied to the device as is");

// Tiles of up to br rows covering the rank's rows once, never crossing a head. Heads in order
// (the query heads of one KV head are adjacent, so their CTAs share K/V in L2); inside a head,
// causal tiles run the most expensive (latest) first so the last wave is made of short ones.
std::vector<GpuTile> plan_tiles(const AttnParams& p, const Range& rank_rows,
                                const Range& rank_groups, int br);

// K/V tiles the fused kernel computes for a tile (causal tiles past the diagonal skipped).
int64_t tile_kv_steps(const AttnParams& p, const GpuTile& t, int bc);

// A run of rows quantised by one CTA of the row quantiser: `rows` rows from src_row (row
// stride d in the source floats) to dst_row (in the int8 destination and its scales), with one
// scale for all of them (one_scale) or one per row; mean_row >= 0 selects the K smoothing mean.
struct QuantBlock {
  int64_t src_row = 0;
  int64_t dst_row = 0;
  int32_t rows = 0;
  int32_t one_scale = 0;
  int64_t mean_row = -1;
};
static_assert(sizeof(QuantBlock) == 32, "QuantBlock is copied to the device as is");

// Rows per CTA in per_token mode (one warp per row).
constexpr int kQuantRowsPerBlock = 8;

// Q: the rank's rows; per_block scales over the work items' query tiles (p.tile.q rows
// aligned to row 0 of each head), as the CPU executor quantises them.
std::vector<QuantBlock> plan_q_quant(const AttnParams& p, const Range& rank_rows);
// K: every key of the rank's KV heads, into the padded device layout (padded_keys per head);
// per_block blocks of kKeyQuantBlock keys aligned to key 0.
std::vector<QuantBlock> plan_k_quant(const AttnParams& p, int64_t groups);

// MPI local rank from the launcher's environment (Open MPI, MPICH/Intel MPI, MVAPICH2, Slurm),
// 0 when none is set; the rank's device is local_rank % device count.
int local_rank_from_env();

}  // namespace miniattn::cuda
