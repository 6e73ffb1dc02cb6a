// Numerical edge cases, for every backend (BackendKernel bodies) and for the shared pieces:
//  * int32 scores at their extremes (D = 1024, every q8 and k8 at +-127) are exact;
//  * scores as large as the driver's input check lets through (kMaxScaledScore) give the
//    exact softmax (P exactly 1 or 0), never Inf or NaN, in every variant and exp2 form;
//  * int8 P.V sums at their bound (the deck's largest tile_kv, every u8 P = 255, v8 = 127);
//  * subnormal rows quantise without overflowing 127 / amax; scale = 0 means 1/sqrt(D).
// The bounds these tests reach are proved in docs/numerics.md.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernel_harness.hpp"
#include "kernel_test_params.hpp"
#include "kernels/common/quantize.hpp"
#include "miniattn/error.hpp"

namespace miniattn::test {
namespace {

constexpr int kMaxHeadDim = 1024;  // the deck's largest head_dim
constexpr int kMaxTileKv = 4096;   // the deck's largest tile_kv

// The proof's numbers (docs/numerics.md), at compile time.
constexpr int64_t kMaxScore = int64_t{127} * 127 * kMaxHeadDim;                  // |q8 . k8|
constexpr int64_t kMaxU8Score = int64_t{255} * 127 * kMaxHeadDim;                // |(q8+128) . k8|
constexpr int64_t kMaxU8Correction = int64_t{128} * 127 * kMaxHeadDim;           // 128 * sum k8
constexpr int64_t kMaxPv = int64_t{255} * 127 * kMaxTileKv;                      // u8 P . s8 V
static_assert(kMaxScore < (int64_t{1} << 24), "int32 scores convert to float exactly");
static_assert(kMaxU8Score + kMaxU8Correction < (int64_t{1} << 31) - 1, "u8 form fits int32");
static_assert(kMaxPv < (int64_t{1} << 31) - 1, "int8 P.V sums fit int32");

// Sign patterns of a row of D values: all +1, all -1, alternating +-, alternating -+.
float sign_of(int pattern, int c) {
  switch (pattern) {
    case 0: return 1.0f;
    case 1: return -1.0f;
    case 2: return c % 2 ? -1.0f : 1.0f;
    default: return c % 2 ? 1.0f : -1.0f;
  }
}
int64_t pattern_dot(int a, int b, int d) {
  int64_t s = 0;
  for (int c = 0; c < d; ++c) s += static_cast<int64_t>(sign_of(a, c) * sign_of(b, c));
  return s;
}

}  // namespace

TEST_P(BackendKernel, Int32ScoresAtTheExtremesAreExact) {
  const ProblemShape s{1, 1, 1, 4, 4, kMaxHeadDim, false, 0.0};
  for (double c : {1e-30, 3.0, 65504.0, 1e30})
    for (QkScales qs : {QkScales::PerToken, QkScales::PerBlock}) {
      Problem pr = problem(s, Variant::Fused, PvPrecision::Fp32, Exp2Kind::Accurate, qs, false,
                           be_->default_tiles(s.d, PvPrecision::Fp32));
      for (int r = 0; r < 4; ++r)
        for (int x = 0; x < s.d; ++x) {
          pr.q[r * s.d + x] = static_cast<float>(c) * sign_of(r, x);
          pr.k[r * s.d + x] = static_cast<float>(c) * sign_of(r, x);
        }
      const std::vector<int32_t> got = tile_scores(*be_, pr, 0, 0, 0, 4);
      ASSERT_EQ(got.size(), 16u) << GetParam().name << " gives no int8 scores";
      for (int r = 0; r < 4; ++r)
        for (int k = 0; k < 4; ++k)
          EXPECT_EQ(got[r * 4 + k], 127 * 127 * pattern_dot(r, k, s.d))
              << "c=" << c << " row " << r << " key " << k << " " << to_string(qs);
      EXPECT_EQ(got[0], kMaxScore);
      EXPECT_EQ(got[1], -kMaxScore);
    }
}

TEST_P(BackendKernel, ScoresAtTheMagnitudeLimitGiveTheExactSoftmax) {
  // Three query rows against 99 keys in three kinds; each row's score is +X against one kind,
  // -X or 0 against the others, X the largest scaled score the input check admits. P is then
  // exactly 1 on the winning kind and exactly 0 elsewhere: O is the mean of the winners' V
  // rows and LSE = X ln 2 + ln 33, whatever the exp2 form.
  constexpr int kKeys = 99, kRows = 3;
  const ProblemShape s{1, 1, 1, kRows, kKeys, kMaxHeadDim, false, 0.0};
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.d));
  // max_scaled_score(p, c, c) == kMaxScaledScore.
  const double c = std::sqrt(kMaxScaledScore / (2.0 * s.d * scale * 1.4426950408889634));
  const int key_pattern[3] = {0, 1, 2};  // +u, -u, w
  const int row_pattern[kRows] = {0, 1, 2};
  for (bool smooth : {false, true})
    for (PvPrecision pv : {PvPrecision::Fp32, PvPrecision::Bf16, PvPrecision::Int8}) {
      const TileShape t = be_->default_tiles(s.d, pv);
      Problem pr = problem(s, Variant::Fused, pv, Exp2Kind::Accurate, QkScales::PerToken, smooth, t);
      ASSERT_NEAR(max_scaled_score(pr.p, c, c) / kMaxScaledScore, 1.0, 1e-6);
      for (int r = 0; r < kRows; ++r)
        for (int x = 0; x < s.d; ++x) pr.q[r * s.d + x] = static_cast<float>(c) * sign_of(row_pattern[r], x);
      for (int j = 0; j < kKeys; ++j)
        for (int x = 0; x < s.d; ++x) pr.k[j * s.d + x] = static_cast<float>(c) * sign_of(key_pattern[j % 3], x);
      std::vector<double> want(static_cast<std::size_t>(kRows) * s.d, 0.0);
      for (int r = 0; r < kRows; ++r)
        for (int j = r; j < kKeys; j += 3)
          for (int x = 0; x < s.d; ++x) want[r * s.d + x] += pr.v[j * s.d + x] / (kKeys / 3.0);
      // V as the P.V sees it: bf16 rounds each value (2^-9), int8 to 1/254 of a channel's range.
      const double tol = pv == PvPrecision::Fp32 ? 1e-5 : pv == PvPrecision::Bf16 ? 4e-3 : 8e-3;
      for (Variant v : {Variant::Fused, Variant::TwoPass, Variant::Unfused})
        for (Exp2Kind e : {Exp2Kind::Accurate, Exp2Kind::Fast, Exp2Kind::Fixed}) {
          if (!offers(v)) continue;
          pr.p.variant = v;
          pr.p.exp2 = e;
          const Output out = run_backend(*be_, pr);
          const ErrorStats st = compare(out.o, want);
          SCOPED_TRACE(::testing::Message() << "c=" << c << " smooth " << smooth << " pv "
                                            << to_string(pv) << " " << to_string(v) << " exp2 "
                                            << to_string(e));
          EXPECT_EQ(st.nonfinite, 0);
          EXPECT_LE(st.rel_l2, tol);
          for (int r = 0; r < kRows; ++r) {
            ASSERT_TRUE(std::isfinite(out.lse[r])) << "row " << r;
            // Score +X in natural-log units: X = D c^2 scale (each q8.k8 = D 127^2 exactly).
            const double lse = s.d * c * c * scale + std::log(kKeys / 3.0);
            if (!smooth) {
              EXPECT_NEAR(out.lse[r] / lse, 1.0, 1e-5) << "row " << r;
            }
          }
        }
    }
}

