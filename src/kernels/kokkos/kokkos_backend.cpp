// The kokkos backend: Backend::attend (one tile on the calling thread, for the ring executor and
// the shared tests) and a RankExecutor that runs the rank's work items as one Kokkos kernel,
// "miniattn::kokkos::attend", on Kokkos::DefaultExecutionSpace. Quantisation is the common host
// code (kernels/common/quantize.cpp, so the int8 operands are the CPU backends' bit for bit),
// parallel over Kokkos' host threads, then copied into the execution space's memory (nothing is
// copied when that is host memory). finalize_rows turns the row states into O and LSE on the host.
#include "kernels/kokkos/kokkos_backend.hpp"

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <climits>
#include <string>
#include <type_traits>

#include "kernels/common/quantize.hpp"
#include "kernels/common/tile_math.hpp"
#include "kernels/kokkos/kokkos_tile.hpp"
#include "miniattn/clock.hpp"
#include "miniattn/error.hpp"
#include "miniattn/phases.hpp"
#include "miniattn/registry.hpp"

namespace miniattn {
namespace {

using Exec = Kokkos::DefaultExecutionSpace;
using Mem = Exec::memory_space;
using Host = Kokkos::DefaultHostExecutionSpace;
using HostPolicy = Kokkos::RangePolicy<Host, Kokkos::Schedule<Kokkos::Dynamic>, Kokkos::IndexType<int64_t>>;
// Causal work items differ in cost: teams take items as they finish (the CPU executor's dynamic
// schedule).
using Policy = Kokkos::TeamPolicy<Exec, Kokkos::Schedule<Kokkos::Dynamic>>;
constexpr bool kOnHost = std::is_same<Mem, Kokkos::HostSpace>::value;

// Vector lanes per row on a device: 8 lanes over a 32- or 64-key tile and over D. Written for
// HIP / SYCL / CUDA builds of Kokkos, none of which this project's machines can build (no
// figure measured); on the host the vector length is 1.
constexpr int kDeviceVectorLength = 8;

template <class T>
using HostMat = kk::Operands<Kokkos::HostSpace>::Mat<T>;
template <class T>
using HostVec = kk::Operands<Kokkos::HostSpace>::Vec<T>;

kk::Geometry geometry(const AttnParams& p, bool reset_state) {
  kk::Geometry g;
  g.d = p.d;
  g.tile_kv = p.tile.kv;
  g.nb = tile::max_p_blocks(p.tile.kv);
  g.causal = p.causal;
  g.lq = p.lq;
  g.lk = p.lk;
  g.scale_log2 = p.scale_log2;
  g.two_pass = p.variant == Variant::TwoPass;
  g.reset_state = reset_state;
  return g;
}

kk::ScratchLayout layout_of(const AttnParams& p) { return kk::scratch_layout(p.tile.q, p.tile.kv, p.d, p.pv); }

Policy make_policy(int64_t league) {
  if constexpr (kOnHost) {
    // One thread per work item, as the CPU executor: its K/V tile stays in that core's cache.
    return Policy(static_cast<int>(league), 1);
  } else {
    return Policy(static_cast<int>(league), Kokkos::AUTO, kDeviceVectorLength);
  }
}

// Scratch level of a team: level 0 (fast: a GPU's shared memory) where the tile fits it, else
// level 1. Zero when even level 1 cannot hold it.
int scratch_level(std::size_t bytes) {
  const Policy probe(1, 1);
  if (bytes <= static_cast<std::size_t>(probe.scratch_size_max(0))) return 0;
  if (bytes <= static_cast<std::size_t>(probe.scratch_size_max(1))) return 1;
  return -1;
}

// The executor's kernel: team = work item.
template <PvPrecision PV, Exp2Kind E>
struct AttendFunctor {
  using Member = Policy::member_type;
  using Scratch = Kokkos::View<char*, Exec::scratch_memory_space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

  kk::Geometry g;
  kk::Operands<Mem> op;
  Kokkos::View<const kk::Item*, Mem> items;
  kk::ScratchLayout layout;
  int level = 0;
  int br = 0;

