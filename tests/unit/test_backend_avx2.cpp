// The shared kernel test bodies on the avx2 backend (skipped with the reason on CPUs without
// AVX2 + FMA), with odd tiles: 1 to 4 lane groups, ragged blocks, key tiles with tails. Then
// what only the avx2 backend claims: its place in the registry, its exp2 forms against the
// scalar ones, and the VNNI dot-product path, run where the CPU has it: AVX-VNNI, or the same
// instructions EVEX-encoded on AVX-512 machines (the path the registry never picks there).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernel_harness.hpp"
#include "kernel_test_params.hpp"
#if MINIATTN_HAVE_AVX2
#include "kernels/avx2/avx2_backend.hpp"
#include "kernels/avx2/avx2_studies.hpp"
#endif
#include "kernels/common/exp2.hpp"
#include "miniattn/cpu_features.hpp"
#include "miniattn/error.hpp"
#include "miniattn/registry.hpp"

namespace miniattn::test {

INSTANTIATE_TEST_SUITE_P(Avx2, BackendKernel,
                         ::testing::Values(BackendParam{"avx2", {{37, 48}, {13, 300}, {100, 20}, {5, 18}}}));

// What follows calls the avx2 library directly: only where it is built (x86).
#if MINIATTN_HAVE_AVX2
namespace {

BackendInfo info_of(const char* name) {
  for (const BackendInfo& i : backend_infos())
    if (i.name == name) return i;
  return {};
}

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

}  // namespace

TEST(Avx2Backend, AutoPrefersAvx512AndAvoidsCpusWithoutAvx2) {
  const BackendInfo info = info_of("avx2");
  ASSERT_EQ(info.name, "avx2") << "no avx2 entry in the registry";
  if (!info.compiled) GTEST_SKIP() << "avx2 not compiled in: " << info.enable;
  EXPECT_EQ(info.priority, 30);
  const CpuFeatures& f = cpu_features();
  EXPECT_EQ(info.supported, f.avx2 && f.fma) << f.summary();
  if (info.supported) {
    EXPECT_EQ(create_backend("avx2")->name(), "avx2");
    if (info_of("avx512").supported) {
      EXPECT_EQ(auto_backend_name(), "avx512");
    } else if (!info_of("cuda").supported) {
      EXPECT_EQ(auto_backend_name(), "avx2");
    }
  } else {
    EXPECT_NE(info.detail.find("lacks"), std::string::npos) << info.detail;
    EXPECT_NE(auto_backend_name(), "avx2");
    EXPECT_THROW(create_backend("avx2"), Error);
  }
}

// The vectorised exp2 forms over the softmax's domain (every 2^-14 of [-126, 0.5]) and the
// special values: fixed is the scalar integer form bit for bit; accurate keeps the scalar form's
// 2-ulp bound and is within 1 ulp of it (bitwise where the scalar form is compiled with FMA;
// this test file is not); fast is within 1 ulp of the scalar table form (two 8-entry lookups
// and a multiply). All give exactly 0 below -125, at -inf and at NaN.
TEST(Avx2Backend, Exp2FormsMatchTheScalarForms) {
  if (!avx2_unsupported(Avx2Dot::Madd16).empty()) GTEST_SKIP() << "avx2: " << avx2_unsupported(Avx2Dot::Madd16);
  const KernelStudies* st = avx2_studies(Avx2Dot::Madd16);
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x = {-inf, nan, -1000.0f, -125.5f, -125.0001f, -125.0f, -0.0f, 0.0f, 1e-7f};
  for (double v = -126.0; v <= 0.5; v += 1.0 / 16384) x.push_back(static_cast<float>(v));
  std::vector<float> y(x.size());
  const int64_t n = static_cast<int64_t>(x.size());
  auto outside = [](float v) { return !(v >= exp2::kExp2Floor); };

  st->exp2_row(Exp2Kind::Fixed, x.data(), y.data(), n);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float want = std::isnan(x[i]) ? 0.0f : exp2::exp2_fixed(x[i]);
    ASSERT_EQ(bits(y[i]), bits(want)) << "fixed, x = " << x[i];
  }

