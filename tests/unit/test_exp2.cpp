// The three exp2 forms against the exact 2^x, each held to its measured error bound over the
// whole domain the softmax uses (x in [-125, 0]).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include "kernels/common/exp2.hpp"

namespace miniattn {
namespace {

struct Sweep {
  double max_rel = 0.0;     // max |approx / exact - 1|
  double max_excess = 0.0;  // max of |approx - exact| - rel_bound * exact (fixed form)
};

// Dense sweep: every float step of 2^-14 over [-125, 0] (about 2 million points) plus the
// neighbourhood of every integer, where rounding of n switches.
template <class F>
Sweep sweep(F f, double rel_bound = 0.0) {
  Sweep s;
  auto one = [&](float x) {
    const double exact = std::exp2(static_cast<double>(x));
    const double got = f(x);
    s.max_rel = std::max(s.max_rel, std::fabs(got / exact - 1.0));
    s.max_excess = std::max(s.max_excess, std::fabs(got - exact) - rel_bound * exact);
  };
  for (double x = -125.0; x <= 0.0; x += 1.0 / 16384) one(static_cast<float>(x));
  for (int n = -125; n <= 0; ++n)
    for (float x = std::max(n - 0.5f, -125.0f); x <= n + 0.5f && x <= 0.0f; x += 0.001f) one(x);
  return s;
}

TEST(Exp2, AccurateWithinTwoUlp) {
  const Sweep s = sweep(exp2::exp2_accurate);
  std::printf("  exp2 accurate: max relative error %.3e\n", s.max_rel);
  // Polynomial error 9.1e-8 plus float rounding of the Horner steps: under 2 ulp (2.4e-7).
  EXPECT_LE(s.max_rel, 2.4e-7);
}

TEST(Exp2, FastWithinTableStep) {
  const Sweep s = sweep(exp2::exp2_fast);
  std::printf("  exp2 fast: max relative error %.3e\n", s.max_rel);
  // Rounding x to 1/64: |error| <= 2^(1/128) - 1 = 5.43e-3, plus the table's float rounding.
  EXPECT_LE(s.max_rel, 5.43e-3 + 1e-7);
  EXPECT_GE(s.max_rel, 4e-3);  // it really is the table form, not an accurate one
}

TEST(Exp2, FixedWithinRelativeAndAbsoluteBound) {
  // Relative: the quadratic mantissa (2.06e-3) and the Q8.8 input rounding (2^(1/512) - 1 =
  // 1.35e-3); absolute: the Q16.16 output step 2^-16 (truncation).
  const double rel = 2.06e-3 + 1.36e-3;
  const Sweep s = sweep(exp2::exp2_fixed, rel);
  std::printf("  exp2 fixed: excess over %.2e relative: %.3e (bound 2^-16 = %.3e)\n", rel,
              s.max_excess, std::ldexp(1.0, -16));
  EXPECT_LE(s.max_excess, std::ldexp(1.0, -16));
  // On [-1, 0] the output is >= 1/2, so truncation to 2^-16 costs at most 2^-15 relative.
  double worst = 0.0;
  for (float x = -1.0f; x <= 0.0f; x += 1e-4f)
    worst = std::max(worst, std::fabs(exp2::exp2_fixed(x) / std::exp2(static_cast<double>(x)) - 1.0));
  std::printf("  exp2 fixed on [-1, 0]: max relative error %.3e\n", worst);
  EXPECT_LE(worst, rel + std::ldexp(1.0, -15));
}

TEST(Exp2, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  for (auto f : {exp2::exp2_accurate, exp2::exp2_fast, exp2::exp2_fixed}) {
    EXPECT_EQ(f(0.0f), 1.0f);
    EXPECT_EQ(f(1e-6f), 1.0f);  // rounding residue above the maximum clamps to 2^0
    EXPECT_EQ(f(-inf), 0.0f);   // masked scores
    EXPECT_EQ(f(-125.5f), 0.0f);
    EXPECT_EQ(f(-1000.0f), 0.0f);
    EXPECT_EQ(f(-1.0f), 0.5f);
  }
  EXPECT_GT(exp2::exp2_accurate(-125.0f), 0.0f);  // the floor itself is kept
  EXPECT_GT(exp2::exp2_fast(-125.0f), 0.0f);
  EXPECT_EQ(exp2::exp2_fixed_q16(0.0f), 65536);
  EXPECT_EQ(exp2::exp2_fixed_q16(-1.0f), 32768);
  EXPECT_EQ(exp2::exp2_fixed_q16(-17.0f), 0);
  EXPECT_EQ(exp2::exp2_fast(-0.5f), std::exp2f(-0.5f));  // an exact table point (i = 32)
}

TEST(Exp2, NonNormalResultsNeverOccur) {
  // Every non-zero result is a normal float, so P never enters the slow denormal range.
  for (auto f : {exp2::exp2_accurate, exp2::exp2_fast, exp2::exp2_fixed})
    for (float x = -126.0f; x <= -120.0f; x += 1.0f / 1024) {
      const float y = f(x);
      EXPECT_TRUE(y == 0.0f || std::isnormal(y)) << x;
    }
}

}  // namespace
}  // namespace miniattn
