// The shared kernel test bodies on the kokkos backend's attend() (its team body on the calling
// thread), with odd tiles; "unfused" is declared rejected. Then what only the kokkos backend
// claims: its device-callable numerics equal the common scalar forms bit for bit; its executor
// (the TeamPolicy kernel on Kokkos' default execution space) gives what attend() gives, over rank
// slices; attend() runs inside a Kokkos parallel region; its registry entry and its refusals.
// Skipped, saying why, where the backend is not built (the stand-alone kernel build has no Kokkos).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernel_harness.hpp"
#include "kernel_test_params.hpp"
#include "miniattn/registry.hpp"

#if MINIATTN_HAVE_KOKKOS_BACKEND
#include <Kokkos_Core.hpp>

#include "kernels/common/exp2.hpp"
#include "kernels/common/quantize.hpp"
#include "kernels/kokkos/kokkos_backend.hpp"
#include "kernels/kokkos/kokkos_math.hpp"
#include "miniattn/error.hpp"
#endif

namespace miniattn::test {

INSTANTIATE_TEST_SUITE_P(Kokkos, BackendKernel,
                         ::testing::Values(BackendParam{"kokkos",
                                                        {{37, 48}, {13, 300}, {100, 20}, {5, 18}},
                                                        {Variant::Unfused}}));

#if MINIATTN_HAVE_KOKKOS_BACKEND
namespace {

constexpr bool kKernelOnHost = std::is_same<Kokkos::DefaultExecutionSpace::memory_space, Kokkos::HostSpace>::value;

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

BackendInfo info_of(const char* name) {
  for (const BackendInfo& i : backend_infos())
    if (i.name == name) return i;
  return {};
}

}  // namespace

// The device-callable twins (kokkos_math.hpp) against the common forms on the softmax's domain
// (every 2^-12 of [-127, 0.5]) and the values around it, bit for bit: exp2 of each form, the u8
// probability of the int8 P.V, and bf16 rounding.
TEST(KokkosBackend, DeviceNumericsEqualTheCommonFormsBitForBit) {
  // No NaN: the scalar forms convert x to int (undefined for NaN); scores are never NaN.
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {-inf, -1000.0f, -125.5f, -125.0001f, -125.0f, -0.0f, 0.0f, 1e-7f, 3.0f};
  for (double v = -127.0; v <= 0.5; v += 1.0 / 4096) x.push_back(static_cast<float>(v));
  for (float v : x) {
    ASSERT_EQ(bits(kk::exp2_accurate(v)), bits(exp2::exp2_accurate(v))) << "accurate, x = " << v;
    ASSERT_EQ(bits(kk::exp2_fast(v, exp2::kFexpaMantissa)), bits(exp2::exp2_fast(v))) << "fast, x = " << v;
    ASSERT_EQ(kk::exp2_fixed_q16(v), exp2::exp2_fixed_q16(v)) << "fixed, x = " << v;
    ASSERT_EQ(bits(kk::exp2_of<Exp2Kind::Fixed>(v, exp2::kFexpaMantissa)), bits(exp2::exp2_fixed(v))) << v;
    ASSERT_EQ(kk::prob_u8<Exp2Kind::Accurate>(v, exp2::kFexpaMantissa),
              static_cast<uint8_t>(exp2::round_nearest(255.0f * exp2::exp2_accurate(v))))
        << v;
    ASSERT_EQ(kk::prob_u8<Exp2Kind::Fast>(v, exp2::kFexpaMantissa),
              static_cast<uint8_t>(exp2::round_nearest(255.0f * exp2::exp2_fast(v))))
        << v;
    ASSERT_EQ(kk::prob_u8<Exp2Kind::Fixed>(v, exp2::kFexpaMantissa),
              static_cast<uint8_t>((exp2::exp2_fixed_q16(v) * 255 + 32768) >> 16))
        << v;
    if (std::isfinite(v)) {
      const float y = std::ldexp(v, 7) + 0.3f;  // bf16 ties and carries at many exponents
      ASSERT_EQ(bits(kk::bf16_round(y)), bits(quant::bf16_to_float(quant::float_to_bf16(y)))) << y;
      ASSERT_EQ(bits(kk::madd(v, 1.5f, 0.25f)), bits(exp2::madd(v, 1.5f, 0.25f))) << v;
    }
  }
}

TEST(KokkosBackend, RegistryListsItAndAutoNeverPicksItOnTheHost) {
  const BackendInfo info = info_of("kokkos");
  ASSERT_EQ(info.name, "kokkos") << "no kokkos entry in the registry";
  ASSERT_TRUE(info.compiled && info.supported) << info.detail;
  EXPECT_NE(info.detail.find(kokkos_execution_space_name()), std::string::npos) << info.detail;
  EXPECT_EQ(create_backend("kokkos")->name(), "kokkos");
  if (kKernelOnHost) {
    EXPECT_EQ(info.priority, 5);
    EXPECT_NE(auto_backend_name(), "kokkos");
  } else {
    EXPECT_EQ(info.priority, 45);
  }
}

// The executor's kernel (a TeamPolicy over the rank's work items, the K/V tile in team scratch)
// against attend() (the same body on one thread, merged tile by tile by the harness), on the
// slices of two ranks of each problem: the same int8 operands and, on a host space (vector
// length 1, one thread per row), the same operations in the same order, so O and LSE agree bit
// for bit. A device's vector lanes sum in another order: there 1e-5 (float rounding).
TEST(KokkosBackend, ExecutorEqualsAttendOnEveryRankSlice) {
  SCOPED_TRACE(seed_note());
  const auto be = create_backend("kokkos");
  struct Case {
    ProblemShape s;
    TileShape t;
    Variant v;
    PvPrecision pv;
    Exp2Kind e;
    QkScales qs;
  };
  const std::vector<Case> cases = {
      {{1, 2, 1, 77, 133, 64, false, 0.0}, {0, 0}, Variant::Fused, PvPrecision::Fp32, Exp2Kind::Accurate,
       QkScales::PerToken},
      {{2, 4, 2, 130, 97, 64, true, 0.0}, {0, 0}, Variant::TwoPass, PvPrecision::Int8, Exp2Kind::Fixed,
       QkScales::PerBlock},
      {{1, 3, 3, 65, 200, 128, true, 0.0}, {37, 48}, Variant::Fused, PvPrecision::Bf16, Exp2Kind::Fast,
       QkScales::PerToken},
      {{1, 4, 1, 50, 81, 80, true, 0.0}, {13, 20}, Variant::Fused, PvPrecision::Int8, Exp2Kind::Accurate,
       QkScales::PerToken},
      {{1, 2, 1, 33, 70, 256, false, 0.0}, {0, 0}, Variant::TwoPass, PvPrecision::Fp32, Exp2Kind::Fast,
       QkScales::PerBlock},
  };
  for (const Case& c : cases) {
    const TileShape t = c.t.q > 0 ? c.t : be->default_tiles(c.s.d, c.pv);
    const Problem pr = make_problem(c.s, c.v, c.pv, c.e, c.qs, true, t, test_seed());
    ASSERT_EQ(be->check(pr.p), "");
    const Output want = run_backend(*be, pr);
    const AttnParams& p = pr.p;
    Output got;
    got.o.assign(want.o.size(), -1.0f);
    got.lse.assign(want.lse.size(), -1.0f);
    const Decomposition dec(p, 2);
    for (int rank = 0; rank < 2; ++rank) {
      RankSlice slice = replicated_slice(p, dec, rank);
      slice.q = pr.q.data() + slice.rows.begin * p.d;
      slice.k = pr.k.data() + slice.groups.begin * p.lk * p.d;
      slice.v = pr.v.data() + slice.groups.begin * p.lk * p.d;
      slice.o = got.o.data() + slice.rows.begin * p.d;
      slice.lse = got.lse.data() + slice.rows.begin;
      const auto exec = be->make_executor(p, dec, slice, Kokkos::DefaultHostExecutionSpace().concurrency());
      ASSERT_TRUE(exec);
      PhaseSeconds ph;
      exec->run(ph);
      exec->run(ph);  // a second run starts from fresh row states
      EXPECT_GT(ph[Phase::Quantize], 0.0);
    }
    const std::string what = describe(c.s) + " " + std::string(to_string(c.v)) + "/" +
                             std::string(to_string(c.pv)) + "/" + std::string(to_string(c.e));
    if (kKernelOnHost) {
      ASSERT_EQ(got.o, want.o) << what;
      ASSERT_EQ(got.lse.size(), want.lse.size());
      for (std::size_t i = 0; i < got.lse.size(); ++i)
        ASSERT_EQ(bits(got.lse[i]), bits(want.lse[i])) << what << " row " << i;
    } else {
      EXPECT_LE(compare(got.o, std::vector<double>(want.o.begin(), want.o.end())).rel_l2, 1e-5) << what;
      EXPECT_LE(lse_max_abs(got.lse, std::vector<double>(want.lse.begin(), want.lse.end())), 1e-5) << what;
    }
  }
}

// attend() dispatches no Kokkos kernel: it runs inside a Kokkos parallel region (where the CPU
// and ring executors call it from many threads at once) and gives what it gives alone.
TEST(KokkosBackend, AttendRunsInsideAParallelRegion) {
  SCOPED_TRACE(seed_note());
  const auto be = create_backend("kokkos");
  const ProblemShape s{1, 2, 1, 130, 97, 64, true, 0.0};
  const Problem pr = make_problem(s, Variant::Fused, PvPrecision::Int8, Exp2Kind::Accurate, QkScales::PerToken,
                                  true, be->default_tiles(s.d, PvPrecision::Int8), test_seed());
  const Output alone = run_backend(*be, pr, 3);
  std::vector<Output> outs(4);
  Kokkos::parallel_for(
      "miniattn::test::attend_in_parallel", Kokkos::RangePolicy<Kokkos::DefaultHostExecutionSpace>(0, 4),
      [&](int i) { outs[i] = run_backend(*be, pr, 3); });
  Kokkos::fence();
  for (const Output& o : outs) EXPECT_EQ(o.o, alone.o);
}

TEST(KokkosBackend, RefusesWhatItCannotRun) {
  const auto be = create_backend("kokkos");
  const ProblemShape s{1, 1, 1, 64, 64, 256, false, 0.0};
  // Team scratch beyond the execution space's level-1 limit (20 MiB on the host spaces).
  const AttnParams huge =
      make_attn_params(s, Variant::Fused, PvPrecision::Fp32, Exp2Kind::Accurate, QkScales::PerToken, true, {4096, 4096});
  const std::string why = be->check(huge);
  EXPECT_NE(why.find("tile_q or tile_kv"), std::string::npos) << why;

  // Its kernel runs on Kokkos' threads: a run that asks for another count is refused, naming the
  // setting to change.
  const AttnParams p = make_attn_params(s, Variant::Fused, PvPrecision::Fp32, Exp2Kind::Accurate,
                                        QkScales::PerToken, true, be->default_tiles(s.d, PvPrecision::Fp32));
  const Decomposition dec(p, 1);
  const RankSlice slice = replicated_slice(p, dec, 0);
  const int have = Kokkos::DefaultHostExecutionSpace().concurrency();
  try {
    be->make_executor(p, dec, slice, have + 1);
    ADD_FAILURE() << "an executor for " << have + 1 << " threads on " << have;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::BadInput);
    EXPECT_NE(std::string(e.what()).find("OMP_NUM_THREADS=" + std::to_string(have + 1)), std::string::npos)
        << e.what();
  }
}

#endif  // MINIATTN_HAVE_KOKKOS_BACKEND

}  // namespace miniattn::test
