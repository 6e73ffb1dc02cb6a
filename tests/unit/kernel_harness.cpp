#include "kernel_harness.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <sstream>

#include "kernels/common/quantize.hpp"
#include "kernels/reference/reference_backend.hpp"
#include "miniattn/synthetic.hpp"

namespace miniattn::test {

uint64_t test_seed() {
  static const uint64_t seed = [] {
    if (const char* s = std::getenv("MINIATTN_TEST_SEED"); s && *s)
      return static_cast<uint64_t>(std::strtoull(s, nullptr, 10));
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  return seed;
}

std::string seed_note() {
  return "inputs drawn with MINIATTN_TEST_SEED=" + std::to_string(test_seed());
}

std::string describe(const ProblemShape& s) {
  std::ostringstream o;
  o << "B=" << s.batch << " H=" << s.heads << " Hkv=" << s.kv_heads << " Lq=" << s.lq
    << " Lk=" << s.lk << " D=" << s.d << (s.causal ? " causal" : "");
  return o.str();
}

Problem make_problem(const ProblemShape& shape, Variant variant, PvPrecision pv, Exp2Kind exp2,
                     QkScales scales, bool smooth_k, TileShape tile, uint64_t seed,
                     Distribution dist) {
  Problem pr;
  pr.p = make_attn_params(shape, variant, pv, exp2, scales, smooth_k, tile);
  const AttnParams& p = pr.p;
  const int64_t qrows = p.batch * p.heads * p.lq, kvrows = p.batch * p.kv_heads * p.lk;
  pr.q.resize(static_cast<std::size_t>(qrows * p.d));
  pr.k.resize(static_cast<std::size_t>(kvrows * p.d));
  pr.v.resize(static_cast<std::size_t>(kvrows * p.d));
  synthetic_rows(dist, seed, Tensor::Q, p.heads, p.lq, p.d, 0, qrows, pr.q.data());
  synthetic_rows(dist, seed, Tensor::K, p.kv_heads, p.lk, p.d, 0, kvrows, pr.k.data());
  synthetic_rows(dist, seed, Tensor::V, p.kv_heads, p.lk, p.d, 0, kvrows, pr.v.data());
  return pr;
}

namespace {

// The problem's operands as the backend quantises them, through its entries as the executors
// call them (Backend::kv_stats per KV head, quantize_q per query tile, quantize_kv per K/V block
// in pack() below), laid out like the float arrays (quant::ProblemQuant; v_bf16 and v8 only
// where the backend keeps them). The scalar definition, quant::quantize_problem, is what these
// must equal bit for bit (BackendKernel.QuantisationIsBitwiseTheScalarDefinition).
struct Quantised {
  quant::ProblemQuant z;
  std::vector<float> v_absmax;  // (B x Hkv) x d
};

Quantised quantise(const Backend& be, const Problem& pr) {
  const AttnParams& p = pr.p;
  const int d = p.d;
  const std::size_t qn = pr.q.size(), kn = pr.k.size(), groups = static_cast<std::size_t>(p.batch * p.kv_heads);
  Quantised out;
  quant::ProblemQuant& z = out.z;
  z.q8.resize(qn);
  z.q_scale.resize(qn / d);
  z.k8.resize(kn);
  z.k_scale.resize(kn / d);
  z.k_mean.assign(groups * d, 0.0f);
  z.v_scale.assign(groups * d, 0.0f);
  z.lse_shift.assign(qn / d, 0.0f);
  out.v_absmax.assign(groups * d, 0.0f);
  if (!be.quantize_writes_packed()) {
    if (p.pv == PvPrecision::Bf16) z.v_bf16.resize(kn);
    if (p.pv == PvPrecision::Int8) z.v8.resize(kn);
  }
  if (!be.quantized()) return out;
  std::vector<double> sum(static_cast<std::size_t>(d));
  for (std::size_t g = 0; g < groups; ++g) {
    const std::size_t off = g * static_cast<std::size_t>(p.lk) * d;
    std::fill(sum.begin(), sum.end(), 0.0);
    float* vmax = p.pv == PvPrecision::Int8 ? out.v_absmax.data() + g * d : nullptr;
    be.kv_stats(p, pr.k.data() + off, pr.v.data() + off, p.lk, p.smooth_k ? sum.data() : nullptr, vmax);
    if (p.smooth_k) quant::k_mean_from_sum(sum.data(), p.lk, d, z.k_mean.data() + g * d);
    if (vmax) quant::v_channel_scales(vmax, d, z.v_scale.data() + g * d);
  }
  for (int64_t bh = 0; bh < p.batch * p.heads; ++bh) {
    const float* mean = z.k_mean.data() + ((bh / p.heads) * p.kv_heads + p.kv_head_of(bh % p.heads)) * d;
    for (int64_t r0 = 0; r0 < p.lq; r0 += p.tile.q) {
      const int64_t row = bh * p.lq + r0;
      be.quantize_q(p, pr.q.data() + row * d, static_cast<int>(std::min<int64_t>(p.tile.q, p.lq - r0)),
                    p.smooth_k ? mean : nullptr, z.q8.data() + row * d, z.q_scale.data() + row,
                    p.smooth_k ? z.lse_shift.data() + row : nullptr);
    }
  }
  return out;
}

KvBlock block_of(const Problem& pr, const Quantised& zq, int64_t g, int64_t key0, int64_t n) {
  const AttnParams& p = pr.p;
  const quant::ProblemQuant& z = zq.z;
  const std::size_t off = static_cast<std::size_t>((g * p.lk + key0) * p.d);
  KvBlock kv;
  kv.key0 = key0;
  kv.n = n;
  kv.k = pr.k.data() + off;
  kv.v = pr.v.data() + off;
  kv.k8 = z.k8.data() + off;
  kv.k_scale = z.k_scale.data() + g * p.lk + key0;
  if (!z.v_bf16.empty()) kv.v_bf16 = z.v_bf16.data() + off;
  if (!z.v8.empty()) kv.v8 = z.v8.data() + off;
  kv.v_scale = z.v_scale.data() + g * p.d;
  return kv;
}

QTile tile_of(const Problem& pr, const Quantised& zq, int64_t b, int64_t h, int64_t row0, int rows) {
  const AttnParams& p = pr.p;
  const int64_t row = (b * p.heads + h) * p.lq + row0;
  QTile q;
  q.b = b;
  q.h = h;
  q.row0 = row0;
  q.rows = rows;
  q.q = pr.q.data() + row * p.d;
  q.q8 = zq.z.q8.data() + row * p.d;
  q.q_scale = zq.z.q_scale.data() + row;
  return q;
}

// Quantises the keys of block kv (KV head g) with the backend, in chunks of kKeyQuantBlock keys
// as the executors split them, into zq's arrays and the block's packed layout (pack_kv after it
// for a backend whose quantize_kv does not write it); the storage lives as long as the vector.
std::vector<std::byte> pack(const Backend& be, const Problem& pr, Quantised& zq, KvBlock& kv, int64_t g) {
  const AttnParams& p = pr.p;
  std::vector<std::byte> buf(be.packed_kv_bytes(p, kv.n) + 64);
  // 64-byte alignment, as the executor gives.
  auto* base = reinterpret_cast<std::byte*>(
      (reinterpret_cast<std::uintptr_t>(buf.data()) + 63) & ~std::uintptr_t{63});
  if (buf.size() > 64) kv.packed = base;
  if (!be.quantized()) return buf;
  quant::ProblemQuant& z = zq.z;
  const std::size_t off = static_cast<std::size_t>((g * p.lk + kv.key0) * p.d);
  KvSource src;
  src.n = kv.n;
  src.k = kv.k;
  src.v = kv.v;
  src.k_mean = p.smooth_k ? z.k_mean.data() + g * p.d : nullptr;
  src.v_absmax = p.pv == PvPrecision::Int8 ? zq.v_absmax.data() + g * p.d : nullptr;
  KvTarget dst;
  dst.k8 = z.k8.data() + off;
  dst.k_scale = z.k_scale.data() + g * p.lk + kv.key0;
  if (!z.v_bf16.empty()) dst.v_bf16 = z.v_bf16.data() + off;
  if (!z.v8.empty()) dst.v8 = z.v8.data() + off;
  if (kv.packed) dst.packed = base;
  for (int64_t j0 = 0; j0 < kv.n; j0 += kKeyQuantBlock)
    be.quantize_kv(p, src, j0, std::min<int64_t>(kKeyQuantBlock, kv.n - j0), dst);
  if (kv.packed && !be.quantize_writes_packed()) be.pack_kv(p, kv, base);
  return buf;
}

struct AlignedBytes {
  explicit AlignedBytes(std::size_t n) : buf(n + 64) {}
  std::byte* data() {
    return reinterpret_cast<std::byte*>((reinterpret_cast<std::uintptr_t>(buf.data()) + 63) &
                                        ~std::uintptr_t{63});
  }
  std::vector<std::byte> buf;
};

}  // namespace

Output run_backend(const Backend& be, const Problem& pr, int kv_split) {
  const AttnParams& p = pr.p;
  const int d = p.d;
  Quantised z = quantise(be, pr);
  Output out;
  out.o.assign(pr.q.size(), 0.0f);
  out.lse.assign(pr.q.size() / d, 0.0f);
  // Blocks of one KV head: kv_split pieces aligned to the K quantisation block.
  std::vector<std::pair<int64_t, int64_t>> blocks;
  const int64_t step = std::max<int64_t>(
      kKeyQuantBlock, (p.lk / kv_split + kKeyQuantBlock - 1) / kKeyQuantBlock * kKeyQuantBlock);
  for (int64_t k0 = 0; k0 < p.lk; k0 += step) blocks.push_back({k0, std::min(step, p.lk - k0)});

  AlignedBytes scratch(be.scratch_bytes(p, p.lk));
  std::vector<float> m(p.tile.q), l(p.tile.q), acc(static_cast<std::size_t>(p.tile.q) * d);
  const RowState st{m.data(), l.data(), acc.data()};
  TileCycles cyc;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t kvh = 0; kvh < p.kv_heads; ++kvh) {
      const int64_t g = b * p.kv_heads + kvh;
      std::vector<KvBlock> kvs;
      std::vector<std::vector<std::byte>> packed;
      for (const auto& [k0, n] : blocks) {
        kvs.push_back(block_of(pr, z, g, k0, n));
        packed.push_back(pack(be, pr, z, kvs.back(), g));
      }
      for (int64_t h = kvh * p.group_size(); h < (kvh + 1) * p.group_size(); ++h)
        for (int64_t r0 = 0; r0 < p.lq; r0 += p.tile.q) {
          const int rows = static_cast<int>(std::min<int64_t>(p.tile.q, p.lq - r0));
          const QTile q = tile_of(pr, z, b, h, r0, rows);
          reset_row_state(st, rows, d);
          for (const KvBlock& kv : kvs) be.attend(p, q, kv, st, scratch.data(), cyc);
          const int64_t row = (b * p.heads + h) * p.lq + r0;
          finalize_rows(st, rows, d, out.o.data() + row * d, out.lse.data() + row,
                        be.quantized() ? z.z.lse_shift.data() + row : nullptr);
        }
    }
  return out;
}

std::vector<int32_t> tile_scores(const Backend& be, const Problem& pr, int64_t b, int64_t h,
                                 int64_t row0, int rows) {
  const AttnParams& p = pr.p;
  Quantised z = quantise(be, pr);
  const int64_t g = b * p.kv_heads + p.kv_head_of(h);
  KvBlock kv = block_of(pr, z, g, 0, p.lk);
  const std::vector<std::byte> keep = pack(be, pr, z, kv, g);
  AlignedBytes scratch(be.scratch_bytes(p, p.lk));
  std::vector<int32_t> s(static_cast<std::size_t>(rows) * p.lk, 0);
  if (!be.qk_scores(p, tile_of(pr, z, b, h, row0, rows), kv, 0, p.lk, s.data(), p.lk, scratch.data()))
    s.clear();
  return s;
}

RefOutput reference(const Problem& pr) {
  const AttnParams& p = pr.p;
  const int d = p.d;
  RefOutput ref;
  ref.o.resize(pr.q.size());
  ref.lse.resize(pr.q.size() / d);
  std::vector<int64_t> rows(static_cast<std::size_t>(p.lq));
  for (int64_t i = 0; i < p.lq; ++i) rows[i] = i;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads; ++h) {
      const int64_t row = (b * p.heads + h) * p.lq;
      const std::size_t koff = static_cast<std::size_t>((b * p.kv_heads + p.kv_head_of(h)) * p.lk * d);
      reference_rows(p, pr.q.data() + row * d, rows.data(), static_cast<int>(p.lq),
                     pr.k.data() + koff, pr.v.data() + koff, p.lk, ref.o.data() + row * d,
                     ref.lse.data() + row);
    }
  return ref;
}

