#include "exec/cpu_executor.hpp"

#include <algorithm>
#include <string>

#include "kernels/common/quantize.hpp"
#include "miniattn/clock.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace miniattn {
namespace {

int thread_id() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Keys per parallel task when quantising K and V: a multiple of the K quantisation block.
constexpr int64_t kQuantChunk = 4 * kKeyQuantBlock;

std::size_t state_floats(const AttnParams& p) {
  return static_cast<std::size_t>(p.tile.q) * (2 + static_cast<std::size_t>(p.d));
}

}  // namespace

CpuExecutor::CpuExecutor(const Backend& backend, const AttnParams& p, const Decomposition& dec,
                         const RankSlice& slice, int threads)
    : backend_(backend), p_(p), dec_(dec), slice_(slice), threads_(std::max(threads, 1)) {
  const std::size_t d = static_cast<std::size_t>(p.d);
  const std::size_t rows = static_cast<std::size_t>(slice.rows.size());
  const std::size_t groups = static_cast<std::size_t>(slice.groups.size());
  const std::size_t keys = groups * static_cast<std::size_t>(p.lk);
  if (backend.quantized()) {
    q8_.allocate(rows * d);
    q_scale_.allocate(rows);
    k8_.allocate(keys * d);
    k_scale_.allocate(keys);
    k_mean_.allocate(groups * d);
    bytes_ += rows * (d + 4) + keys * (d + 4) + groups * d * 4;
    if (p.smooth_k) {
      lse_shift_.allocate(rows);
      bytes_ += rows * 4;
    }
    if (p.pv == PvPrecision::Bf16) {
      v_bf16_.allocate(keys * d);
      bytes_ += keys * d * 2;
    } else if (p.pv == PvPrecision::Int8) {
      v8_.allocate(keys * d);
      v_scale_.allocate(groups * d);
      bytes_ += keys * d + groups * d * 4;
    }
  }
  packed_stride_ = (backend.packed_kv_bytes(p, p.lk) + 63) / 64 * 64;
  if (packed_stride_ > 0) {
    packed_.allocate(packed_stride_ * groups);
    bytes_ += packed_stride_ * groups;
  }
  scratch_stride_ = (backend.scratch_bytes(p, p.lk) + 63) / 64 * 64;
  scratch_.allocate(scratch_stride_ * static_cast<std::size_t>(threads_));
  state_.allocate(state_floats(p) * static_cast<std::size_t>(threads_));
  bytes_ += scratch_stride_ * threads_ + state_floats(p) * 4 * threads_;
}

KvBlock CpuExecutor::kv_block(int64_t group) const {
  const int64_t g = group - slice_.groups.begin;
  const std::size_t off = static_cast<std::size_t>(g * p_.lk) * p_.d;
  KvBlock kv;
  kv.key0 = 0;
  kv.n = p_.lk;
  kv.k = slice_.k + off;
  kv.v = slice_.v + off;
  if (backend_.quantized()) {
    kv.k8 = k8_.data() + off;
    kv.k_scale = k_scale_.data() + g * p_.lk;
    if (p_.pv == PvPrecision::Bf16) kv.v_bf16 = v_bf16_.data() + off;
    if (p_.pv == PvPrecision::Int8) {
      kv.v8 = v8_.data() + off;
      kv.v_scale = v_scale_.data() + g * p_.d;
    }
  }
  if (packed_stride_ > 0) kv.packed = packed_.data() + packed_stride_ * static_cast<std::size_t>(g);
  return kv;
}

