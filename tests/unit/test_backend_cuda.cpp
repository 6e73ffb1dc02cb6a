// The cuda backend's CPU-side tests: registry and device probe, kernel shapes and parameter
// checks, the tile and quantisation plans, the quantiser's element math against the CPU
// quantiser (bitwise), and the kernels' fragment index arithmetic run through an emulation of
// ldmatrix and mma.sync written from the PTX ISA fragment tables. The GPU itself is exercised
// by the last test (skipped, with the reason, where no device is present) and, on machines
// without GoogleTest, by miniattn-cuda-check (scripts/cuda_bench.sh).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/common/quantize.hpp"
#include "kernels/common/rotation.hpp"
#include "kernels/cuda/cuda_backend.hpp"
#include "kernels/cuda/cuda_config.hpp"
#include "kernels/cuda/cuda_layout.hpp"
#include "tools/cuda_tools.hpp"
#include "miniattn/error.hpp"
#include "miniattn/registry.hpp"
#include "miniattn/synthetic.hpp"

namespace miniattn::cuda {
namespace {

AttnParams params(ProblemShape s, PvPrecision pv, QkScales qs = QkScales::PerToken, bool smooth = true,
                  int tile_q = 0, Rotation rot = Rotation::None) {
  KernelShape k;
  const bool ok = kernel_shape(s.d, pv, k);
  EXPECT_TRUE(ok) << "D " << s.d;
  return make_attn_params(s, Variant::Fused, pv, Exp2Kind::Accurate, qs, smooth, {tile_q > 0 ? tile_q : k.br, k.bc},
                          rot);
}

// ---------------------------------------------------------------------------------------------
// Registry and probe
// ---------------------------------------------------------------------------------------------
TEST(CudaBackend, RegistryReportsTheDeviceOrWhyNot) {
  const std::string why = cuda_unsupported();  // must not crash without a driver
  bool found = false;
  for (const BackendInfo& i : backend_infos()) {
    if (i.name != "cuda") continue;
    found = true;
    EXPECT_TRUE(i.compiled);
    EXPECT_EQ(i.priority, 50);
    EXPECT_EQ(i.supported, why.empty());
    if (!why.empty()) {
      EXPECT_EQ(i.detail, why);
    }
  }
  ASSERT_TRUE(found);
  if (why.empty()) {
    EXPECT_EQ(auto_backend_name(), "cuda");
    GTEST_SKIP() << "a CUDA device is present: the no-device behaviour is not testable here";
  }
  EXPECT_NE(why.find("no CUDA device"), std::string::npos) << why;
  EXPECT_NE(auto_backend_name(), "cuda");
  try {
    create_backend("cuda");
    ADD_FAILURE() << "create_backend(\"cuda\") succeeded without a device";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot run on this machine"), std::string::npos) << e.what();
  }
  // The backend object itself needs no device; running a rank does, and fails cleanly.
  const auto be = make_cuda_backend();
  const AttnParams p = params({1, 1, 1, 64, 64, 64, false, 0.0}, PvPrecision::Bf16);
  const Decomposition dec(p, 1);
  const RankSlice slice = replicated_slice(p, dec, 0);
  EXPECT_THROW(be->make_executor(p, dec, slice, 1), Error);
}

// ---------------------------------------------------------------------------------------------
// Kernel shapes and parameter checks
// ---------------------------------------------------------------------------------------------
TEST(CudaBackend, KernelShapesFitEveryTarget) {
  for (int d : {64, 128, 256})
    for (PvPrecision pv : {PvPrecision::Bf16, PvPrecision::Int8}) {
      KernelShape s;
      ASSERT_TRUE(kernel_shape(d, pv, s));
      EXPECT_EQ(s.br, 128);
      EXPECT_EQ(s.br, s.warps * 16 * s.m_tiles);
      EXPECT_EQ(s.threads, 32 * s.warps);
      EXPECT_EQ(s.bc % 32, 0);
      EXPECT_LE(s.bc, kKeyPad);  // the device K/V arrays are padded to whole tiles
      EXPECT_EQ(kKeyPad % s.bc, 0);
      // sm_89's opt-in shared memory per block (99 KiB) is the smallest of the targets.
      EXPECT_LE(s.smem_bytes, 99 * 1024) << "D " << d << " pv " << to_string(pv);
      // exact_float: |S| <= 127^2 D and the int8 P.V tile sums <= 255 * 127 * Bc stay < 2^22.
      EXPECT_LT(127LL * 127 * d, 1LL << 22);
      if (pv == PvPrecision::Int8) {
        // The packed V^T tiles are 64 keys wide, and a tile is one of the CPU's P blocks (P as u8
        // against the row's maximum over kPBlock keys aligned to key 0).
        EXPECT_EQ(s.bc, 64);
        EXPECT_EQ(s.bc, kPBlock);
        EXPECT_LT(255LL * 127 * s.bc, 1LL << 22);
        EXPECT_EQ(d % 64, 0);  // P.V in 64-channel chunks
      }
      const auto be = make_cuda_backend();
      const TileShape t = be->default_tiles(d, pv);
      EXPECT_EQ(t.q, s.br);
      EXPECT_EQ(t.kv, s.bc);
    }
  KernelShape s;
  EXPECT_FALSE(kernel_shape(80, PvPrecision::Bf16, s));
  EXPECT_FALSE(kernel_shape(32, PvPrecision::Int8, s));
}

TEST(CudaBackend, CheckNamesWhatTheKernelsCannotRun) {
  const ProblemShape s{1, 2, 1, 100, 100, 128, true, 0.0};
  const auto be = make_cuda_backend();
  EXPECT_EQ(be->check(params(s, PvPrecision::Bf16)), "");
  EXPECT_EQ(be->check(params(s, PvPrecision::Int8, QkScales::PerBlock, false, 37)), "");  // any Q block
  for (QkScales qs : {QkScales::PerToken, QkScales::PerBlock})
    for (bool smooth : {true, false})
      EXPECT_EQ(be->check(params(s, PvPrecision::Bf16, qs, smooth, 0, Rotation::Hadamard)), "");
  auto with = [&](auto change) {
    AttnParams p = params(s, PvPrecision::Bf16);
    change(p);
    return be->check(p);
  };
  EXPECT_NE(with([](AttnParams& p) { p.pv = PvPrecision::Fp32; }).find("pv_precision"), std::string::npos);
  EXPECT_NE(with([](AttnParams& p) { p.exp2 = Exp2Kind::Fast; }).find("exp2"), std::string::npos);
  EXPECT_NE(with([](AttnParams& p) { p.exp2 = Exp2Kind::Fixed; }).find("exp2"), std::string::npos);
  EXPECT_NE(with([](AttnParams& p) { p.variant = Variant::TwoPass; }).find("variant"), std::string::npos);
  EXPECT_NE(with([](AttnParams& p) { p.variant = Variant::Unfused; }).find("variant"), std::string::npos);
  EXPECT_NE(with([](AttnParams& p) { p.tile.kv = 32; }).find("tile_kv"), std::string::npos);
  EXPECT_NE(with([](AttnParams& p) { p.d = 80; }).find("head_dim"), std::string::npos);
  EXPECT_THROW(be->attend(params(s, PvPrecision::Bf16), QTile{}, KvBlock{}, RowState{}, nullptr,
                          *std::make_unique<TileCycles>()),
               Error);
}

// ---------------------------------------------------------------------------------------------
// Plans
// ---------------------------------------------------------------------------------------------
const std::vector<ProblemShape>& plan_shapes() {
  static const std::vector<ProblemShape> s = {
      {1, 2, 1, 77, 133, 64, false, 0.0},  {2, 4, 2, 130, 97, 64, true, 0.0},
      {1, 3, 3, 65, 200, 128, true, 0.0},  {1, 4, 1, 300, 517, 128, true, 0.0},
      {2, 6, 3, 1000, 700, 256, true, 0.0}, {3, 2, 2, 257, 257, 128, false, 0.0},
  };
  return s;
}

TEST(CudaPlan, TilesCoverEveryRankRowOnceInsideOneHead) {
  for (const ProblemShape& s : plan_shapes())
    for (int tile_q : {0, 37})
      for (int ranks : {1, 2, 3, 7}) {
        const AttnParams p = params(s, PvPrecision::Bf16, QkScales::PerToken, true, tile_q);
        const Decomposition dec(p, ranks);
        for (int r = 0; r < ranks; ++r) {
          const Range rows = dec.rank_rows(r), groups = dec.rank_kv_groups(r);
          const std::vector<GpuTile> tiles = plan_tiles(p, rows, groups, 128);
          std::vector<int> seen(static_cast<std::size_t>(rows.size()), 0);
          int64_t last_head = -1, last_steps = 0;
          for (const GpuTile& t : tiles) {
            ASSERT_GT(t.rows, 0);
            ASSERT_LE(t.rows, 128);
            const int64_t flat = rows.begin + t.q_row, bh = flat / p.lq;
            ASSERT_EQ(flat - bh * p.lq, t.row0);
            ASSERT_LE(t.row0 + t.rows, p.lq) << "a tile crosses a head";
            const int64_t b = bh / p.heads, h = bh % p.heads;
            ASSERT_EQ(t.group, b * p.kv_heads + p.kv_head_of(h) - groups.begin);
            ASSERT_GE(t.group, 0);
            ASSERT_LT(t.group, groups.size());
            for (int i = 0; i < t.rows; ++i) ++seen[static_cast<std::size_t>(t.q_row + i)];
            // Every key a row of the tile sees lies in the tiles the kernel computes, and the
            // last of them holds at least one such key.
            const int64_t steps = tile_kv_steps(p, t, 64);
            const int64_t vis = p.visible_keys(t.row0 + t.rows - 1);
            EXPECT_GE(steps * 64, vis);
            EXPECT_LT((steps - 1) * 64, std::max<int64_t>(vis, 1));
            if (p.causal && bh == last_head) {
              EXPECT_LE(steps, last_steps) << "heaviest tiles first";
            }
            last_head = bh;
            last_steps = steps;
          }
          for (int c : seen) ASSERT_EQ(c, 1);
        }
      }
}

// The quantiser kernel's rotation of one row as a warp runs it: each level's butterflies shared
// by 32 lanes (layout::hadamard_level), one level after the other.
void emulate_warp_hadamard(float* x, int d) {
  for (int at = 0; at < d;) {
    const int n = layout::hadamard_block(at, d);
    for (int h = 1; h < n; h *= 2)
      for (int lane = 0; lane < 32; ++lane) layout::hadamard_level(x, at, n, h, lane, 32);
    for (int lane = 0; lane < 32; ++lane) layout::hadamard_scale(x, at, n, lane, 32);
    at += n;
  }
}

// The row quantiser kernel's logic on the host: per row x - mean (rotated, with rotate), per
// block the maximum of its absolute values over the rows (or each row's own), then the element
// encoding; the same layout::q_* math.
void emulate_quantize_rows(const float* src, int d, const std::vector<QuantBlock>& blocks, const float* means,
                           bool rotate, int8_t* dst, float* scale) {
  std::vector<float> row(static_cast<std::size_t>(d));
  for (const QuantBlock& b : blocks) {
    const float* mean = b.mean_row >= 0 ? means + b.mean_row * d : nullptr;
    auto prepare = [&](int r) {
      for (int c = 0; c < d; ++c) {
        const float x = src[(b.src_row + r) * d + c];
        row[c] = mean ? layout::q_sub(x, mean[c]) : x;
      }
      if (rotate) emulate_warp_hadamard(row.data(), d);
    };
    auto row_amax = [&] {
      float a = 0.0f;
      for (int c = 0; c < d; ++c) a = std::max(a, std::fabs(row[c]));
      return a;
    };
    float block_amax = 0.0f;
    if (b.one_scale)
      for (int r = 0; r < b.rows; ++r) {
        prepare(r);
        block_amax = std::max(block_amax, row_amax());
      }
    for (int r = 0; r < b.rows; ++r) {
      prepare(r);
      const float amax = b.one_scale ? block_amax : row_amax();
      const layout::QInverse inv = layout::q_inverse(amax);
      for (int c = 0; c < d; ++c)
        dst[(b.dst_row + r) * d + c] = amax == 0.0f ? int8_t{0} : layout::q_encode(row[c], inv);
      scale[b.dst_row + r] = layout::q_scale(amax);
    }
  }
}

// The LSE shift kernel on the host: per row of every tile, the four chains of lanes 0-3 and
// lane 0's combination.
void emulate_lse_shift(const float* q, int d, const std::vector<GpuTile>& tiles, const float* means, double scale,
                       float* shift) {
  for (const GpuTile& t : tiles)
    for (int r = 0; r < t.rows; ++r) {
      const float* x = q + (t.q_row + r) * d;
      const float* mean = means + static_cast<int64_t>(t.group) * d;
      double s[4];
      for (int j = 0; j < 4; ++j) s[j] = layout::shift_chain(x, mean, d, j);
      shift[t.q_row + r] = layout::shift_combine(s[0], s[1], s[2], s[3], scale);
    }
}

// The V kernels' logic on the host: per-channel maxima of |v| over the head's keys
// (v_amax_kernel), then each element encoded with its channel's inverse (v_pack_kernel, before
// the transposed store); v8 in the CPU's key-major layout.
void emulate_quantize_v(const float* v, int64_t lk, int d, int8_t* v8, float* scale) {
  for (int c = 0; c < d; ++c) {
    float amax = 0.0f;
    for (int64_t j = 0; j < lk; ++j) amax = std::max(amax, std::fabs(v[j * d + c]));
    const layout::QInverse inv = layout::q_inverse(amax);
    for (int64_t j = 0; j < lk; ++j) v8[j * d + c] = layout::q_encode(v[j * d + c], inv);
    scale[c] = layout::q_scale(amax);
  }
}

// Rows, blocks and channels whose 127 / amax overflows float (amax < 127 / FLT_MAX): the CPU
// encodes them in double (quantize.cpp); x 2^-140 makes N(0, 1)-sized values subnormal.
void make_tiny(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::ldexp(x[i], -140);
}

// The rotation's helpers against its definition (rotation.cpp), bit for bit: one thread running
// layout::hadamard_row, and a warp's 32 lanes sharing each level. Head dims of the kernels, and
// others whose binary decomposition has several blocks (48 = 32 + 16, 80, 96, 208).
TEST(CudaPlan, HadamardRowEqualsTheCpuRotation) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int d : {16, 48, 64, 80, 96, 128, 208, 256}) {
    const int rows = 5;
    std::vector<float> x(static_cast<std::size_t>(rows * d));
    for (float& v : x) v = normal(rng);
    x[3] = 1000.0f;  // an outlier channel
    make_tiny(x.data() + 2 * d, d);  // a subnormal row
    std::vector<float> want = x, dispatched = x;
    rotation::hadamard_rows_scalar(want.data(), rows, d);
    rotation::hadamard_rows(dispatched.data(), rows, d);  // the CPU's vector path where it has one
    ASSERT_EQ(0, std::memcmp(dispatched.data(), want.data(), x.size() * sizeof(float))) << "D " << d;
    for (int r = 0; r < rows; ++r) {
      std::vector<float> one(x.begin() + r * d, x.begin() + (r + 1) * d), warp = one;
      layout::hadamard_row(one.data(), d, 0, 1, [] {});
      emulate_warp_hadamard(warp.data(), d);
      ASSERT_EQ(0, std::memcmp(one.data(), want.data() + r * d, d * sizeof(float))) << "D " << d << " row " << r;
      ASSERT_EQ(0, std::memcmp(warp.data(), want.data() + r * d, d * sizeof(float))) << "D " << d << " row " << r;
    }
  }
}