  KOKKOS_INLINE_FUNCTION void operator()(const Member& member) const {
    const Scratch bytes(member.team_scratch(level), layout.total);
    const kk::TileScratch s = kk::carve(bytes.data(), layout, br);
    kk::attend_item<PV, E>(kk::KokkosTeam<Member, kOnHost>{member}, g, op, items(member.league_rank()), s,
                           nullptr);
  }
};

// The int32 scores of one query tile against a run of keys, through the kernel's dot product.
struct ScoresFunctor {
  using Member = Kokkos::TeamPolicy<Exec>::member_type;
  Kokkos::View<const int8_t**, Kokkos::LayoutRight, Mem> q8, k8;
  Kokkos::View<int32_t**, Kokkos::LayoutRight, Mem> s;
  int d = 0;

  KOKKOS_INLINE_FUNCTION void operator()(const Member& member) const {
    Kokkos::parallel_for(Kokkos::TeamThreadRange(member, static_cast<int>(s.extent(0))), [&](int r) {
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, static_cast<int>(s.extent(1))),
                           [&](int c) { s(r, c) = kk::dot_i8(&q8(r, 0), &k8(c, 0), d); });
    });
  }
};

// Runs f.template operator()<PV, E>() for the params' P.V precision and exp2 form.
template <class F>
void with_precision(const AttnParams& p, F&& f) {
  auto exp2_form = [&](auto pv) {
    constexpr PvPrecision PV = decltype(pv)::value;
    switch (p.exp2) {
      case Exp2Kind::Accurate: return f.template operator()<PV, Exp2Kind::Accurate>();
      case Exp2Kind::Fast: return f.template operator()<PV, Exp2Kind::Fast>();
      case Exp2Kind::Fixed: return f.template operator()<PV, Exp2Kind::Fixed>();
    }
  };
  switch (p.pv) {
    case PvPrecision::Fp32: return exp2_form(std::integral_constant<PvPrecision, PvPrecision::Fp32>{});
    case PvPrecision::Bf16: return exp2_form(std::integral_constant<PvPrecision, PvPrecision::Bf16>{});
    case PvPrecision::Int8: return exp2_form(std::integral_constant<PvPrecision, PvPrecision::Int8>{});
  }
}

HostVec<const uint32_t> host_fexpa() { return HostVec<const uint32_t>(exp2::kFexpaMantissa, 64); }

// Launches attend_item over the items in one kernel.
struct Launch {
  kk::Geometry g;
  kk::Operands<Mem> op;
  Kokkos::View<const kk::Item*, Mem> items;
  kk::ScratchLayout layout;
  int level;
  int br;

  template <PvPrecision PV, Exp2Kind E>
  void operator()() const {
    using F = AttendFunctor<PV, E>;
    if (items.extent(0) == 0) return;  // a rank with no work items (more ranks than items)
    Policy policy = make_policy(static_cast<int64_t>(items.extent(0)));
    policy.set_scratch_size(level, Kokkos::PerTeam(static_cast<int>(F::Scratch::shmem_size(layout.total))));
    Kokkos::parallel_for("miniattn::kokkos::attend", policy, F{g, op, items, layout, level, br});
    Kokkos::fence();
  }
};

// attend_item on the calling thread, for one tile.
struct SerialAttend {
  const kk::Geometry& g;
  const kk::Operands<Kokkos::HostSpace>& op;
  const kk::Item& it;
  const kk::TileScratch& s;
  TileCycles& cycles;

  template <PvPrecision PV, Exp2Kind E>
  void operator()() const {
    kk::attend_item<PV, E>(kk::SerialTeam{}, g, op, it, s, &cycles);
  }
};

// The rank on Kokkos::DefaultExecutionSpace. Views of the execution space's memory hold the
// rank's quantised operands and row states; their host mirrors are the same arrays when that
// memory is host memory.
class KokkosExecutor final : public RankExecutor {
 public:
  template <class T>
  using Mat = Kokkos::View<T**, Kokkos::LayoutRight, Mem>;
  template <class T>
  using Vec = Kokkos::View<T*, Kokkos::LayoutRight, Mem>;
  template <class T>
  using HostView = Kokkos::View<T, Kokkos::LayoutRight, Kokkos::HostSpace>;