  st->exp2_row(Exp2Kind::Accurate, x.data(), y.data(), n);
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (outside(x[i])) {
      ASSERT_EQ(bits(y[i]), 0u) << "accurate, x = " << x[i];
      continue;
    }
    // x > 0 (rounding residue of s - m) is clamped to 0 like the scalar form: P <= 1.
    const double exact = std::exp2(std::min(static_cast<double>(x[i]), 0.0));
    ASSERT_LE(std::fabs(y[i] - exact), 2.4e-7 * exact) << "accurate, x = " << x[i];
    const int64_t ulps = static_cast<int64_t>(bits(y[i])) - static_cast<int64_t>(bits(exp2::exp2_accurate(x[i])));
    ASSERT_LE(std::abs(ulps), 1) << "accurate, x = " << x[i];
  }

  st->exp2_row(Exp2Kind::Fast, x.data(), y.data(), n);
  int differ = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (outside(x[i])) {
      ASSERT_EQ(bits(y[i]), 0u) << "fast, x = " << x[i];
      continue;
    }
    if (x[i] > 0.0f) {  // rounding residue only: clamped to 0, P = 1
      ASSERT_EQ(y[i], 1.0f) << "fast, x = " << x[i];
      continue;
    }
    const uint32_t want = bits(exp2::exp2_fast(x[i]));
    const int64_t ulps = static_cast<int64_t>(bits(y[i])) - static_cast<int64_t>(want);
    ASSERT_LE(std::abs(ulps), 1) << "fast, x = " << x[i];
    differ += ulps != 0;
  }
  std::printf("  avx2 exp2 fast: %d of %zu values 1 ulp from the 64-entry table\n", differ, x.size());
  EXPECT_GT(differ, 0);  // it really is the two-level lookup
}

// The VNNI path (Q + 128 with column-sum corrections, vpdpbusd; vpdpwssd for the int8 P.V)
// against the vpmaddwd path: the int32 scores and every sum after them are exact in both, so
// the outputs must agree bit for bit, for every variant, P.V precision and exp2 form.
TEST(Avx2Backend, VnniPathEqualsTheVpmaddwdPathBitForBit) {
  if (!avx2_unsupported(Avx2Dot::Madd16).empty()) GTEST_SKIP() << "avx2: " << avx2_unsupported(Avx2Dot::Madd16);
  std::vector<Avx2Dot> vnni;
  for (Avx2Dot dot : {Avx2Dot::AvxVnni, Avx2Dot::Avx512Vnni})
    if (avx2_unsupported(dot).empty()) vnni.push_back(dot);
  if (vnni.empty()) GTEST_SKIP() << "this CPU has neither AVX-VNNI nor AVX512-VNNI + VL";
  SCOPED_TRACE(seed_note());
  const auto madd = make_avx2_backend(Avx2Dot::Madd16);
  const auto portable = create_backend("portable");
  const std::vector<std::pair<ProblemShape, TileShape>> cases = {
      {{1, 2, 1, 77, 133, 64, false, 0.0}, {64, 128}},   // GQA, tails in both lengths
      {{2, 2, 1, 130, 97, 80, true, 0.0}, {37, 48}},     // causal, Lq > Lk, D = 80, ragged blocks
      {{1, 1, 1, 40, 300, 256, true, 0.0}, {13, 20}},    // causal, Lq < Lk, D = 256
  };
  for (Avx2Dot dot : vnni) {
    SCOPED_TRACE(to_string(dot));
    const auto be = make_avx2_backend(dot);
    for (const auto& [s, t] : cases)
      for (PvPrecision pv : {PvPrecision::Fp32, PvPrecision::Bf16, PvPrecision::Int8})
        for (QkScales qs : {QkScales::PerToken, QkScales::PerBlock}) {
          Problem pr = make_problem(s, Variant::Fused, pv, Exp2Kind::Accurate, qs, true, t, test_seed());
          ASSERT_EQ(be->check(pr.p), "");
          const int64_t row0 = (s.lq - 1) / t.q * t.q;
          const int rows = static_cast<int>(s.lq - row0);
          ASSERT_EQ(tile_scores(*be, pr, s.batch - 1, s.heads - 1, row0, rows),
                    tile_scores(*portable, pr, s.batch - 1, s.heads - 1, row0, rows))
              << describe(s);
          for (Variant v : {Variant::Fused, Variant::TwoPass, Variant::Unfused})
            for (Exp2Kind e : {Exp2Kind::Accurate, Exp2Kind::Fast, Exp2Kind::Fixed}) {
              pr.p.variant = v;
              pr.p.exp2 = e;
              const Output a = run_backend(*be, pr, 2), b = run_backend(*madd, pr, 2);
              ASSERT_EQ(a.o, b.o) << describe(s) << " " << to_string(v) << "/" << to_string(pv) << "/" << to_string(e);
              ASSERT_EQ(a.lse, b.lse) << describe(s);
            }
        }
  }
}

#endif  // MINIATTN_HAVE_AVX2

}  // namespace miniattn::test