void CpuExecutor::quantize() {
  const int d = p_.d;
  const int64_t ngroups = slice_.groups.size();

  // K smoothing means (sequential over keys inside a head, so independent of threads), and
  // the per-channel V scales of the int8 P.V.
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads_)
  for (int64_t g = 0; g < ngroups; ++g) {
    const std::size_t off = static_cast<std::size_t>(g * p_.lk) * d;
    if (p_.smooth_k) quant::k_channel_mean(slice_.k + off, p_.lk, d, k_mean_.data() + g * d);
    if (p_.pv == PvPrecision::Int8)
      quant::quantize_v_per_channel(slice_.v + off, p_.lk, d, v8_.data() + off,
                                    v_scale_.data() + g * d);
  }

  // Q: one task per work item (per_block scales are per query tile), and the LSE term that K
  // smoothing takes out of its rows' scores.
  const int64_t nitems = slice_.items.size();
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads_)
  for (int64_t i = 0; i < nitems; ++i) {
    const WorkItem w = dec_.item(slice_.items.begin + i);
    const int64_t row = (w.b * p_.heads + w.h) * p_.lq + w.row0 - slice_.rows.begin;
    quant::quantize_q_tile(quant::qk_quant(p_), slice_.q + row * d, w.rows, d, q8_.data() + row * d,
                           q_scale_.data() + row);
    if (p_.smooth_k) {
      const int64_t g = w.b * p_.kv_heads + p_.kv_head_of(w.h) - slice_.groups.begin;
      quant::smoothing_lse_shift(slice_.q + row * d, w.rows, d, k_mean_.data() + g * d, p_.scale,
                                 lse_shift_.data() + row);
    }
  }

  // K (and bf16 V) in chunks of keys aligned to the K quantisation block.
  const int64_t chunks = (p_.lk + kQuantChunk - 1) / kQuantChunk;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads_)
  for (int64_t t = 0; t < ngroups * chunks; ++t) {
    const int64_t g = t / chunks;
    const int64_t j0 = (t % chunks) * kQuantChunk;
    const int64_t n = std::min(kQuantChunk, p_.lk - j0);
    const std::size_t off = static_cast<std::size_t>(g * p_.lk + j0) * d;
    quant::quantize_k(quant::qk_quant(p_), slice_.k + off, n, d,
                      p_.smooth_k ? k_mean_.data() + g * d : nullptr, k8_.data() + off,
                      k_scale_.data() + g * p_.lk + j0);
    if (p_.pv == PvPrecision::Bf16)
      quant::v_to_bf16(slice_.v + off, static_cast<std::size_t>(n) * d, v_bf16_.data() + off);
  }
}

void CpuExecutor::pack() {
  const int64_t ngroups = slice_.groups.size();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads_)
  for (int64_t g = 0; g < ngroups; ++g) {
    const KvBlock kv = kv_block(slice_.groups.begin + g);
    backend_.pack_kv(p_, kv, packed_.data() + packed_stride_ * static_cast<std::size_t>(g));
  }
}

double CpuExecutor::compute(PhaseSeconds& phases) {
  const int d = p_.d;
  const int64_t nitems = slice_.items.size();
  std::vector<TileCycles> cycles(static_cast<std::size_t>(threads_));
  const double t0 = wall_seconds();
#pragma omp parallel num_threads(threads_)
  {
    const int tid = thread_id();
    std::byte* scratch = scratch_.data() + scratch_stride_ * static_cast<std::size_t>(tid);
    float* st = state_.data() + state_floats(p_) * static_cast<std::size_t>(tid);
    const RowState state{st, st + p_.tile.q, st + 2 * p_.tile.q};
    TileCycles cyc;
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < nitems; ++i) {
      const WorkItem w = dec_.item(slice_.items.begin + i);
      const int64_t row = (w.b * p_.heads + w.h) * p_.lq + w.row0 - slice_.rows.begin;
      const QTile q = query_tile(w, slice_.q, q8_.data(), q_scale_.data(), row, d);
      const KvBlock kv = kv_block(w.b * p_.kv_heads + p_.kv_head_of(w.h));
      reset_row_state(state, w.rows, d);
      backend_.attend(p_, q, kv, state, scratch, cyc);
      finalize_rows(state, w.rows, d, slice_.o + row * d, slice_.lse + row,
                    lse_shift_.size() ? lse_shift_.data() + row : nullptr);
      if (slice_.progress) slice_.progress->advance(1);
    }
    cycles[static_cast<std::size_t>(tid)] = cyc;
  }
  const double wall = wall_seconds() - t0;

  // Kernel phases: cycles summed over threads, divided by the thread count, so that the three
  // add up to (at most) the wall time of the parallel region.
  const double spc = seconds_per_cycle() / threads_;
  double qk = 0, sm = 0, pv = 0;
  for (const TileCycles& c : cycles) {
    qk += c.qk * spc;
    sm += c.softmax * spc;
    pv += c.pv * spc;
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
  if (packed_stride_ > 0) {
    ScopedPhase t(phases, Phase::Pack);
    pack();
  }
  push_region("kernel");
  const double other = compute(phases);
  pop_region();
  return other;
}

}  // namespace miniattn