TEST_P(BackendKernel, Int8PvSumsAtTheirBoundAreExact) {
  // Every score equal (Q = 0), so every u8 P is 255; V constant, so every v8 is 127: one
  // K/V tile of the deck's largest tile_kv sums 255 * 127 * 4096 per channel in int32.
  const ProblemShape s{1, 1, 1, 2, kMaxTileKv, 32, false, 0.0};
  const TileShape t{be_->default_tiles(s.d, PvPrecision::Int8).q, kMaxTileKv};
  for (Variant v : {Variant::Fused, Variant::TwoPass, Variant::Unfused}) {
    if (!offers(v)) continue;
    const AttnParams check = make_attn_params(s, v, PvPrecision::Int8, Exp2Kind::Accurate,
                                              QkScales::PerToken, true, t);
    if (!be_->check(check).empty()) GTEST_SKIP() << be_->check(check);
    Problem pr = problem(s, v, PvPrecision::Int8, Exp2Kind::Accurate, QkScales::PerToken, true, t);
    std::fill(pr.q.begin(), pr.q.end(), 0.0f);
    for (std::size_t i = 0; i < pr.v.size(); ++i) pr.v[i] = 0.75f + static_cast<float>(i % s.d);
    const Output out = run_backend(*be_, pr);
    for (int r = 0; r < s.lq; ++r)
      for (int x = 0; x < s.d; ++x)
        ASSERT_NEAR(out.o[r * s.d + x], 0.75 + x, 1e-5 * (0.75 + x)) << to_string(v) << " channel " << x;
  }
}