// K smoothing's LSE term: the shift kernel's chains against quant::smoothing_lse_shift, bit for
// bit, on random rows and on rows whose sums cancel (2^60 + 1 - 2^60 is 0 or 1 depending on the
// order of the double additions, which the float result then shows).
TEST(CudaPlan, LseShiftEqualsTheCpuTerm) {
  std::mt19937 rng(6);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int d : {64, 128, 256}) {
    const int rows = 40;
    std::vector<float> q(static_cast<std::size_t>(rows * d)), mean(static_cast<std::size_t>(d));
    for (float& x : q) x = normal(rng);
    for (float& x : mean) x = 3.0f + normal(rng);
    std::fill(mean.begin(), mean.begin() + 16, 1.0f);  // exact products in the cancelling rows
    // Cancelling rows (channel, value): +2^60, 1 and -2^60 spread over the four chains (channel
    // % 4) so that a wrong chain or a wrong order of combining them changes the result.
    const float big = std::ldexp(1.0f, 60);
    const std::vector<std::vector<std::pair<int, float>>> cancel = {
        {{0, big}, {4, -big}, {1, 1.0f}},  // 1: chain 0 cancels by itself
        {{0, big}, {1, 1.0f}, {2, -big}},  // 0: (2^60 + 1) + (-2^60)
        {{0, big}, {2, 1.0f}, {1, -big}},  // 1: (2^60 - 2^60) + 1
        {{3, big}, {2, 1.0f}, {1, -big}},  // 0
        {{3, big}, {1, 1.0f}, {2, -big}},  // 1
        {{2, big}, {8, 1.0f}, {3, -big}},  // 0
    };
    for (std::size_t r = 0; r < cancel.size(); ++r) {
      float* x = q.data() + r * d;
      std::fill(x, x + d, 0.0f);
      for (const auto& [c, v] : cancel[r]) x[c] = v;
    }
    const double scale = 1.0 / std::sqrt(static_cast<double>(d));
    std::vector<float> want(static_cast<std::size_t>(rows)), got(want.size());
    quant::smoothing_lse_shift(q.data(), rows, d, mean.data(), scale, want.data());
    GpuTile t;
    t.rows = rows;
    emulate_lse_shift(q.data(), d, {t}, mean.data(), scale, got.data());
    ASSERT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float))) << "D " << d;
  }
}