  KokkosExecutor(const AttnParams& p, const Decomposition& dec, const RankSlice& slice)
      : p_(p), slice_(slice), layout_(layout_of(p)) {
    const int64_t d = p.d, rows = slice.rows.size(), groups = slice.groups.size(), keys = groups * p.lk;
    const int64_t nitems = slice.items.size();
    if (nitems > INT_MAX) throw Error("kokkos: more than 2^31 work items on one rank; raise [run] tile_q");
    level_ = scratch_level(layout_.total);

    q8_ = Mat<int8_t>("miniattn::kokkos::q8", rows, d);
    q_scale_ = Vec<float>("miniattn::kokkos::q_scale", rows);
    k8_ = Mat<int8_t>("miniattn::kokkos::k8", keys, d);
    k_scale_ = Vec<float>("miniattn::kokkos::k_scale", keys);
    k_mean_ = Kokkos::View<float**, Kokkos::HostSpace>("miniattn::kokkos::k_mean", groups, d);
    if (p.smooth_k) lse_shift_ = Kokkos::View<float*, Kokkos::HostSpace>("miniattn::kokkos::lse_shift", rows);
    if (p.pv == PvPrecision::Fp32 && !kOnHost) v_ = Mat<float>("miniattn::kokkos::v", keys, d);
    if (p.pv == PvPrecision::Bf16) v_bf16_ = Mat<uint16_t>("miniattn::kokkos::v_bf16", keys, d);
    if (p.pv == PvPrecision::Int8) {
      v8_ = Mat<int8_t>("miniattn::kokkos::v8", keys, d);
      v_scale_ = Mat<float>("miniattn::kokkos::v_scale", groups, d);
    }
    m_ = Vec<float>("miniattn::kokkos::m", rows);
    l_ = Vec<float>("miniattn::kokkos::l", rows);
    acc_ = Mat<float>("miniattn::kokkos::acc", rows, d);
    fexpa_ = Vec<uint32_t>("miniattn::kokkos::fexpa", 64);
    Kokkos::deep_copy(fexpa_, host_fexpa());

    h_q8_ = Kokkos::create_mirror_view(Kokkos::HostSpace(), q8_);
    h_q_scale_ = Kokkos::create_mirror_view(Kokkos::HostSpace(), q_scale_);
    h_k8_ = Kokkos::create_mirror_view(Kokkos::HostSpace(), k8_);
    h_k_scale_ = Kokkos::create_mirror_view(Kokkos::HostSpace(), k_scale_);
    h_v_bf16_ = Kokkos::create_mirror_view(Kokkos::HostSpace(), v_bf16_);
    h_v8_ = Kokkos::create_mirror_view(Kokkos::HostSpace(), v8_);
    h_v_scale_ = Kokkos::create_mirror_view(Kokkos::HostSpace(), v_scale_);
    h_m_ = Kokkos::create_mirror_view(Kokkos::HostSpace(), m_);
    h_l_ = Kokkos::create_mirror_view(Kokkos::HostSpace(), l_);
    h_acc_ = Kokkos::create_mirror_view(Kokkos::HostSpace(), acc_);

    // Work items in the decomposition's order: the heads that share a KV head are adjacent.
    items_ = Kokkos::View<kk::Item*, Mem>("miniattn::kokkos::items", nitems);
    h_items_ = Kokkos::create_mirror_view(Kokkos::HostSpace(), items_);
    for (int64_t i = 0; i < nitems; ++i) {
      const WorkItem w = dec.item(slice.items.begin + i);
      kk::Item& it = h_items_(i);
      it.row = (w.b * p.heads + w.h) * p.lq + w.row0 - slice.rows.begin;
      it.q_row0 = w.row0;
      it.rows = w.rows;
      it.group = w.b * p.kv_heads + p.kv_head_of(w.h) - slice.groups.begin;
      it.key_row = it.group * p.lk;
      it.key0 = 0;
      it.n = p.lk;
    }
    Kokkos::deep_copy(items_, h_items_);

    op_.q8 = q8_;
    op_.q_scale = q_scale_;
    op_.k8 = k8_;
    op_.k_scale = k_scale_;
    if (p.pv == PvPrecision::Fp32)
      op_.v = kOnHost ? kk::Operands<Mem>::Mat<const float>(host_v().data(), keys, d) : kk::Operands<Mem>::Mat<const float>(v_);
    op_.v_bf16 = v_bf16_;
    op_.v8 = v8_;
    op_.v_scale = v_scale_;
    op_.fexpa = fexpa_;
    op_.m = m_;
    op_.l = l_;
    op_.acc = acc_;

    bytes_ = q8_.span() + 4 * q_scale_.span() + k8_.span() + 4 * k_scale_.span() + 4 * k_mean_.span() +
             4 * lse_shift_.span() + 4 * v_.span() + 2 * v_bf16_.span() + v8_.span() + 4 * v_scale_.span() +
             4 * (m_.span() + l_.span() + acc_.span()) + sizeof(kk::Item) * items_.span();
    if (!kOnHost) bytes_ *= 2;  // host mirrors (an upper bound: k_mean and lse_shift have none)
  }

