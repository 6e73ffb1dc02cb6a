#include "miniattn/attn_params.hpp"

#include <cmath>
#include <string>

#include "miniattn/error.hpp"
#include "problem/enum_names.hpp"

namespace miniattn {
namespace {

using enum_names::name;
using enum_names::Table;
using enum_names::value;

constexpr Table<Variant, 3> kVariants{
    {{"fused", Variant::Fused}, {"two_pass", Variant::TwoPass}, {"unfused", Variant::Unfused}}};
constexpr Table<PvPrecision, 3> kPv{
    {{"fp32", PvPrecision::Fp32}, {"bf16", PvPrecision::Bf16}, {"int8", PvPrecision::Int8}}};
constexpr Table<Exp2Kind, 3> kExp2{
    {{"accurate", Exp2Kind::Accurate}, {"fast", Exp2Kind::Fast}, {"fixed", Exp2Kind::Fixed}}};
constexpr Table<QkScales, 2> kScales{
    {{"per_token", QkScales::PerToken}, {"per_block", QkScales::PerBlock}}};
constexpr Table<Rotation, 2> kRotations{
    {{"none", Rotation::None}, {"hadamard", Rotation::Hadamard}}};

}  // namespace

std::string_view to_string(Variant v) { return name(kVariants, v); }
std::string_view to_string(PvPrecision p) { return name(kPv, p); }
std::string_view to_string(Exp2Kind e) { return name(kExp2, e); }
std::string_view to_string(QkScales s) { return name(kScales, s); }
std::string_view to_string(Rotation r) { return name(kRotations, r); }
std::optional<Variant> parse_variant(std::string_view s) { return value(kVariants, s); }
std::optional<PvPrecision> parse_pv_precision(std::string_view s) { return value(kPv, s); }
std::optional<Exp2Kind> parse_exp2_kind(std::string_view s) { return value(kExp2, s); }
std::optional<QkScales> parse_qk_scales(std::string_view s) { return value(kScales, s); }
std::optional<Rotation> parse_rotation(std::string_view s) { return value(kRotations, s); }

double AttnParams::unmasked_scores() const {
  double per_head = 0.0;
  if (!causal) {
    per_head = static_cast<double>(lq) * static_cast<double>(lk);
  } else {
    for (int64_t i = 0; i < lq; ++i) per_head += static_cast<double>(visible_keys(i));
  }
  return per_head * static_cast<double>(batch) * static_cast<double>(heads);
}

double max_scaled_score(const AttnParams& p, double amax_q, double amax_k) {
  return 2.0 * p.d * amax_q * amax_k * p.scale * 1.4426950408889634;
}

AttnParams make_attn_params(const ProblemShape& s, Variant variant, PvPrecision pv, Exp2Kind exp2,
                            QkScales qk_scales, bool smooth_k, TileShape tile, Rotation rotate) {
  auto bad = [](const std::string& what) { throw Error("invalid problem: " + what); };
  if (s.batch < 1) bad("batch = " + std::to_string(s.batch) + ", expected >= 1");
  if (s.heads < 1) bad("heads = " + std::to_string(s.heads) + ", expected >= 1");
  if (s.kv_heads < 1 || s.heads % s.kv_heads != 0)
    bad("kv_heads = " + std::to_string(s.kv_heads) + ", expected a divisor of heads = " +
        std::to_string(s.heads));
  if (s.lq < 1) bad("seq_len = " + std::to_string(s.lq) + ", expected >= 1");
  if (s.lk < 1) bad("kv_len = " + std::to_string(s.lk) + ", expected >= 1");
  if (s.d < 16 || s.d % 16 != 0)
    bad("head_dim = " + std::to_string(s.d) + ", expected a positive multiple of 16");
  if (!(s.scale >= 0.0) || !(s.scale <= kMaxScale))
    bad("scale = " + std::to_string(s.scale) + ", expected a number in [0, 1e30] (0 = " +
        "1/sqrt(head_dim))");
  if (tile.q < 1 || tile.kv < 1)
    bad("tile_q = " + std::to_string(tile.q) + ", tile_kv = " + std::to_string(tile.kv) +
        ", expected both >= 1");

  AttnParams p;
  p.batch = s.batch;
  p.heads = s.heads;
  p.kv_heads = s.kv_heads;
  p.lq = s.lq;
  p.lk = s.lk;
  p.d = s.d;
  p.causal = s.causal;
  p.scale = s.scale > 0.0 ? s.scale : 1.0 / std::sqrt(static_cast<double>(s.d));
  p.scale_log2 = static_cast<float>(p.scale * 1.4426950408889634);  // log2(e)
  p.variant = variant;
  p.pv = pv;
  p.exp2 = exp2;
  p.qk_scales = qk_scales;
  p.smooth_k = smooth_k;
  p.rotate = rotate;
  p.tile = tile;
  return p;
}

}  // namespace miniattn