TEST(CudaPlan, QuantisationEmulationEqualsTheCpuQuantiser) {
  for (const ProblemShape& s : plan_shapes())
    for (Rotation rot : {Rotation::None, Rotation::Hadamard})
      for (QkScales qs : {QkScales::PerToken, QkScales::PerBlock})
        for (bool smooth : {true, false})
          for (int tile_q : {0, 37}) {
            const AttnParams p = params(s, PvPrecision::Int8, qs, smooth, tile_q, rot);
            SCOPED_TRACE(::testing::Message() << "D " << p.d << " rotate " << to_string(rot) << " scales "
                                              << to_string(qs) << " smooth " << smooth << " tile_q " << tile_q);
            const int d = p.d;
            const int64_t qrows = p.batch * p.heads * p.lq, kvrows = p.batch * p.kv_heads * p.lk;
            std::vector<float> q(static_cast<std::size_t>(qrows * d)), k(static_cast<std::size_t>(kvrows * d));
            std::vector<float> v(k.size());
            synthetic_rows(Distribution::Outliers, 7, Tensor::Q, p.heads, p.lq, d, 0, qrows, q.data());
            synthetic_rows(Distribution::KBias, 7, Tensor::K, p.kv_heads, p.lk, d, 0, kvrows, k.data());
            synthetic_rows(Distribution::Normal, 7, Tensor::V, p.kv_heads, p.lk, d, 0, kvrows, v.data());
            for (int64_t z = 0; z < d; ++z) q[static_cast<std::size_t>(d + z)] = 0.0f;  // an all-zero row
            // Tiny: Q row 3 (per_token) and the last head (per_block too); key 2 of the first KV
            // head (per_token without smoothing), the whole last KV head (its mean too), and V
            // channel 5 of every key.
            make_tiny(q.data() + 3 * d, d);
            make_tiny(q.data() + (qrows - p.lq) * d, p.lq * d);
            make_tiny(k.data() + 2 * d, d);
            make_tiny(k.data() + (kvrows - p.lk) * d, p.lk * d);
            for (int64_t j = 0; j < kvrows; ++j) make_tiny(v.data() + j * d + 5, 1);
            const Decomposition dec(p, 3);
            for (int r = 0; r < 3; ++r) {
              const Range rows = dec.rank_rows(r), groups = dec.rank_kv_groups(r);
              if (rows.empty()) continue;
              const int64_t ng = groups.size(), lp = padded_keys(p.lk);
              const float* kr = k.data() + groups.begin * p.lk * d;
              std::vector<float> mean(static_cast<std::size_t>(ng * d));
              for (int64_t g = 0; g < ng; ++g) quant::k_channel_mean(kr + g * p.lk * d, p.lk, d, mean.data() + g * d);

              // The CPU executor's quantisation of this rank (and its LSE shift).
              std::vector<int8_t> q8(static_cast<std::size_t>(rows.size() * d));
              std::vector<float> qsc(static_cast<std::size_t>(rows.size())), shift(qsc.size());
              for (int64_t i = dec.rank_items(r).begin; i < dec.rank_items(r).end; ++i) {
                const WorkItem w = dec.item(i);
                const int64_t row = (w.b * p.heads + w.h) * p.lq + w.row0 - rows.begin;
                const float* qw = q.data() + (rows.begin + row) * d;
                quant::quantize_q_tile(quant::qk_quant(p), qw, w.rows, d, q8.data() + row * d, qsc.data() + row);
                const int64_t g = w.b * p.kv_heads + p.kv_head_of(w.h) - groups.begin;
                quant::smoothing_lse_shift(qw, w.rows, d, mean.data() + g * d, p.scale, shift.data() + row);
              }
              std::vector<int8_t> gq8(q8.size());
              std::vector<float> gqsc(qsc.size()), gshift(qsc.size());
              emulate_quantize_rows(q.data() + rows.begin * d, d, plan_q_quant(p, rows), nullptr,
                                    rot == Rotation::Hadamard, gq8.data(), gqsc.data());
              ASSERT_EQ(gq8, q8) << "rank " << r;
              ASSERT_EQ(gqsc, qsc) << "rank " << r;
              emulate_lse_shift(q.data() + rows.begin * d, d, plan_tiles(p, rows, groups, 128), mean.data(), p.scale,
                                gshift.data());
              ASSERT_EQ(gshift, shift) << "rank " << r;

              std::vector<int8_t> gk8(static_cast<std::size_t>(ng * lp * d), 99);
              std::vector<float> gks(static_cast<std::size_t>(ng * lp), 99.0f);
              emulate_quantize_rows(kr, d, plan_k_quant(p, ng), mean.data(), rot == Rotation::Hadamard, gk8.data(),
                                    gks.data());
              for (int64_t g = 0; g < ng; ++g) {
                std::vector<int8_t> k8(static_cast<std::size_t>(p.lk * d));
                std::vector<float> ks(static_cast<std::size_t>(p.lk));
                quant::quantize_k(quant::qk_quant(p), kr + g * p.lk * d, p.lk, d,
                                  smooth ? mean.data() + g * d : nullptr, k8.data(), ks.data());
                ASSERT_TRUE(std::equal(k8.begin(), k8.end(), gk8.begin() + g * lp * d)) << "group " << g;
                ASSERT_TRUE(std::equal(ks.begin(), ks.end(), gks.begin() + g * lp)) << "group " << g;
                // Pads are left to the zero-filled allocation: the plan never writes them.
                for (int64_t j = p.lk; j < lp; ++j) ASSERT_EQ(gks[static_cast<std::size_t>(g * lp + j)], 99.0f);
                if (rot == Rotation::Hadamard) continue;  // V is not rotated

                const float* vg = v.data() + (groups.begin + g) * p.lk * d;
                std::vector<int8_t> v8(k8.size()), gv8(k8.size());
                std::vector<float> vs(static_cast<std::size_t>(d)), gvs(vs.size());
                quant::quantize_v_per_channel(vg, p.lk, d, v8.data(), vs.data());
                emulate_quantize_v(vg, p.lk, d, gv8.data(), gvs.data());
                ASSERT_EQ(gv8, v8) << "group " << g;
                ASSERT_EQ(gvs, vs) << "group " << g;
              }
            }
          }
}

