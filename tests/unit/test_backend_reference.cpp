// The float64 reference backend through the kernel interface equals reference_rows, the
// function verification uses; and it needs no quantised operands.
#include <gtest/gtest.h>

#include <cmath>

#include "kernel_harness.hpp"
#include "miniattn/registry.hpp"

namespace miniattn::test {

TEST(ReferenceBackend, AttendMatchesReferenceRows) {
  SCOPED_TRACE(seed_note());
  const auto be = create_backend("reference");
  EXPECT_FALSE(be->quantized());
  for (const ProblemShape s : {ProblemShape{1, 2, 1, 70, 90, 64, true, 0.0},
                               ProblemShape{2, 2, 2, 33, 20, 32, false, 0.3}}) {
    const Problem pr = make_problem(s, Variant::Fused, PvPrecision::Fp32, Exp2Kind::Accurate,
                                    QkScales::PerToken, false, be->default_tiles(s.d, PvPrecision::Fp32),
                                    test_seed());
    const RefOutput want = reference(pr);
    for (int split : {1, 3}) {
      const Output got = run_backend(*be, pr, split);
      const ErrorStats st = compare(got.o, want.o);
      // Only the float32 row state and output rounding separate the two.
      EXPECT_LE(st.rel_l2, 1e-6) << describe(s) << " split " << split;
      EXPECT_LE(lse_max_abs(got.lse, want.lse), 1e-5) << describe(s) << " split " << split;
    }
  }
}

TEST(ReferenceBackend, KnownValues) {
  // One query, two keys with scores 0 and ln 3 (scale 1): weights 1/4 and 3/4.
  AttnParams p = make_attn_params({1, 1, 1, 1, 2, 16, false, 1.0}, Variant::Fused,
                                  PvPrecision::Fp32, Exp2Kind::Accurate, QkScales::PerToken,
                                  false, {1, 2});
  std::vector<float> q(16, 0.0f), k(32, 0.0f), v(32, 0.0f);
  q[0] = 1.0f;
  k[16] = static_cast<float>(std::log(3.0));
  for (int c = 0; c < 16; ++c) {
    v[c] = 1.0f;
    v[16 + c] = 5.0f;
  }
  const int64_t row = 0;
  std::vector<double> o(16), lse(1);
  reference_rows(p, q.data(), &row, 1, k.data(), v.data(), 2, o.data(), lse.data());
  for (double x : o) EXPECT_NEAR(x, 0.25 * 1 + 0.75 * 5, 1e-7);
  EXPECT_NEAR(lse[0], std::log(1.0 + 3.0), 1e-7);
}

}  // namespace miniattn::test
