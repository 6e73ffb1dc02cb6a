#include "kernels/cuda/cuda_config.hpp"

#include <algorithm>
#include <cstdlib>

namespace miniattn::cuda {

bool kernel_shape(int d, PvPrecision pv, KernelShape& shape) {
  const bool i8 = pv == PvPrecision::Int8;
  switch (d) {
    case 64: shape = i8 ? shape_of<64, true>() : shape_of<64, false>(); return true;
    case 128: shape = i8 ? shape_of<128, true>() : shape_of<128, false>(); return true;
    case 256: shape = i8 ? shape_of<256, true>() : shape_of<256, false>(); return true;
    default: return false;
  }
}

std::string check_params(const AttnParams& p) {
  KernelShape s;
  if (!kernel_shape(p.d, p.pv, s))
    return "head_dim = " + std::to_string(p.d) + ": the cuda kernels are built for 64, 128 and 256";
  if (p.pv == PvPrecision::Fp32)
    return "pv_precision = \"fp32\": cuda runs P.V on tensor cores in bf16 or int8; set "
           "[run] pv_precision = \"bf16\" (or \"int8\")";
  if (p.exp2 != Exp2Kind::Accurate)
    return "exp2 = \"" + std::string(to_string(p.exp2)) +
           "\": cuda computes 2^x with the SFU's ex2.approx (the accurate class, relative error "
           "below 2^-22); the fast and fixed forms are CPU studies; set [run] exp2 = \"accurate\"";
  if (p.variant != Variant::Fused)
    return "variant = \"" + std::string(to_string(p.variant)) +
           "\": cuda runs the fused (online softmax) kernel only; set [run] variant = \"fused\"";
  if (p.tile.kv != s.bc)
    return "tile_kv = " + std::to_string(p.tile.kv) + ": cuda K/V tiles are " +
           std::to_string(s.bc) + " keys for head_dim " + std::to_string(p.d) + " and pv " +
           std::string(to_string(p.pv)) + "; set [run] tile_kv = 0 (or " + std::to_string(s.bc) + ")";
  if (p.lq > (int64_t{1} << 30) || p.lk > (int64_t{1} << 30))
    return "seq_len and kv_len above 2^30 are not supported by the cuda kernels (32-bit key indices)";
  if (p.batch * p.kv_heads > 65535)
    return "batch * kv_heads = " + std::to_string(p.batch * p.kv_heads) +
           ": the cuda quantisation kernels take at most 65535 KV heads per rank";
  return {};
}

std::vector<GpuTile> plan_tiles(const AttnParams& p, const Range& rows, const Range& groups, int br) {
  std::vector<GpuTile> out;
  for (int64_t r = rows.begin; r < rows.end;) {
    const int64_t bh = r / p.lq;
    const int64_t head_end = std::min(rows.end, (bh + 1) * p.lq);
    const int64_t b = bh / p.heads, h = bh % p.heads;
    const int64_t group = b * p.kv_heads + p.kv_head_of(h) - groups.begin;
    std::vector<GpuTile> head;
    for (int64_t t = r; t < head_end; t += br) {
      GpuTile g;
      g.q_row = t - rows.begin;
      g.rows = static_cast<int32_t>(std::min<int64_t>(br, head_end - t));
      g.row0 = static_cast<int32_t>(t - bh * p.lq);
      g.group = static_cast<int32_t>(group);
      head.push_back(g);
    }
    if (p.causal) std::reverse(head.begin(), head.end());  // later rows see more keys
    out.insert(out.end(), head.begin(), head.end());
    r = head_end;
  }
  return out;
}

int64_t tile_kv_steps(const AttnParams& p, const GpuTile& t, int bc) {
  const int64_t end = p.visible_keys(t.row0 + t.rows - 1);
  return (end + bc - 1) / bc;
}

std::vector<QuantBlock> plan_q_quant(const AttnParams& p, const Range& rows) {
  std::vector<QuantBlock> out;
  const bool per_block = p.qk_scales == QkScales::PerBlock;
  for (int64_t r = rows.begin; r < rows.end;) {
    const int64_t in_head = r % p.lq;
    // The work item (query tile) containing r ends at the next multiple of tile.q in its head.
    const int64_t item_end = std::min({r - in_head + (in_head / p.tile.q + 1) * p.tile.q,
                                       r - in_head + p.lq, rows.end});
    const int64_t step = per_block ? item_end - r : kQuantRowsPerBlock;
    for (int64_t s = r; s < item_end; s += step) {
      QuantBlock q;
      q.src_row = q.dst_row = s - rows.begin;
      q.rows = static_cast<int32_t>(std::min<int64_t>(step, item_end - s));
      q.one_scale = per_block ? 1 : 0;
      out.push_back(q);
    }
    r = item_end;
  }
  return out;
}

std::vector<QuantBlock> plan_k_quant(const AttnParams& p, int64_t groups) {
  std::vector<QuantBlock> out;
  const bool per_block = p.qk_scales == QkScales::PerBlock;
  const int64_t step = per_block ? kKeyQuantBlock : kQuantRowsPerBlock;
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t j = 0; j < p.lk; j += step) {
      QuantBlock q;
      q.src_row = g * p.lk + j;
      q.dst_row = g * padded_keys(p.lk) + j;
      q.rows = static_cast<int32_t>(std::min<int64_t>(step, p.lk - j));
      q.one_scale = per_block ? 1 : 0;
      q.mean_row = p.smooth_k ? g : -1;
      out.push_back(q);
    }
  return out;
}

int local_rank_from_env() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK",
                           "PMI_LOCAL_RANK", "SLURM_LOCALID"})
    if (const char* v = std::getenv(name); v && *v) {
      char* end = nullptr;
      const long r = std::strtol(v, &end, 10);
      if (end && *end == '\0' && r >= 0) return static_cast<int>(r);
    }
  return 0;
}

}  // namespace miniattn::cuda