TEST(CudaPlan, LocalRankComesFromTheLauncher) {
  const char* names[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK", "PMI_LOCAL_RANK",
                         "SLURM_LOCALID"};
  std::vector<std::pair<std::string, std::string>> saved;
  for (const char* n : names)
    if (const char* v = std::getenv(n)) saved.emplace_back(n, v);
  for (const char* n : names) unsetenv(n);
  EXPECT_EQ(local_rank_from_env(), 0);
  setenv("SLURM_LOCALID", "2", 1);
  EXPECT_EQ(local_rank_from_env(), 2);
  setenv("OMPI_COMM_WORLD_LOCAL_RANK", "3", 1);
  EXPECT_EQ(local_rank_from_env(), 3);  // the MPI launcher's word first
  setenv("OMPI_COMM_WORLD_LOCAL_RANK", "x", 1);
  EXPECT_EQ(local_rank_from_env(), 2);  // malformed values are ignored
  for (const char* n : names) unsetenv(n);
  for (const auto& [n, v] : saved) setenv(n.c_str(), v.c_str(), 1);
}

// ---------------------------------------------------------------------------------------------
// Fragment arithmetic: an emulated warp running the kernels' ldmatrix addresses and register
// packing against the PTX ISA fragment tables (written here independently of the kernels).
// ---------------------------------------------------------------------------------------------
using Regs = uint32_t[32][4];