RefOutput dequantised_reference(const Problem& pr) {
  const quant::ProblemQuant z = quant::quantize_problem(pr.p, pr.q.data(), pr.k.data(), pr.v.data());
  Problem dq = pr;
  quant::dequantise_problem(pr.p, z, dq.q.data(), dq.k.data(), dq.v.data());
  RefOutput ref = reference(dq);
  for (std::size_t i = 0; i < ref.lse.size(); ++i) ref.lse[i] += z.lse_shift[i];  // -inf stays
  return ref;
}

ErrorStats compare(const std::vector<float>& out, const std::vector<double>& ref) {
  ErrorAccum acc;
  acc.add(out.data(), ref.data(), static_cast<int64_t>(out.size()));
  // Tolerances are checked by the caller; finish() with permissive bounds.
  return acc.finish(1e300, -2.0);
}

double lse_max_abs(const std::vector<float>& out, const std::vector<double>& ref) {
  double mx = 0.0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (std::isinf(ref[i])) {
      if (!(std::isinf(out[i]) && out[i] < 0)) return std::numeric_limits<double>::infinity();
      continue;
    }
    const double e = std::fabs(static_cast<double>(out[i]) - ref[i]);
    if (!(e <= mx)) mx = e;  // NaN propagates as a failure
  }
  return mx;
}

}  // namespace miniattn::test
