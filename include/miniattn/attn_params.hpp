// The one plain-data parameter struct every backend receives. Derived constants (the folded
// softmax multiplier, causal offset, resolved tile shape) are computed once, on the host.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>

namespace miniattn {

enum class Variant : int { Fused, TwoPass, Unfused };
enum class PvPrecision : int { Fp32, Bf16, Int8 };
enum class Exp2Kind : int { Accurate, Fast, Fixed };
enum class QkScales : int { PerToken, PerBlock };
// Rotation of Q and K before quantisation (kernels/common/rotation.hpp).
enum class Rotation : int { None, Hadamard };

std::string_view to_string(Variant v);
std::string_view to_string(PvPrecision p);
std::string_view to_string(Exp2Kind e);
std::string_view to_string(QkScales s);
std::string_view to_string(Rotation r);
std::optional<Variant> parse_variant(std::string_view s);
std::optional<PvPrecision> parse_pv_precision(std::string_view s);
std::optional<Exp2Kind> parse_exp2_kind(std::string_view s);
std::optional<QkScales> parse_qk_scales(std::string_view s);
std::optional<Rotation> parse_rotation(std::string_view s);

// K is quantised in blocks of this many keys in per_block mode, aligned to key 0 of each KV
// head, so that the int8 values (and the int32 scores) do not depend on any backend's tile
// shape. Q blocks are the query tiles (work items), which no rank ever splits.
inline constexpr int kKeyQuantBlock = 64;

// int8 P.V: each row's P is quantised to u8 against the row's maximum over a block of this many
// keys (not over the whole K/V tile): a block whose probabilities are all small still gets the
// full 255 steps, and its int32 partial sums are rescaled into the float accumulator by
// 2^(block max - row max). Blocks are aligned to key 0 of the KV head, so the int8 numerics do
// not depend on tile_kv (when it is a multiple of 64) nor on ring mode's key chunks.
// 64 keys: rel-L2 on real encoder data about 1.1% against 2.6% for 256-key tiles, at one int32
// -> float update of the P.V accumulators per 16 u8 x s8 multiply-add steps (docs/numerics.md).
inline constexpr int kPBlock = 64;

struct TileShape {
  int q = 0;   // Br: query rows per work item
  int kv = 0;  // Bc: keys per K/V tile inside a kernel
};

struct ProblemShape {
  int64_t batch = 1;
  int64_t heads = 1;
  int64_t kv_heads = 1;
  int64_t lq = 0;
  int64_t lk = 0;
  int d = 0;
  bool causal = false;
  double scale = 0.0;  // 0 = 1/sqrt(d)
};

struct AttnParams {
  // Shape.
  int64_t batch = 1;
  int64_t heads = 1;
  int64_t kv_heads = 1;
  int64_t lq = 0;
  int64_t lk = 0;
  int d = 0;
  bool causal = false;

  // Numerics.
  double scale = 0.0;       // softmax scale on raw scores (natural-log domain)
  float scale_log2 = 0.0f;  // scale * log2(e): scores become base-2 exponents with one multiply
  Variant variant = Variant::Fused;
  PvPrecision pv = PvPrecision::Fp32;
  Exp2Kind exp2 = Exp2Kind::Accurate;
  QkScales qk_scales = QkScales::PerToken;
  bool smooth_k = true;
  Rotation rotate = Rotation::None;

  TileShape tile;  // resolved: both > 0

  int64_t group_size() const { return heads / kv_heads; }
  int64_t kv_head_of(int64_t h) const { return h / group_size(); }
  // Bottom-right aligned causal mask (FlashAttention >= 2.1): query row i sees keys j <= i + lk - lq.
  int64_t causal_offset() const { return lk - lq; }
  // Number of keys query row i sees: keys [0, visible_keys(i)).
  int64_t visible_keys(int64_t row) const {
    if (!causal) return lk;
    return std::clamp<int64_t>(row + causal_offset() + 1, 0, lk);
  }
  int64_t q_tiles() const { return (lq + tile.q - 1) / tile.q; }
  // Unmasked scores of the whole problem: the basis of ops = 4 * d * scores.
  double unmasked_scores() const;
};

// Magnitude limits of the float32 kernels (docs/numerics.md); the driver rejects inputs that
// could exceed them. Scaled scores |q.k| * scale * log2(e) stay below kMaxScaledScore = 2^30:
// beyond it a float32 score is rounded by more than 64 in the exponent, so its softmax means
// nothing, and kernels that form s - m with a fused multiply-add (avx512) can lose the row
// maximum to the rounding residue of m (above ~2^32 its P underflows to 0). P.V sums, at most
// kv_len * max|v|, stay below kMaxPvSum = 2^120, 2^8 under FLT_MAX.
inline constexpr double kMaxScaledScore = 0x1p30;
inline constexpr double kMaxPvSum = 0x1p120;
// Largest softmax scale: beyond it scale * log2(e) is not a useful float32 multiplier.
inline constexpr double kMaxScale = 1e30;

// Bound on |scaled score| (base-2 units) for inputs with these largest magnitudes: K smoothing
// subtracts a channel mean, which can double a key's magnitude, hence the factor 2.
double max_scaled_score(const AttnParams& p, double amax_q, double amax_k);

// Builds the params from a shape and run options; the tile shape must already be resolved.
// Throws miniattn::Error naming the offending field if the shape is not valid.
AttnParams make_attn_params(const ProblemShape& shape, Variant variant, PvPrecision pv,
                            Exp2Kind exp2, QkScales qk_scales, bool smooth_k, TileShape tile,
                            Rotation rotate = Rotation::None);

}  // namespace miniattn