  double run(PhaseSeconds& phases) override {
    {
      ScopedPhase t(phases, Phase::Quantize);
      quantize();
    }
    {
      ScopedPhase t(phases, Phase::Comm);  // host -> device; nothing to copy on a host space
      upload();
    }
    push_region("kernel");
    const double t0 = wall_seconds();
    const kk::Geometry g = geometry(p_, true);
    with_precision(p_, Launch{g, op_, items_, layout_, level_, p_.tile.q});
    const double kernel = wall_seconds() - t0;
    pop_region();
    {
      ScopedPhase t(phases, Phase::Comm);
      Kokkos::deep_copy(h_m_, m_);
      Kokkos::deep_copy(h_l_, l_);
      Kokkos::deep_copy(h_acc_, acc_);
    }
    const double t1 = wall_seconds();
    finalize();
    if (slice_.progress) slice_.progress->advance(slice_.items.size());
    // The kernel has no portable in-kernel clock: it is reported as one figure, outside the
    // qk_gemm / softmax / pv_gemm split.
    return kernel + (wall_seconds() - t1);
  }

  std::size_t bytes_allocated() const override { return bytes_; }

 private:
  HostMat<const float> host_v() const {
    return HostMat<const float>(slice_.v, slice_.groups.size() * p_.lk, p_.d);
  }

  void quantize() {
    const int d = p_.d;
    const int64_t lk = p_.lk;
    const AttnParams& p = p_;
    const RankSlice& sl = slice_;
    Kokkos::parallel_for("miniattn::kokkos::quantize_kv", HostPolicy(0, sl.groups.size()), [&](int64_t g) {
      const std::size_t off = static_cast<std::size_t>(g * lk * d);
      quant::KvHeadQuant out;
      out.k8 = h_k8_.data() + off;
      out.k_scale = h_k_scale_.data() + g * lk;
      out.k_mean = k_mean_.data() + g * d;
      if (p.pv == PvPrecision::Bf16) out.v_bf16 = h_v_bf16_.data() + off;
      if (p.pv == PvPrecision::Int8) {
        out.v8 = h_v8_.data() + off;
        out.v_scale = h_v_scale_.data() + g * d;
      }
      quant::quantize_kv_head(p, sl.k + off, sl.v + off, lk, out);
    });
    Kokkos::parallel_for("miniattn::kokkos::quantize_q", HostPolicy(0, sl.items.size()), [&](int64_t i) {
      const kk::Item& it = h_items_(i);
      quant::quantize_q_tile(quant::qk_quant(p), sl.q + it.row * d, it.rows, d, h_q8_.data() + it.row * d,
                             h_q_scale_.data() + it.row);
      if (p.smooth_k)
        quant::smoothing_lse_shift(sl.q + it.row * d, it.rows, d, k_mean_.data() + it.group * d, p.scale,
                                   lse_shift_.data() + it.row);
    });
    Kokkos::fence();
  }

  void upload() {
    Kokkos::deep_copy(q8_, h_q8_);
    Kokkos::deep_copy(q_scale_, h_q_scale_);
    Kokkos::deep_copy(k8_, h_k8_);
    Kokkos::deep_copy(k_scale_, h_k_scale_);
    if (p_.pv == PvPrecision::Fp32 && !kOnHost) Kokkos::deep_copy(v_, host_v());
    if (p_.pv == PvPrecision::Bf16) Kokkos::deep_copy(v_bf16_, h_v_bf16_);
    if (p_.pv == PvPrecision::Int8) {
      Kokkos::deep_copy(v8_, h_v8_);
      Kokkos::deep_copy(v_scale_, h_v_scale_);
    }
    Kokkos::fence();
  }