// --- Shared pieces ------------------------------------------------------------------------------

TEST(Numerics, SubnormalRowsQuantiseWithoutOverflow) {
  // amax = 2^-130 (subnormal): 127 / amax overflows float. Exact halves round to even.
  const float a = std::ldexp(1.0f, -130);
  const std::vector<float> x = {a, a / 2, 0.0f, -a, -a / 4, a / 128};
  const std::vector<int8_t> want = {127, 64, 0, -127, -32, 1};
  std::vector<int8_t> q8(x.size());
  float scale = 0.0f;
  quant::quantize_q_tile(QkScales::PerToken, x.data(), 1, static_cast<int>(x.size()), q8.data(), &scale);
  EXPECT_EQ(q8, want);
  EXPECT_EQ(scale, a / 127.0f);
  quant::quantize_k(QkScales::PerBlock, x.data(), 1, static_cast<int>(x.size()), nullptr, q8.data(), &scale);
  EXPECT_EQ(q8, want);

  // V per channel: one column of subnormals next to a normal one.
  const std::vector<float> v = {a, 1.0f, a / 2, -0.5f, -a, 0.25f};
  std::vector<int8_t> v8(v.size());
  std::vector<float> vs(2);
  quant::quantize_v_per_channel(v.data(), 3, 2, v8.data(), vs.data());
  EXPECT_EQ(v8, (std::vector<int8_t>{127, 127, 64, -64, -127, 32}));
}

TEST(Numerics, QuantisedValuesNeverReachMinus128) {
  // The symmetric range [-127, 127] is what the int32 bounds assume (and what keeps
  // 255 * q8 and 128 * k8 in range for the u8 form).
  const std::vector<float> x = {-FLT_MAX, FLT_MAX, -1.0f, 0.0f, -FLT_MAX / 2};
  std::vector<int8_t> q8(x.size());
  float scale = 0.0f;
  quant::quantize_q_tile(QkScales::PerToken, x.data(), 1, static_cast<int>(x.size()), q8.data(), &scale);
  for (int8_t v : q8) EXPECT_GE(v, -127);
  EXPECT_EQ(q8[0], -127);
  EXPECT_EQ(q8[1], 127);
}

TEST(Numerics, ZeroScaleMeansOneOverSqrtHeadDim) {
  for (int d : {16, 64, 1024}) {
    const AttnParams p = make_attn_params({1, 1, 1, 8, 8, d, false, 0.0}, Variant::Fused,
                                          PvPrecision::Fp32, Exp2Kind::Accurate, QkScales::PerToken,
                                          true, {8, 8});
    EXPECT_DOUBLE_EQ(p.scale, 1.0 / std::sqrt(static_cast<double>(d)));
    EXPECT_FLOAT_EQ(p.scale_log2, static_cast<float>(p.scale * 1.4426950408889634));
  }
}

TEST(Numerics, ScaleOutsideZeroToMaxIsRejected) {
  auto params = [](double scale) {
    return make_attn_params({1, 1, 1, 8, 8, 64, false, scale}, Variant::Fused, PvPrecision::Fp32,
                            Exp2Kind::Accurate, QkScales::PerToken, true, {8, 8});
  };
  EXPECT_EQ(params(kMaxScale).scale, kMaxScale);
  EXPECT_TRUE(std::isfinite(params(kMaxScale).scale_log2));
  for (double bad : {-0.5, kMaxScale * 2, 1e300, std::numeric_limits<double>::infinity(),
                     std::numeric_limits<double>::quiet_NaN()})
    EXPECT_THROW(params(bad), Error) << bad;
}

}  // namespace miniattn::test
