#include "exec/cpu_executor.hpp"

#include <algorithm>
#include <string>

#include "kernels/common/quantize.hpp"
#include "miniattn/clock.hpp"

namespace miniattn {
namespace {

// Keys per parallel task when quantising K and V: a multiple of the K quantisation block.
constexpr int64_t kQuantChunk = 4 * kKeyQuantBlock;
// Float K and V quantised per batch of KV heads: a part of the L3 cache (32 MiB on the
// development machine), so that the batch is still there for its second read.
constexpr std::size_t kQuantBatchBytes = std::size_t{8} << 20;

std::size_t round64(std::size_t n) { return (n + 63) / 64 * 64; }

}  // namespace

CpuExecutor::CpuExecutor(const Backend& backend, const AttnParams& p, const Decomposition& dec,
                         const RankSlice& slice, int workers)
    : backend_(backend), p_(p), dec_(dec), slice_(slice), workers_(workers) {
  const std::size_t d = static_cast<std::size_t>(p.d);
  const std::size_t rows = static_cast<std::size_t>(slice.rows.size());
  const std::size_t groups = static_cast<std::size_t>(slice.groups.size());
  const std::size_t keys = groups * static_cast<std::size_t>(p.lk);
  if (backend.quantized()) {
    q8_ = HostView<int8_t**>("miniattn::q8", rows, d);
    q_scale_ = HostView<float*>("miniattn::q_scale", rows);
    k8_ = HostView<int8_t**>("miniattn::k8", keys, d);
    k_scale_ = HostView<float*>("miniattn::k_scale", keys);
    k_mean_ = HostView<float**>("miniattn::k_mean", groups, d);
    if (p.smooth_k) {
      k_sum_ = HostView<double**>("miniattn::k_sum", groups, d);
      lse_shift_ = HostView<float*>("miniattn::lse_shift", rows);
    }
    // A backend that quantises straight into its packed layout reads V from there only.
    const bool unpacked_v = !backend.quantize_writes_packed();
    if (p.pv == PvPrecision::Bf16 && unpacked_v) v_bf16_ = HostView<uint16_t**>("miniattn::v_bf16", keys, d);
    if (p.pv == PvPrecision::Int8) {
      if (unpacked_v) v8_ = HostView<int8_t**>("miniattn::v8", keys, d);
      v_absmax_ = HostView<float**>("miniattn::v_absmax", groups, d);
      v_scale_ = HostView<float**>("miniattn::v_scale", groups, d);
    }
  }
  const std::size_t packed = round64(backend.packed_kv_bytes(p, p.lk));
  if (packed > 0) packed_ = HostView<std::byte**>("miniattn::packed_kv", groups, packed);
  const std::size_t slots = static_cast<std::size_t>(token_.size());
  scratch_ = HostView<std::byte**>("miniattn::scratch", slots, round64(backend.scratch_bytes(p, p.lk)));
  state_ = HostView<float**>("miniattn::row_state", slots, static_cast<std::size_t>(p.tile.q) * (2 + d));
  cycles_ = HostView<TileCycles*>("miniattn::tile_cycles", slots);
  for (std::size_t b : {view_bytes(q8_), view_bytes(q_scale_), view_bytes(lse_shift_), view_bytes(k8_),
                        view_bytes(k_scale_), view_bytes(k_mean_), view_bytes(k_sum_), view_bytes(v_bf16_),
                        view_bytes(v8_), view_bytes(v_absmax_), view_bytes(v_scale_), view_bytes(packed_),
                        view_bytes(scratch_), view_bytes(state_)})
    bytes_ += b;
}

KvBlock CpuExecutor::kv_block(int64_t group) const {
  const int64_t g = group - slice_.groups.begin;
  const std::size_t key = static_cast<std::size_t>(g * p_.lk);
  KvBlock kv;
  kv.key0 = 0;
  kv.n = p_.lk;
  kv.k = slice_.k + key * p_.d;
  kv.v = slice_.v + key * p_.d;
  if (backend_.quantized()) {
    kv.k8 = &k8_(key, 0);
    kv.k_scale = &k_scale_(key);
    if (v_bf16_.data()) kv.v_bf16 = &v_bf16_(key, 0);
    if (v8_.data()) kv.v8 = &v8_(key, 0);
    if (p_.pv == PvPrecision::Int8) kv.v_scale = &v_scale_(g, 0);
  }
  if (packed_.extent(1) > 0) kv.packed = &packed_(g, 0);
  return kv;
}

void CpuExecutor::quantize() {
  const int d = p_.d;
  const int64_t ngroups = slice_.groups.size();
  const bool int8_v = p_.pv == PvPrecision::Int8;

  // K and V a batch of KV heads at a time, statistics then the quantisation, so that the second
  // read of a head's K and V comes from the cache rather than from memory (with all heads' stats
  // first, H = 8 at L = 4096 reads 32 MiB before coming back to head 0). A batch is at least one
  // head per thread, else as many heads as fit kQuantBatchBytes of float K and V.
  const std::size_t head_bytes = static_cast<std::size_t>(p_.lk) * d * 2 * sizeof(float);
  const int64_t batch = std::max<int64_t>(
      threads(), static_cast<int64_t>(kQuantBatchBytes / std::max<std::size_t>(head_bytes, 1)));
  const int64_t chunks = (p_.lk + kQuantChunk - 1) / kQuantChunk;
  for (int64_t g0 = 0; g0 < ngroups; g0 += batch) {
    const int64_t nb = std::min(batch, ngroups - g0);
    // K smoothing means (sums over keys in key order inside a head, so independent of threads),
    // and the channel maxima that give the int8 V scales.
    parallel_items("miniattn::quantize_kv_stats", nb, workers_, [&](int64_t i) {
      const int64_t g = g0 + i;
      const std::size_t off = static_cast<std::size_t>(g * p_.lk) * d;
      double* sum = p_.smooth_k ? &k_sum_(g, 0) : nullptr;
      float* vmax = int8_v ? &v_absmax_(g, 0) : nullptr;
      if (sum) std::fill(sum, sum + d, 0.0);
      if (vmax) std::fill(vmax, vmax + d, 0.0f);
      backend_.kv_stats(p_, slice_.k + off, slice_.v + off, p_.lk, sum, vmax);
      if (sum) quant::k_mean_from_sum(sum, p_.lk, d, &k_mean_(g, 0));
      if (vmax) quant::v_channel_scales(vmax, d, &v_scale_(g, 0));
    });

    // K and V in chunks of keys aligned to the K quantisation block, into the arrays the
    // kernels read (and the packed layout, for backends that write it here).
    parallel_items("miniattn::quantize_kv", nb * chunks, workers_, [&](int64_t t) {
      const int64_t g = g0 + t / chunks;
      const int64_t j0 = (t % chunks) * kQuantChunk;
      const int64_t key = g * p_.lk;
      KvSource src;
      src.n = p_.lk;
      src.k = slice_.k + key * d;
      src.v = slice_.v + key * d;
      src.k_mean = p_.smooth_k ? &k_mean_(g, 0) : nullptr;
      src.v_absmax = int8_v ? &v_absmax_(g, 0) : nullptr;
      KvTarget dst;
      dst.k8 = &k8_(key, 0);
      dst.k_scale = &k_scale_(key);
      if (v_bf16_.data()) dst.v_bf16 = &v_bf16_(key, 0);
      if (v8_.data()) dst.v8 = &v8_(key, 0);
      if (packed_.extent(1) > 0) dst.packed = &packed_(g, 0);
      backend_.quantize_kv(p_, src, j0, std::min(kQuantChunk, p_.lk - j0), dst);
    });
  }

  // Q: one task per work item (per_block scales are per query tile), and the LSE term that K
  // smoothing takes out of its rows' scores (from the K means above).
  parallel_items("miniattn::quantize_q", slice_.items.size(), workers_, [&](int64_t i) {
    const WorkItem w = dec_.item(slice_.items.begin + i);
    const int64_t row = (w.b * p_.heads + w.h) * p_.lq + w.row0 - slice_.rows.begin;
    const int64_t g = w.b * p_.kv_heads + p_.kv_head_of(w.h) - slice_.groups.begin;
    backend_.quantize_q(p_, slice_.q + row * d, w.rows, p_.smooth_k ? &k_mean_(g, 0) : nullptr, &q8_(row, 0),
                        &q_scale_(row), p_.smooth_k ? &lse_shift_(row) : nullptr);
  });
}

void CpuExecutor::pack() {
  parallel_items("miniattn::pack_kv", slice_.groups.size(), workers_, [&](int64_t g) {
    backend_.pack_kv(p_, kv_block(slice_.groups.begin + g), &packed_(g, 0));
  });
}

double CpuExecutor::compute(PhaseSeconds& phases) {
  const int d = p_.d;
  Kokkos::deep_copy(cycles_, TileCycles{});
  const double t0 = wall_seconds();
  parallel_items("miniattn::attend", slice_.items.size(), workers_, [&](int64_t i) {
    const int slot = token_.acquire();
    float* st = &state_(slot, 0);
    const RowState state{st, st + p_.tile.q, st + 2 * p_.tile.q};
    const WorkItem w = dec_.item(slice_.items.begin + i);
    const int64_t row = (w.b * p_.heads + w.h) * p_.lq + w.row0 - slice_.rows.begin;
    const QTile q = query_tile(w, slice_.q, q8_.data(), q_scale_.data(), row, d);
    reset_row_state(state, w.rows, d);
    backend_.attend(p_, q, kv_block(w.b * p_.kv_heads + p_.kv_head_of(w.h)), state, &scratch_(slot, 0),
                    cycles_(slot));
    finalize_rows(state, w.rows, d, slice_.o + row * d, slice_.lse + row,
                  lse_shift_.data() ? &lse_shift_(row) : nullptr);
    if (slice_.progress) slice_.progress->advance(1);
    token_.release(slot);
  });
  const double wall = wall_seconds() - t0;

  // Kernel phases: cycles summed over the threads' slots, divided by the thread count, so that
  // the three add up to (at most) the wall time of the kernel.
  const double spc = seconds_per_cycle() / threads();
  double qk = 0, sm = 0, pv = 0;
  for (std::size_t s = 0; s < cycles_.extent(0); ++s) {
    qk += cycles_(s).qk * spc;
    sm += cycles_(s).softmax * spc;
    pv += cycles_(s).pv * spc;
  }
  phases[Phase::QkGemm] += qk;
  phases[Phase::Softmax] += sm;
  phases[Phase::PvGemm] += pv;
  return std::max(0.0, wall - (qk + sm + pv));
}

double CpuExecutor::run(PhaseSeconds& phases) {
  if (backend_.quantized()) {
    ScopedPhase t(phases, Phase::Quantize);
    quantize();
  }
  if (packed_.extent(1) > 0 && !backend_.quantize_writes_packed()) {
    ScopedPhase t(phases, Phase::Pack);
    pack();
  }
  push_region("kernel");
  const double other = compute(phases);
  pop_region();
  return other;
}

}  // namespace miniattn