  void finalize() {
    const int d = p_.d;
    Kokkos::parallel_for("miniattn::kokkos::finalize", HostPolicy(0, slice_.items.size()), [&](int64_t i) {
      const kk::Item& it = h_items_(i);
      const RowState st{h_m_.data() + it.row, h_l_.data() + it.row, h_acc_.data() + it.row * d};
      finalize_rows(st, it.rows, d, slice_.o + it.row * d, slice_.lse + it.row,
                    p_.smooth_k ? lse_shift_.data() + it.row : nullptr);
    });
    Kokkos::fence();
  }

  AttnParams p_;
  RankSlice slice_;
  kk::ScratchLayout layout_;
  int level_ = 0;
  std::size_t bytes_ = 0;

  Mat<int8_t> q8_, k8_, v8_;
  Vec<float> q_scale_, k_scale_, m_, l_;
  Mat<float> v_, v_scale_, acc_;
  Mat<uint16_t> v_bf16_;
  Vec<uint32_t> fexpa_;
  Kokkos::View<kk::Item*, Mem> items_;
  Kokkos::View<float**, Kokkos::HostSpace> k_mean_;
  Kokkos::View<float*, Kokkos::HostSpace> lse_shift_;

  // Host copies: the same arrays as the above when Mem is host memory.
  HostView<int8_t**> h_q8_, h_k8_, h_v8_;
  HostView<float*> h_q_scale_, h_k_scale_, h_m_, h_l_;
  HostView<float**> h_v_scale_, h_acc_;
  HostView<uint16_t**> h_v_bf16_;
  HostView<kk::Item*> h_items_;

  kk::Operands<Mem> op_;
};

constexpr const char* kNoUnfused =
    "variant \"unfused\" (S materialised over every key) is not offered by the kokkos backend, whose teams hold "
    "one K/V tile in scratch; set [run] variant = \"fused\" or \"two_pass\"";

class KokkosBackend final : public Backend {
 public:
  std::string_view name() const override { return "kokkos"; }

  TileShape default_tiles(int d, PvPrecision) const override {
    if constexpr (kOnHost) {
      // The portable backend's tiles: S, t and P of a 64 x 64 tile next to the K/V tile.
      return {64, d > 128 ? 32 : 64};
    } else {
      // A GPU's level-0 scratch (shared memory, 48 KiB without opt-in): about 40 KiB at D = 128
      // with fp32 V. Not measured: no device build of Kokkos here.
      return d > 128 ? TileShape{32, 16} : TileShape{64, 32};
    }
  }

  std::string check(const AttnParams& p) const override {
    if (p.variant == Variant::Unfused) return kNoUnfused;
    const std::size_t bytes = layout_of(p).total;
    if (Kokkos::is_initialized() && scratch_level(bytes) < 0)
      return "tiles of " + std::to_string(p.tile.q) + " x " + std::to_string(p.tile.kv) + " keys at head_dim " +
             std::to_string(p.d) + " need " + std::to_string(bytes) + " bytes of team scratch, more than " +
             kokkos_execution_space_name() + " offers; lower [run] tile_q or tile_kv";
    return {};
  }

  std::size_t scratch_bytes(const AttnParams& p, int64_t) const override { return layout_of(p).total; }

  bool qk_scores(const AttnParams& p, const QTile& q, const KvBlock& kv, int64_t j0, int64_t n, int32_t* s,
                 int64_t lds, std::byte*) const override {
    if (!Kokkos::is_initialized()) return false;
    Kokkos::View<int8_t**, Kokkos::LayoutRight, Mem> q8("miniattn::kokkos::q8", q.rows, p.d),
        k8("miniattn::kokkos::k8", n, p.d);
    Kokkos::deep_copy(q8, HostMat<const int8_t>(q.q8, q.rows, p.d));
    Kokkos::deep_copy(k8, HostMat<const int8_t>(kv.k8 + j0 * p.d, n, p.d));
    ScoresFunctor f;
    f.q8 = q8;
    f.k8 = k8;
    f.s = Kokkos::View<int32_t**, Kokkos::LayoutRight, Mem>("miniattn::kokkos::scores", q.rows, n);
    f.d = p.d;
    const int lanes = kOnHost ? 1 : kDeviceVectorLength;
    Kokkos::parallel_for("miniattn::kokkos::qk_scores", Kokkos::TeamPolicy<Exec>(1, Kokkos::AUTO, lanes), f);
    const auto hs = Kokkos::create_mirror_view(Kokkos::HostSpace(), f.s);
    Kokkos::deep_copy(hs, f.s);
    for (int r = 0; r < q.rows; ++r)
      for (int64_t c = 0; c < n; ++c) s[r * lds + c] = hs(r, c);
    return true;
  }