// ldmatrix.sync.aligned.m8n8.x4[.trans].b16: lanes 8m..8m+7 address the rows of matrix m.
void ldsm(const std::vector<uint8_t>& smem, const int (&addr)[32], bool trans, Regs& out) {
  for (int m = 0; m < 4; ++m)
    for (int t = 0; t < 32; ++t) {
      if (!trans) {
        std::memcpy(&out[t][m], smem.data() + addr[8 * m + t / 4] + (t % 4) * 4, 4);
      } else {  // element (row 2(t%4) + j, col t/4) of the stored 8x8 b16 matrix
        uint16_t lo, hi;
        std::memcpy(&lo, smem.data() + addr[8 * m + 2 * (t % 4)] + (t / 4) * 2, 2);
        std::memcpy(&hi, smem.data() + addr[8 * m + 2 * (t % 4) + 1] + (t / 4) * 2, 2);
        out[t][m] = lo | static_cast<uint32_t>(hi) << 16;
      }
    }
}

// mma.m16n8k32 .s8/.u8 A x .s8 B + s32 C. c[lane][e]: row g + 8(e/2), col 2 tig + e%2.
void mma_k32(const uint32_t (&a)[32][4], const uint32_t (&b)[32][2], bool a_unsigned, int32_t (&c)[32][4]) {
  int A[16][32], B[32][8];
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int i = 0; i < 4; ++i)
      for (int y = 0; y < 4; ++y) {
        const uint8_t byte = static_cast<uint8_t>(a[lane][i] >> (8 * y));
        A[g + 8 * (i % 2)][4 * t + y + 16 * (i / 2)] = a_unsigned ? byte : static_cast<int8_t>(byte);
      }
    for (int i = 0; i < 2; ++i)
      for (int y = 0; y < 4; ++y) B[4 * t + y + 16 * i][g] = static_cast<int8_t>(static_cast<uint8_t>(b[lane][i] >> (8 * y)));
  }
  for (int lane = 0; lane < 32; ++lane)
    for (int e = 0; e < 4; ++e) {
      const int row = lane / 4 + 8 * (e / 2), col = 2 * (lane % 4) + e % 2;
      for (int k = 0; k < 32; ++k) c[lane][e] += A[row][k] * B[k][col];
    }
}

