#include "exec/ring_executor.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

#include "exec/cpu_executor.hpp"
#include "kernels/common/quantize.hpp"
#include "kernels/reference/reference_backend.hpp"
#include "miniattn/clock.hpp"
#include "miniattn/timers.hpp"


namespace miniattn {
namespace {

std::size_t align64(std::size_t x) { return (x + 63) & ~std::size_t{63}; }

// Keys per parallel task when quantising a shard: a multiple of the K quantisation block.
constexpr int64_t kQuantChunk = 4 * kKeyQuantBlock;
// Query rows per rank in one round of the ring reference (bounds its buffers at scale).
constexpr int64_t kReferenceRowsPerRound = 4096;

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// into = merge(into, from) for n records [lse, o[0..d)]: O normalised, LSE natural-log; the
// exact combination of the softmax over two disjoint key sets. Records with lse = -inf saw no key.
void merge_lse_records(const double* from, double* into, int64_t n, int d) {
  const int64_t w = d + 1;
  for (int64_t i = 0; i < n; ++i) {
    const double* a = from + i * w;
    double* b = into + i * w;
    if (a[0] == kNegInf) continue;
    if (b[0] == kNegInf) {
      std::copy(a, a + w, b);
      continue;
    }
    const double m = std::max(a[0], b[0]);
    const double wa = std::exp(a[0] - m), wb = std::exp(b[0] - m), s = wa + wb;
    b[0] = m + std::log(s);
    for (int c = 1; c <= d; ++c) b[c] = (wa * a[c] + wb * b[c]) / s;
  }
}

// The same as a Comm::RecordMerge: records of d + 1 doubles.
void merge_lse(const double* in, double* inout, int64_t records, int record_len) {
  merge_lse_records(in, inout, records, record_len - 1);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// One ring step's transfers: the shard in hand goes to the next rank while the previous rank's
// arrives. Open MPI moves large messages only inside MPI calls (no progress thread; over TCP a
// call moves what the socket takes), so the main thread polls after every K/V block it
// attends; in_flight runs from posting to the first call that finds both transfers done, wait is
// the time after the step's compute ran out.
// ---------------------------------------------------------------------------------------------
class StepComm {
 public:
  StepComm() = default;
  void post(const Comm& comm, int next, int prev, int tag, const std::byte* send,
            std::size_t send_bytes, std::byte* recv, std::size_t recv_bytes) {
    const double t0 = wall_seconds();
    t_post_ = t0;
    comm.irecv_bytes(recv, recv_bytes, prev, tag, reqs_);
    comm.isend_bytes(send, send_bytes, next, tag, reqs_);
    bytes_sent = static_cast<double>(send_bytes);
    mpi_calls += wall_seconds() - t0;
    pending_ = !reqs_.empty();
  }

  bool pending() const { return pending_; }

  // Main thread only.
  void poll() {
    if (!pending_) return;
    const double t0 = wall_seconds();
    const bool done = reqs_.test();
    const double t1 = wall_seconds();
    mpi_calls += t1 - t0;
    if (done) finish(t1);
  }

  void wait() {
    if (!pending_) return;
    const double t0 = wall_seconds();
    reqs_.wait();
    const double t1 = wall_seconds();
    mpi_calls += t1 - t0;
    waited += t1 - t0;
    finish(t1);
  }

  double bytes_sent = 0.0, in_flight = 0.0, waited = 0.0, mpi_calls = 0.0;

 private:
  void finish(double t) {
    in_flight = t - t_post_;
    pending_ = false;
  }

  Comm::Requests reqs_;
  double t_post_ = 0.0;
  bool pending_ = false;
};

// ---------------------------------------------------------------------------------------------
// The link: exchanges as a ring step makes them
// ---------------------------------------------------------------------------------------------

namespace {

constexpr int kLinkTag = 1 << 20;  // above any step's tag
constexpr int kLatencyExchanges = 21, kBandwidthExchanges = 4;
// The bandwidth exchange: the shard, capped (a few of them take well under a second at 1 Gbit/s).
constexpr std::size_t kLinkMaxBytes = std::size_t{4} << 20;

// Seconds of `reps` exchanges of n bytes, sorted, after an untimed one (TCP connections are made
// on first use); every exchange starts together on all ranks.
std::vector<double> exchange_seconds(const Comm& c, std::byte* send, std::byte* recv,
                                     std::size_t n, int reps) {
  const int next = (c.rank() + 1) % c.size(), prev = (c.rank() + c.size() - 1) % c.size();
  std::vector<double> t;
  for (int i = -1; i < reps; ++i) {
    c.barrier();
    const double t0 = wall_seconds();
    Comm::Requests reqs;
    c.irecv_bytes(recv, n, prev, kLinkTag, reqs);
    c.isend_bytes(send, n, next, kLinkTag, reqs);
    reqs.wait();
    if (i >= 0) t.push_back(wall_seconds() - t0);
  }
  std::sort(t.begin(), t.end());
  return t;
}

}  // namespace

LinkStats measure_ring_link(const Comm& ring, std::size_t bytes) {
  LinkStats l;
  if (ring.size() < 2) return l;
  // The same size on every rank (shards differ by up to a 64-key block per chunk).
  const int64_t most = ring.max(static_cast<int64_t>(std::min(bytes, kLinkMaxBytes)));
  l.bytes = std::max<std::size_t>(static_cast<std::size_t>(most), 8);
  std::vector<std::byte> send(l.bytes, std::byte{1}), recv(l.bytes);
  // Latency: the median. Bandwidth: the fastest exchange, as a ring step's transfer (one, between
  // computes) gets it; on the emulated network, back-to-back exchanges of several MB slowed to
  // ~60% of the shaped rate from the third or fourth on (docs/SCALING.md, ring mode's "Report").
  const std::vector<double> lat =
      exchange_seconds(ring, send.data(), recv.data(), 8, kLatencyExchanges);
  const std::vector<double> bw =
      exchange_seconds(ring, send.data(), recv.data(), l.bytes, kBandwidthExchanges);
  // The slowest rank's: a ring step lasts as long as its slowest link.
  l.latency_s = ring.max(lat[lat.size() / 2]);
  l.bandwidth_Bps = static_cast<double>(l.bytes) / ring.max(bw.front());
  return l;
}

// ---------------------------------------------------------------------------------------------
// Set-up
// ---------------------------------------------------------------------------------------------

RankSlice ring_slice(const RingPlan& plan, int rank) {
  RankSlice s;
  s.row_set = plan.rows(rank);
  s.kv_set = plan.kv_rows(rank);
  if (!s.row_set.ranges.empty())
    s.rows = {s.row_set.ranges.front().begin, s.row_set.ranges.back().end};
  s.groups = plan.kv_groups(plan.ring_of(rank));
  return s;
}

RingExecutor::RingExecutor(const Backend& backend, const AttnParams& p, const RingPlan& plan,
                           const RankSlice& slice, const Comm& world)
    : backend_(backend), p_(p), plan_(plan), slice_(slice), world_(world) {
  const int rank = world.rank();
  ring_rank_ = plan.ring_rank(rank);
  groups_ = plan.kv_groups(plan.ring_of(rank));
  chunks_per_group_ = static_cast<int>(plan.key_chunks(0).size());
  for (int r = 0; r < plan.ring_size(); ++r) layouts_.push_back(layout_of(r));

  items_ = plan.items(rank);
  for (const WorkItem& w : items_) {
    const int64_t bh = w.b * p.heads + w.h;
    item_row_.push_back(slice.row_set.local(bh * p.lq + w.row0));
    item_group_.push_back(w.b * p.kv_heads + p.kv_head_of(w.h) - groups_.begin);
  }
  for (const ShardLayout& l : layouts_) step_work_.push_back(step_work(l));

  const std::size_t d = static_cast<std::size_t>(p.d);
  const std::size_t rows = static_cast<std::size_t>(slice.row_set.size());
  const std::size_t ng = static_cast<std::size_t>(groups_.size());
  if (backend.quantized()) {
    q8_ = HostView<int8_t**>("miniattn::q8", rows, d);
    q_scale_ = HostView<float*>("miniattn::q_scale", rows);
    k_mean_ = HostView<float**>("miniattn::k_mean", ng, d);
    v_scale_ = HostView<float**>("miniattn::v_scale", ng, d);
    if (p.smooth_k) lse_shift_ = HostView<float*>("miniattn::lse_shift", rows);
  }
  m_ = HostView<float*>("miniattn::ring_m", rows);
  l_ = HostView<float*>("miniattn::ring_l", rows);
  acc_ = HostView<float**>("miniattn::ring_acc", rows, d);
  std::size_t shard_bytes = 0;
  int64_t max_keys = 1;
  for (const ShardLayout& l : layouts_) {
    shard_bytes = std::max(shard_bytes, l.bytes);
    for (const Section& s : l.sections) max_keys = std::max(max_keys, s.n);
  }
  for (HostView<std::byte*>& b : shard_)
    b = HostView<std::byte*>("miniattn::ring_shard", std::max<std::size_t>(shard_bytes, 64));
  const std::size_t slots = static_cast<std::size_t>(token_.size());
  scratch_ = HostView<std::byte**>("miniattn::scratch", slots, align64(backend.scratch_bytes(p, max_keys)));
  ref_record_ = HostView<double**>("miniattn::ring_reference_record", slots, d + 1);
  cycles_ = HostView<TileCycles*>("miniattn::tile_cycles", slots);
  for (std::size_t b : {view_bytes(q8_), view_bytes(q_scale_), view_bytes(k_mean_), view_bytes(v_scale_),
                        view_bytes(lse_shift_), view_bytes(m_), view_bytes(l_), view_bytes(acc_),
                        view_bytes(shard_[0]), view_bytes(shard_[1]), view_bytes(scratch_)})
    bytes_ += b;
}

void RingExecutor::make_comm() {
  if (!ring_) ring_ = world_.split(plan_.ring_of(world_.rank()), ring_rank_);
}

// The shard of a ring rank as it sits in a ring buffer (and travels): for every KV head of the
// ring and every key chunk, the arrays the backend's attend reads, each 64-byte aligned.
RingExecutor::ShardLayout RingExecutor::layout_of(int ring_rank) const {
  ShardLayout l;
  std::size_t off = 0;
  auto take = [&off](std::size_t bytes) {
    const std::size_t at = off;
    off = align64(off + bytes);
    return at;
  };
  const std::size_t d = static_cast<std::size_t>(p_.d);
  for (int64_t g = 0; g < groups_.size(); ++g)
    for (const Range& c : plan_.key_chunks(ring_rank)) {
      Section s;
      s.group = g;
      s.key0 = c.begin;
      s.n = c.size();
      const std::size_t n = static_cast<std::size_t>(s.n);
      if (backend_.quantized()) {
        // V travels in the packed layout alone where the backend quantises straight into it.
        const bool unpacked_v = !backend_.quantize_writes_packed();
        s.k8 = take(n * d);
        s.k_scale = take(n * sizeof(float));
        if (p_.pv == PvPrecision::Fp32) s.v = take(n * d * sizeof(float));
        if (p_.pv == PvPrecision::Bf16 && unpacked_v) s.v_bf16 = take(n * d * sizeof(uint16_t));
        if (p_.pv == PvPrecision::Int8 && unpacked_v) s.v8 = take(n * d);
      } else {
        s.k = take(n * d * sizeof(float));
        s.v = take(n * d * sizeof(float));
      }
      s.packed = take(backend_.packed_kv_bytes(p_, s.n));
      l.sections.push_back(s);
    }
  l.bytes = off;
  return l;
}

KvBlock RingExecutor::block(const Section& s, const std::byte* base) const {
  KvBlock kv;
  kv.key0 = s.key0;
  kv.n = s.n;
  if (backend_.quantized()) {
    kv.k8 = reinterpret_cast<const int8_t*>(base + s.k8);
    kv.k_scale = reinterpret_cast<const float*>(base + s.k_scale);
    const bool unpacked_v = !backend_.quantize_writes_packed();
    if (p_.pv == PvPrecision::Fp32) kv.v = reinterpret_cast<const float*>(base + s.v);
    if (p_.pv == PvPrecision::Bf16 && unpacked_v) kv.v_bf16 = reinterpret_cast<const uint16_t*>(base + s.v_bf16);
    if (p_.pv == PvPrecision::Int8) {
      if (unpacked_v) kv.v8 = reinterpret_cast<const int8_t*>(base + s.v8);
      kv.v_scale = v_scale_.data() + s.group * p_.d;
    }
  } else {
    kv.k = reinterpret_cast<const float*>(base + s.k);
    kv.v = reinterpret_cast<const float*>(base + s.v);
  }
  if (backend_.packed_kv_bytes(p_, s.n) > 0) kv.packed = base + s.packed;
  return kv;
}

// ---------------------------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------------------------

void RingExecutor::measure() {
  make_comm();
  link_ = measure_ring_link(*ring_, layouts_[ring_rank_].bytes);
  quiet_step0_ = 0.0;
  if (plan_.ring_size() < 2) return;
  PhaseSeconds ignored;
  prepare_shard(ignored);
  // The fastest of two: noise only adds, and a lower no-transfer time never overstates the part
  // of the transfers that was hidden.
  quiet_step0_ = std::numeric_limits<double>::infinity();
  const int rows = static_cast<int>(slice_.row_set.size());
  for (int i = 0; i < 2; ++i) {
    reset_row_state({m_.data(), l_.data(), acc_.data()}, rows, p_.d);
    StepComm none;
    const double t0 = wall_seconds();
    attend_step(layouts_[ring_rank_], shard_[0].data(), none);
    quiet_step0_ = std::min(quiet_step0_, wall_seconds() - t0);
  }
}

double RingExecutor::run(PhaseSeconds& phases) {
  if (quiet_step0_ < 0.0) measure();
  traffic_ = RingTraffic{};
  prepare_shard(phases);
  push_region("kernel");
  const double other = ring(phases);
  pop_region();
  return other;
}

// The own shard in ring buffer 0, as attend reads it.
void RingExecutor::prepare_shard(PhaseSeconds& phases) {
  if (backend_.quantized()) quantize(phases);
  else {
    // The reference reads the float K/V: the own shard is copied into the ring buffer.
    ScopedPhase t(phases, Phase::Quantize);
    const ShardLayout& own = layouts_[ring_rank_];
    for (const Section& s : own.sections) {
      const int64_t local = slice_.kv_set.local((groups_.begin + s.group) * p_.lk + s.key0);
      if (s.n == 0) continue;
      const std::size_t n = static_cast<std::size_t>(s.n) * p_.d;
      std::memcpy(shard_[0].data() + s.k, slice_.k + local * p_.d, n * sizeof(float));
      std::memcpy(shard_[0].data() + s.v, slice_.v + local * p_.d, n * sizeof(float));
    }
  }
  if (backend_.packed_kv_bytes(p_, p_.tile.kv) > 0 && !backend_.quantize_writes_packed()) {
    ScopedPhase t(phases, Phase::Pack);
    pack();
  }
}

void RingExecutor::quantize(PhaseSeconds& phases) {
  double comm_seconds = 0.0;
  {
    ScopedPhase timer(phases, Phase::Quantize);
    const int d = p_.d;

    // Statistics of the whole sequence: this shard's part, then the ring's.
    const ShardLayout& own = layouts_[ring_rank_];
    const int64_t ng = groups_.size();
    const std::size_t gd = static_cast<std::size_t>(ng) * d;
    auto src = [&](const Section& s, const float* base) {
      return base + slice_.kv_set.local((groups_.begin + s.group) * p_.lk + s.key0) * d;
    };
    std::vector<double> ksum(p_.smooth_k ? gd : 0, 0.0);
    std::vector<float> vmax(p_.pv == PvPrecision::Int8 ? gd : 0, 0.0f);
    Kokkos::parallel_for("miniattn::ring_kv_stats", dynamic_items(ng), [&](int64_t g) {
      for (int c = 0; c < chunks_per_group_; ++c) {
        const Section& s = own.sections[g * chunks_per_group_ + c];
        if (s.n == 0) continue;
        backend_.kv_stats(p_, src(s, slice_.k), src(s, slice_.v), s.n, ksum.empty() ? nullptr : ksum.data() + g * d,
                          vmax.empty() ? nullptr : vmax.data() + g * d);
      }
    });
    const double t0 = wall_seconds();
    if (!ksum.empty()) ring_->sum_inplace(ksum.data(), static_cast<int>(gd));
    if (!vmax.empty()) ring_->max_inplace(vmax.data(), static_cast<int>(gd));
    comm_seconds = wall_seconds() - t0;
    // As quant::k_channel_mean does with the sum of one rank.
    for (int64_t g = 0; g < ng && !ksum.empty(); ++g) quant::k_mean_from_sum(ksum.data() + g * d, p_.lk, d, &k_mean_(g, 0));
    for (int64_t g = 0; g < ng && !vmax.empty(); ++g) quant::v_channel_scales(vmax.data() + g * d, d, &v_scale_(g, 0));

    // Q, and the LSE term of the ring's global K mean.
    Kokkos::parallel_for("miniattn::quantize_q", dynamic_items(static_cast<int64_t>(items_.size())),
                         [&](int64_t i) {
      const int64_t row = item_row_[i];
      backend_.quantize_q(p_, slice_.q + row * d, items_[i].rows, p_.smooth_k ? &k_mean_(item_group_[i], 0) : nullptr,
                          &q8_(row, 0), &q_scale_(row), p_.smooth_k ? &lse_shift_(row) : nullptr);
    });

    // The shard, in chunks of keys aligned to the K quantisation block (chunks start at
    // multiples of 64 keys: per_block scales are those of the whole sequence).
    struct Task {
      const Section* s;
      int64_t j0, n;
    };
    std::vector<Task> tasks;
    for (const Section& s : own.sections)
      for (int64_t j0 = 0; j0 < s.n; j0 += kQuantChunk)
        tasks.push_back({&s, j0, std::min(kQuantChunk, s.n - j0)});
    std::byte* base = shard_[0].data();
    const bool unpacked_v = !backend_.quantize_writes_packed();
    Kokkos::parallel_for("miniattn::quantize_kv", dynamic_items(static_cast<int64_t>(tasks.size())),
                         [&](int64_t t) {
      const Section& s = *tasks[t].s;
      const int64_t j0 = tasks[t].j0, n = tasks[t].n;
      KvSource in;
      in.n = s.n;
      in.k = src(s, slice_.k);
      in.v = src(s, slice_.v);
      in.k_mean = p_.smooth_k ? &k_mean_(s.group, 0) : nullptr;
      in.v_absmax = vmax.empty() ? nullptr : vmax.data() + s.group * d;  // the maxima of the scales above
      KvTarget out;
      out.k8 = reinterpret_cast<int8_t*>(base + s.k8);
      out.k_scale = reinterpret_cast<float*>(base + s.k_scale);
      if (p_.pv == PvPrecision::Bf16 && unpacked_v) out.v_bf16 = reinterpret_cast<uint16_t*>(base + s.v_bf16);
      if (p_.pv == PvPrecision::Int8 && unpacked_v) out.v8 = reinterpret_cast<int8_t*>(base + s.v8);
      if (backend_.packed_kv_bytes(p_, s.n) > 0) out.packed = base + s.packed;
      backend_.quantize_kv(p_, in, j0, n, out);
      if (p_.pv == PvPrecision::Fp32)
        std::memcpy(reinterpret_cast<float*>(base + s.v) + j0 * d, in.v + j0 * d,
                    static_cast<std::size_t>(n) * d * sizeof(float));
    });
  }
  phases[Phase::Quantize] -= comm_seconds;
  phases[Phase::Comm] += comm_seconds;
  traffic_.stats_allreduce = comm_seconds;
}

void RingExecutor::pack() {
  const ShardLayout& own = layouts_[ring_rank_];
  std::byte* base = shard_[0].data();
  Kokkos::parallel_for("miniattn::pack_kv", dynamic_items(static_cast<int64_t>(own.sections.size())),
                       [&](int64_t i) {
    const Section& s = own.sections[i];
    if (s.n > 0) backend_.pack_kv(p_, block(s, base), base + s.packed);
  });
}

// One ring step on the shard in hand: the rank's work items, claimed one at a time by whichever
// thread is free (one iteration per thread, so the main thread can keep the step's transfers
// moving after each K/V block it attends, and after its last one while the other threads finish
// theirs: Open MPI progresses non-blocking transfers only inside MPI calls).
void RingExecutor::attend_step(const ShardLayout& shard, const std::byte* base, StepComm& step) {
  const int d = p_.d;
  const int64_t nitems = static_cast<int64_t>(items_.size());
  std::atomic<int64_t> next{0}, done{0};
  const std::thread::id main_thread = std::this_thread::get_id();
  Kokkos::parallel_for("miniattn::attend", static_items(host_threads()), [&](int64_t) {
    const int slot = token_.acquire();
    const bool main = std::this_thread::get_id() == main_thread;
    for (int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < nitems;) {
      const WorkItem& w = items_[i];
      const int64_t row = item_row_[i];
      const QTile q = query_tile(w, slice_.q, q8_.data(), q_scale_.data(), row, d);
      const RowState st{&m_(row), &l_(row), &acc_(row, 0)};
      const int64_t seen = p_.visible_keys(w.row0 + w.rows - 1);
      for (int c = 0; c < chunks_per_group_; ++c) {
        const Section& s = shard.sections[item_group_[i] * chunks_per_group_ + c];
        if (s.n > 0 && s.key0 < seen) {
          backend_.attend(p_, q, block(s, base), st, &scratch_(slot, 0), cycles_(slot));
          if (main) step.poll();
        }
      }
      done.fetch_add(1, std::memory_order_relaxed);
    }
    if (main)
      while (step.pending() && done.load(std::memory_order_relaxed) < nitems) step.poll();
    token_.release(slot);
  });
}

double RingExecutor::ring(PhaseSeconds& phases) {
  const int d = p_.d;
  const int R = plan_.ring_size();
  const int64_t rows = slice_.row_set.size();
  reset_row_state({m_.data(), l_.data(), acc_.data()}, static_cast<int>(rows), d);
  Kokkos::deep_copy(cycles_, TileCycles{});
  const double t0 = wall_seconds();
  int cur = 0;
  std::vector<double> compute(R);
  for (int s = 0; s < R; ++s) {
    const int origin = (ring_rank_ - s + R) % R;
    StepComm step;
    if (s + 1 < R)
      step.post(*ring_, (ring_rank_ + 1) % R, (ring_rank_ + R - 1) % R, s, shard_[cur].data(),
                layouts_[origin].bytes, shard_[1 - cur].data(), layouts_[(origin + R - 1) % R].bytes);
    const double ts = wall_seconds();
    attend_step(layouts_[origin], shard_[cur].data(), step);
    compute[s] = wall_seconds() - ts;
    step.wait();
    traffic_.bytes_sent += step.bytes_sent;
    traffic_.in_flight += step.in_flight;
    traffic_.wait += step.waited;
    traffic_.mpi_calls += step.mpi_calls;
    cur = 1 - cur;
  }
  traffic_.steps = R - 1;
  // The steps' compute without transfers: step 0 as measure() timed it; the last step, which has
  // no transfer, as it is; the steps between (their shards have no diagonal block, as the last
  // one) at the last step's rate per unmasked score.
  const double last_work = step_work_[(ring_rank_ + 1) % R];  // the last step's shard
  for (int s = 0; s < R; ++s) {
    const double work = step_work_[(ring_rank_ - s + R) % R];
    traffic_.compute += compute[s];
    if (s == 0 && R > 1) traffic_.compute_quiet += quiet_step0_;
    else if (s == R - 1 || last_work <= 0.0) traffic_.compute_quiet += compute[s];
    else traffic_.compute_quiet += compute[R - 1] * work / last_work;
  }

  Kokkos::parallel_for("miniattn::finalize", dynamic_items(static_cast<int64_t>(items_.size())),
                       [&](int64_t i) {
    const int64_t row = item_row_[i];
    finalize_rows({&m_(row), &l_(row), &acc_(row, 0)}, items_[i].rows, d, slice_.o + row * d,
                  slice_.lse + row, lse_shift_.data() ? &lse_shift_(row) : nullptr);
  });
  const double wall = wall_seconds() - t0;

  const double spc = seconds_per_cycle() / host_threads();
  double kernel = 0.0;
  for (std::size_t i = 0; i < cycles_.extent(0); ++i) {
    const TileCycles& c = cycles_(i);
    phases[Phase::QkGemm] += c.qk * spc;
    phases[Phase::Softmax] += c.softmax * spc;
    phases[Phase::PvGemm] += c.pv * spc;
    kernel += (c.qk + c.softmax + c.pv) * spc;
  }
  phases[Phase::Comm] += traffic_.mpi_calls;
  runs_.push_back(traffic_);
  return std::max(0.0, wall - kernel - traffic_.wait);
}

// Unmasked scores of the rank's work items against a shard: what a step computes.
double RingExecutor::step_work(const ShardLayout& shard) const {
  double n = 0.0;
  for (std::size_t i = 0; i < items_.size(); ++i) {
    const WorkItem& w = items_[i];
    for (int c = 0; c < chunks_per_group_; ++c) {
      const Section& s = shard.sections[item_group_[i] * chunks_per_group_ + c];
      for (int64_t r = w.row0; r < w.row0 + w.rows; ++r)
        n += static_cast<double>(std::clamp<int64_t>(p_.visible_keys(r) - s.key0, 0, s.n));
    }
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Verification reference: every rank of the ring computes, for the sampled rows of all of them,
// the float64 softmax over its own keys (O normalised, LSE); the partial results merge exactly
// (merge_lse_records) in a reduce-scatter that hands each rank the rows it asked for.
// ---------------------------------------------------------------------------------------------

// Query rows for the reference: (bh, row) pairs and their float values.
struct RingExecutor::RefRows {
  std::vector<int64_t> ids;  // bh, row, bh, row, ...
  std::vector<float> q;      // rows x d
  int64_t size() const { return static_cast<int64_t>(ids.size() / 2); }
};

// Every ring rank's rows [b, e) of `mine` (each rank its own b, e), in ring-rank order; counts
// gets each rank's number of rows.
RingExecutor::RefRows RingExecutor::gather_rows(const RefRows& mine, int64_t b, int64_t e,
                                                std::vector<int>& counts) const {
  const int d = p_.d;
  RefRows all;
  const int R = plan_.ring_size();
  const int n = static_cast<int>(e - b);
  counts = ring_->allgather(n);
  // The same counts and offsets in int64 pairs and in floats.
  std::vector<int> c2(R), o2(R), cq(R), oq(R);
  int total = 0;
  for (int r = 0; r < R; ++r) {
    c2[r] = 2 * counts[r];
    cq[r] = d * counts[r];
    o2[r] = 2 * total;
    oq[r] = d * total;
    total += counts[r];
  }
  all.ids.resize(2 * static_cast<std::size_t>(total));
  all.q.resize(static_cast<std::size_t>(total) * d);
  ring_->allgatherv(mine.ids.data() + 2 * b, 2 * n, all.ids.data(), c2, o2);
  ring_->allgatherv(mine.q.data() + b * d, n * d, all.q.data(), cq, oq);
  return all;
}

// The records [LSE, O] of every row over this rank's own keys (lse = -inf: none seen).
void RingExecutor::own_keys_reference(const RefRows& rows, double* records) const {
  const int d = p_.d;
  const int64_t w = d + 1;
  const ShardLayout& own = layouts_[ring_rank_];
  Kokkos::parallel_for("miniattn::ring_reference", dynamic_items(rows.size()), [&](int64_t i) {
    const int slot = token_.acquire();
    double* rec = &ref_record_(slot, 0);
    double* into = records + i * w;
    into[0] = kNegInf;
    std::fill(into + 1, into + w, 0.0);
    const int64_t bh = rows.ids[2 * i], row = rows.ids[2 * i + 1];
    const int64_t g = (bh / p_.heads) * p_.kv_heads + p_.kv_head_of(bh % p_.heads) - groups_.begin;
    for (int c = 0; c < chunks_per_group_; ++c) {
      const Section& s = own.sections[g * chunks_per_group_ + c];
      if (s.n == 0) continue;
      const int64_t local = slice_.kv_set.local((groups_.begin + g) * p_.lk + s.key0);
      // Row index shifted by key0: the mask of keys [key0, key0 + n) seen from keys [0, n).
      const int64_t shifted = row - s.key0;
      reference_rows(p_, rows.q.data() + i * d, &shifted, 1, slice_.k + local * d,
                     slice_.v + local * d, s.n, rec + 1, rec);
      merge_lse_records(rec, into, 1, d);
    }
    token_.release(slot);
  });
}

bool RingExecutor::reference(std::vector<ReferenceTask>& tasks) {
  make_comm();
  const int d = p_.d;
  const int64_t w = d + 1;
  RefRows mine;
  std::vector<double*> out, out_lse;  // where each own row's reference goes
  for (ReferenceTask& t : tasks) {
    t.o.assign(t.rows.size() * static_cast<std::size_t>(d), 0.0);
    t.lse.assign(t.rows.size(), 0.0);
    for (std::size_t r = 0; r < t.rows.size(); ++r) {
      mine.ids.push_back(t.bh);
      mine.ids.push_back(t.rows[r]);
      out.push_back(t.o.data() + r * d);
      out_lse.push_back(t.lse.data() + r);
    }
    mine.q.insert(mine.q.end(), t.q.begin(), t.q.end());
  }
  // Rounds of at most kReferenceRowsPerRound rows over the whole ring.
  const int64_t per_round = std::max<int64_t>(1, kReferenceRowsPerRound / plan_.ring_size());
  const int64_t rounds = ring_->max((mine.size() + per_round - 1) / per_round);
  for (int64_t round = 0; round < rounds; ++round) {
    const int64_t b = std::min(mine.size(), round * per_round);
    const int64_t e = std::min(mine.size(), b + per_round);
    std::vector<int> counts;
    const RefRows all = gather_rows(mine, b, e, counts);
    std::vector<double> partial(static_cast<std::size_t>(all.size()) * w);
    own_keys_reference(all, partial.data());
    std::vector<double> merged(static_cast<std::size_t>(std::max<int64_t>(e - b, 1)) * w);
    ring_->reduce_scatter_records(partial.data(), merged.data(), counts, static_cast<int>(w),
                                  merge_lse);
    for (int64_t i = 0; i < e - b; ++i) {
      *out_lse[b + i] = merged[i * w];
      std::copy_n(merged.data() + i * w + 1, d, out[b + i]);
    }
  }
  return true;
}

std::vector<ExecutorStat> RingExecutor::stats() const {
  // The run whose steps took the median time; the first run (the warm-up, by default) is left
  // out when there are others.
  std::vector<RingTraffic> runs(runs_.begin() + (runs_.size() > 1 ? 1 : 0), runs_.end());
  if (runs.empty()) runs.emplace_back();
  std::sort(runs.begin(), runs.end(), [](const RingTraffic& a, const RingTraffic& b) {
    return a.compute + a.wait < b.compute + b.wait;
  });
  const RingTraffic& t = runs[(runs.size() - 1) / 2];
  // What the transfers added to the ring's time: the waits, and the compute they slowed down
  // (the kernel shares the cores with the transport's copies and, on the emulated network, the
  // kernel's packet work).
  const double exposed = t.wait + std::max(0.0, t.compute - t.compute_quiet);
  const double hidden =
      t.in_flight > 0.0 ? std::clamp(1.0 - exposed / t.in_flight, 0.0, 1.0) : 1.0;
  const double kv_input = static_cast<double>(slice_.kv_set.size()) * p_.d * 2 * sizeof(float);
  const double per_step = t.steps > 0 ? t.bytes_sent / t.steps : 0.0;
  return {{"ring_size", static_cast<double>(plan_.ring_size())},
          {"num_rings", static_cast<double>(plan_.num_rings())},
          {"steps", static_cast<double>(t.steps)},
          {"bytes_sent", t.bytes_sent},
          {"bytes_per_step", per_step},
          {"shard_bytes", static_cast<double>(layouts_[ring_rank_].bytes)},
          {"kv_input_bytes", kv_input},
          {"link_latency_s", link_.latency_s},
          {"link_bandwidth_Bps", link_.bandwidth_Bps},
          {"link_probe_bytes", static_cast<double>(link_.bytes)},
          {"compute_s", t.compute},
          {"compute_no_transfer_s", t.compute_quiet},
          {"comm_in_flight_s", t.in_flight},
          {"comm_wait_s", t.wait},
          {"comm_exposed_s", exposed},
          {"comm_mpi_s", t.mpi_calls},
          {"stats_allreduce_s", t.stats_allreduce},
          {"hidden_fraction", hidden}};
}

}  // namespace miniattn