  // One tile on the calling thread (SerialTeam): re-entrant, and callable where no Kokkos kernel
  // may be dispatched (inside another parallel region, before Kokkos is initialised).
  void attend(const AttnParams& p, const QTile& q, const KvBlock& kv, const RowState& st, std::byte* scratch,
              TileCycles& cycles) const override {
    if (p.variant == Variant::Unfused) throw Error(std::string("kokkos: ") + kNoUnfused, ExitCode::RuntimeFailure);
    const int d = p.d;
    kk::Operands<Kokkos::HostSpace> op;
    op.q8 = HostMat<const int8_t>(q.q8, q.rows, d);
    op.q_scale = HostVec<const float>(q.q_scale, q.rows);
    op.k8 = HostMat<const int8_t>(kv.k8, kv.n, d);
    op.k_scale = HostVec<const float>(kv.k_scale, kv.n);
    if (p.pv == PvPrecision::Fp32) op.v = HostMat<const float>(kv.v, kv.n, d);
    if (p.pv == PvPrecision::Bf16) op.v_bf16 = HostMat<const uint16_t>(kv.v_bf16, kv.n, d);
    if (p.pv == PvPrecision::Int8) {
      op.v8 = HostMat<const int8_t>(kv.v8, kv.n, d);
      op.v_scale = HostMat<const float>(kv.v_scale, 1, d);
    }
    op.fexpa = host_fexpa();
    op.m = HostVec<float>(st.m, q.rows);
    op.l = HostVec<float>(st.l, q.rows);
    op.acc = HostMat<float>(st.acc, q.rows, d);
    kk::Item it;
    it.q_row0 = q.row0;
    it.rows = q.rows;
    it.key0 = kv.key0;
    it.n = kv.n;
    const kk::Geometry g = geometry(p, false);
    const kk::TileScratch s = kk::carve(reinterpret_cast<char*>(scratch), layout_of(p), p.tile.q);
    with_precision(p, SerialAttend{g, op, it, s, cycles});
  }

  std::unique_ptr<RankExecutor> make_executor(const AttnParams& p, const Decomposition& dec, const RankSlice& slice,
                                              int threads) const override {
    if (!Kokkos::is_initialized())
      throw Error("kokkos: Kokkos is not initialised in this program", ExitCode::RuntimeFailure);
    const int host_threads = Host().concurrency();
    if (threads != host_threads)
      throw Error("backend 'kokkos' runs on Kokkos' host threads, " + std::to_string(host_threads) + " (" +
                  Host::name() + ", fixed when Kokkos started), but the run asks for " + std::to_string(threads) +
                  " ([run] threads, else OMP_NUM_THREADS); set OMP_NUM_THREADS=" + std::to_string(threads) +
                  " and leave [run] threads = 0 (or --kokkos-num-threads=" + std::to_string(threads) + ")");
    return std::make_unique<KokkosExecutor>(p, dec, slice);
  }
};

}  // namespace

std::unique_ptr<Backend> make_kokkos_backend() { return std::make_unique<KokkosBackend>(); }

const char* kokkos_execution_space_name() { return Exec::name(); }

void register_kokkos_backend() {
  ExternalBackend b;
  b.make = make_kokkos_backend;
  b.unsupported = [] {
    return Kokkos::is_initialized() ? std::string() : std::string("Kokkos is not initialised in this program");
  };
  // A device build of Kokkos makes it the GPU path (below cuda, which has tensor cores); on a
  // host space it is never picked by "auto" (docs/backends.md).
  b.priority = kOnHost ? 5 : 45;
  b.detail = std::string("pure Kokkos (TeamPolicy, team scratch) on ") + Exec::name() +
             ": int32 Q.K^T, exp2 softmax, fp32 / bf16 / int8 P.V; fused and two_pass";
  set_kokkos_backend(b);
}

}  // namespace miniattn