float bf16_value(uint16_t h) { return quant::bf16_to_float(h); }

// mma.m16n8k16 .bf16 A x .bf16 B + f32 C.
void mma_k16(const uint32_t (&a)[32][4], const uint32_t (&b)[32][2], float (&c)[32][4]) {
  float A[16][16], B[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 2; ++j)
        A[g + 8 * (i % 2)][2 * t + j + 8 * (i / 2)] = bf16_value(static_cast<uint16_t>(a[lane][i] >> (16 * j)));
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) B[2 * t + j + 8 * i][g] = bf16_value(static_cast<uint16_t>(b[lane][i] >> (16 * j)));
  }
  for (int lane = 0; lane < 32; ++lane)
    for (int e = 0; e < 4; ++e) {
      const int row = lane / 4 + 8 * (e / 2), col = 2 * (lane % 4) + e % 2;
      for (int k = 0; k < 16; ++k) c[lane][e] += A[row][k] * B[k][col];
    }
}

// Stores a rows x (16 C)-byte tile as the kernels' cp.async does: 16-byte chunks swizzled.
template <int C>
std::vector<uint8_t> swizzled(const std::vector<uint8_t>& rowmajor, int rows) {
  std::vector<uint8_t> s(rowmajor.size());
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < C; ++c)
      std::memcpy(s.data() + layout::swizzle<C>(r, c) * 16, rowmajor.data() + (r * C + c) * 16, 16);
  return s;
}

template <int D, int Mt, int Bc>
void check_qk_fragments(std::mt19937& rng) {
  constexpr int C = D / 16, Br = 128;
  std::uniform_int_distribution<int> q8(-127, 127);
  std::vector<uint8_t> q(Br * D), k(Bc * D);
  for (auto& x : q) x = static_cast<uint8_t>(static_cast<int8_t>(q8(rng)));
  for (auto& x : k) x = static_cast<uint8_t>(static_cast<int8_t>(q8(rng)));
  const std::vector<uint8_t> sq = swizzled<C>(q, Br), sk = swizzled<C>(k, Bc);
  const int warps = Br / (16 * Mt);
  for (int warp = 0; warp < warps; ++warp) {
    int32_t s[Mt][Bc / 8][32][4] = {};
    for (int kk = 0; kk < D / 32; ++kk) {
      Regs qa[Mt];
      for (int mt = 0; mt < Mt; ++mt) {
        int addr[32];
        for (int l = 0; l < 32; ++l)
          addr[l] = layout::swizzle<C>(warp * 16 * Mt + mt * 16 + layout::a_row(l), layout::a_chunk(l, kk)) * 16;
        ldsm(sq, addr, false, qa[mt]);
      }
      for (int np = 0; np < Bc / 16; ++np) {
        Regs kb;
        int addr[32];
        for (int l = 0; l < 32; ++l) addr[l] = layout::swizzle<C>(np * 16 + layout::b_row(l), layout::b_chunk(l, kk)) * 16;
        ldsm(sk, addr, false, kb);
        uint32_t b0[32][2], b1[32][2];
        for (int l = 0; l < 32; ++l) {
          b0[l][0] = kb[l][0], b0[l][1] = kb[l][1];
          b1[l][0] = kb[l][2], b1[l][1] = kb[l][3];
        }
        for (int mt = 0; mt < Mt; ++mt) {
          mma_k32(qa[mt], b0, false, s[mt][2 * np]);
          mma_k32(qa[mt], b1, false, s[mt][2 * np + 1]);
        }
      }
    }
    for (int mt = 0; mt < Mt; ++mt)
      for (int n = 0; n < Bc / 8; ++n)
        for (int l = 0; l < 32; ++l)
          for (int e = 0; e < 4; ++e) {
            const int row = warp * 16 * Mt + mt * 16 + l / 4 + 8 * (e / 2), key = 8 * n + 2 * (l % 4) + e % 2;
            int32_t want = 0;
            for (int x = 0; x < D; ++x) want += static_cast<int8_t>(q[row * D + x]) * static_cast<int8_t>(k[key * D + x]);
            ASSERT_EQ(s[mt][n][l][e], want) << "D " << D << " warp " << warp << " row " << row << " key " << key;
          }
  }
}

TEST(CudaFragments, QkScoresFromSwizzledTilesAreTheInt8Dots) {
  std::mt19937 rng(11);
  check_qk_fragments<64, 2, 64>(rng);
  check_qk_fragments<128, 2, 64>(rng);
  check_qk_fragments<128, 1, 64>(rng);
  check_qk_fragments<256, 1, 32>(rng);
}

// P (given at the score accumulator positions) times V through the bf16 path.
template <int D, int Bc>
void check_pv_bf16(std::mt19937& rng) {
  constexpr int C = D / 8;
  std::uniform_int_distribution<int> small(-4, 4);
  std::vector<float> p(16 * Bc), v(Bc * D);
  for (auto& x : p) x = static_cast<float>(std::abs(small(rng)));
  for (auto& x : v) x = static_cast<float>(small(rng));
  std::vector<uint8_t> vb(Bc * D * 2);
  for (int i = 0; i < Bc * D; ++i) {
    const uint16_t h = quant::float_to_bf16(v[i]);
    std::memcpy(vb.data() + 2 * i, &h, 2);
  }
  const std::vector<uint8_t> sv = swizzled<C>(vb, Bc);
  // P at accumulator element e of n-tile n of lane l: row l/4 + 8(e/2), key 8n + 2(l%4) + e%2.
  auto p_at = [&](int l, int n, int e) { return p[(l / 4 + 8 * (e / 2)) * Bc + 8 * n + 2 * (l % 4) + e % 2]; };
  float o[D / 8][32][4] = {};
  for (int t = 0; t < Bc / 16; ++t) {
    Regs pa;
    for (int l = 0; l < 32; ++l)
      for (int r = 0; r < 4; ++r) {
        const int n = layout::p16_ntile(t, r), h = layout::p_half(r);
        pa[l][r] = quant::float_to_bf16(p_at(l, n, 2 * h)) | static_cast<uint32_t>(quant::float_to_bf16(p_at(l, n, 2 * h + 1))) << 16;
      }
    for (int cp = 0; cp < D / 16; ++cp) {
      Regs vr;
      int addr[32];
      for (int l = 0; l < 32; ++l) addr[l] = layout::swizzle<C>(16 * t + layout::vt_row(l), layout::vt_chunk(l, cp)) * 16;
      ldsm(sv, addr, true, vr);
      uint32_t b0[32][2], b1[32][2];
      for (int l = 0; l < 32; ++l) {
        b0[l][0] = vr[l][0], b0[l][1] = vr[l][1];
        b1[l][0] = vr[l][2], b1[l][1] = vr[l][3];
      }
      mma_k16(pa, b0, o[2 * cp]);
      mma_k16(pa, b1, o[2 * cp + 1]);
    }
  }
  for (int n = 0; n < D / 8; ++n)
    for (int l = 0; l < 32; ++l)
      for (int e = 0; e < 4; ++e) {
        const int row = l / 4 + 8 * (e / 2), ch = 8 * n + 2 * (l % 4) + e % 2;
        float want = 0.0f;  // small integers: every sum is exact
        for (int j = 0; j < Bc; ++j) want += p[row * Bc + j] * v[j * D + ch];
        ASSERT_EQ(o[n][l][e], want) << "D " << D << " row " << row << " channel " << ch;
      }
}

TEST(CudaFragments, Bf16PVFromScoreRegistersAndTransposedLoads) {
  std::mt19937 rng(12);
  check_pv_bf16<64, 64>(rng);
  check_pv_bf16<128, 64>(rng);
  check_pv_bf16<256, 32>(rng);
}

// u8 P (at the accumulator positions) times s8 V through the packed, slot-permuted V^T.
template <int D>
void check_pv_int8(std::mt19937& rng) {
  constexpr int Bc = 64, C = Bc / 16;
  std::uniform_int_distribution<int> u8(0, 255), s8(-127, 127);
  std::vector<int> p(16 * Bc), v(Bc * D);
  for (auto& x : p) x = u8(rng);
  for (auto& x : v) x = s8(rng);
  // The pack kernel's V^T tile: row c, slot s holds key vt_key(s).
  std::vector<uint8_t> vt(D * Bc);
  for (int c = 0; c < D; ++c)
    for (int s = 0; s < Bc; ++s) vt[c * Bc + s] = static_cast<uint8_t>(static_cast<int8_t>(v[layout::vt_key(s) * D + c]));
  const std::vector<uint8_t> sv = swizzled<C>(vt, D);
  auto p_at = [&](int l, int n, int e) { return p[(l / 4 + 8 * (e / 2)) * Bc + 8 * n + 2 * (l % 4) + e % 2]; };
  Regs pa[Bc / 32];
  for (int t = 0; t < Bc / 32; ++t)
    for (int l = 0; l < 32; ++l)
      for (int r = 0; r < 4; ++r) {
        pa[t][l][r] = 0;
        for (int b = 0; b < 4; ++b)
          pa[t][l][r] |= static_cast<uint32_t>(p_at(l, layout::p8_ntile(t, r, b), layout::p8_elem(r, b))) << (8 * b);
      }
  for (int c64 = 0; c64 < D / 64; ++c64) {
    int32_t acc[8][32][4] = {};
    for (int t = 0; t < Bc / 32; ++t)
      for (int cp = 0; cp < 4; ++cp) {
        Regs vr;
        int addr[32];
        for (int l = 0; l < 32; ++l)
          addr[l] = layout::swizzle<C>(c64 * 64 + cp * 16 + layout::b_row(l), layout::b_chunk(l, t)) * 16;
        ldsm(sv, addr, false, vr);
        uint32_t b0[32][2], b1[32][2];
        for (int l = 0; l < 32; ++l) {
          b0[l][0] = vr[l][0], b0[l][1] = vr[l][1];
          b1[l][0] = vr[l][2], b1[l][1] = vr[l][3];
        }
        mma_k32(pa[t], b0, true, acc[2 * cp]);
        mma_k32(pa[t], b1, true, acc[2 * cp + 1]);
      }
    for (int n = 0; n < 8; ++n)
      for (int l = 0; l < 32; ++l)
        for (int e = 0; e < 4; ++e) {
          const int row = l / 4 + 8 * (e / 2), ch = c64 * 64 + 8 * n + 2 * (l % 4) + e % 2;
          int32_t want = 0;
          for (int j = 0; j < Bc; ++j) want += p[row * Bc + j] * v[j * D + ch];
          ASSERT_EQ(acc[n][l][e], want) << "D " << D << " row " << row << " channel " << ch;
        }
  }
}

TEST(CudaFragments, Int8PVFromScoreRegistersAndSlotPermutedVt) {
  std::mt19937 rng(13);
  check_pv_int8<64>(rng);
  check_pv_int8<128>(rng);
  check_pv_int8<256>(rng);
}

TEST(CudaFragments, SwizzleSpreadsEveryLdmatrixPhaseOverAllBanks) {
  auto check = [](auto c_tag, int rows) {
    constexpr int C = decltype(c_tag)::value;
    for (int chunk = 0; chunk < C; ++chunk)
      for (int r0 = 0; r0 + 8 <= rows; r0 += 8) {
        int used = 0;
        for (int r = r0; r < r0 + 8; ++r) used |= 1 << (layout::swizzle<C>(r, chunk) % 8);
        EXPECT_EQ(used, 0xff) << "C " << C << " rows " << r0 << " chunk " << chunk;
      }
  };
  check(std::integral_constant<int, 4>{}, 128);
  check(std::integral_constant<int, 8>{}, 128);
  check(std::integral_constant<int, 16>{}, 64);
  check(std::integral_constant<int, 32>{}, 64);
}

// ---------------------------------------------------------------------------------------------
// The GPU (where there is one)
// ---------------------------------------------------------------------------------------------
TEST(CudaDevice, QuickCheckAgainstTheCpuAndFloat64) {
  if (const std::string why = cuda_unsupported(); !why.empty()) GTEST_SKIP() << why;
  char arg0[] = "miniattn-cuda-check", arg1[] = "--quick";
  char* argv[] = {arg0, arg1};
  EXPECT_EQ(check_main(2, argv, stdout), 0);
}

}  // namespace
}  // namespace miniattn::cuda
