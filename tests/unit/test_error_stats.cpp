#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "miniattn/verify.hpp"

namespace miniattn {
namespace {

TEST(ErrorStats, IdenticalPasses) {
  const std::vector<float> o{1, -2, 3, 0.5f};
  const std::vector<double> r{1, -2, 3, 0.5};
  ErrorAccum a;
  a.add(o.data(), r.data(), 4, 2);
  const ErrorStats s = a.finish(0.0, 1.0);
  EXPECT_EQ(s.max_abs, 0.0);
  EXPECT_EQ(s.rel_l1, 0.0);
  EXPECT_EQ(s.rel_l2, 0.0);
  EXPECT_NEAR(s.cosine, 1.0, 1e-15);
  EXPECT_EQ(s.rows_checked, 2);
  EXPECT_TRUE(s.passed);
}

TEST(ErrorStats, KnownValues) {
  const std::vector<float> o{1, 1};
  const std::vector<double> r{1, 0};
  ErrorAccum a;
  a.add(o.data(), r.data(), 2);
  const ErrorStats s = a.finish(0.5, 0.5);
  EXPECT_EQ(s.max_abs, 1.0);
  EXPECT_EQ(s.rel_l1, 1.0);
  EXPECT_EQ(s.rel_l2, 1.0);
  EXPECT_NEAR(s.cosine, 1.0 / std::sqrt(2.0), 1e-15);
  EXPECT_FALSE(s.passed);  // rel_l2 1 > 0.5
  EXPECT_TRUE(a.finish(1.0, 0.7).passed);
}

TEST(ErrorStats, NaNNeverPasses) {
  const std::vector<float> o{1, std::numeric_limits<float>::quiet_NaN()};
  const std::vector<double> r{1, 1};
  ErrorAccum a;
  a.add(o.data(), r.data(), 2);
  const ErrorStats s = a.finish(1e9, -1.0);
  EXPECT_EQ(s.nonfinite, 1);
  EXPECT_FALSE(s.passed);
  EXPECT_TRUE(std::isnan(s.rel_l2));
}

TEST(ErrorStats, PartialSumsMerge) {
  const std::vector<float> o{1, 2, 3, 4};
  const std::vector<double> r{1.5, 2, 2, 4};
  ErrorAccum whole, a, b;
  whole.add(o.data(), r.data(), 4);
  a.add(o.data(), r.data(), 2);
  b.add(o.data() + 2, r.data() + 2, 2);
  a.merge(b);
  const ErrorStats x = whole.finish(1, 0), y = a.finish(1, 0);
  EXPECT_DOUBLE_EQ(x.rel_l2, y.rel_l2);
  EXPECT_DOUBLE_EQ(x.cosine, y.cosine);
  EXPECT_EQ(x.max_abs, y.max_abs);
}

TEST(ErrorStats, SampledRowsIncludeBothEnds) {
  const std::vector<int64_t> s = sampled_rows(1000, 7);
  ASSERT_EQ(s.size(), 7u);
  EXPECT_EQ(s.front(), 0);
  EXPECT_EQ(s.back(), 999);
  EXPECT_EQ(sampled_rows(5, 256).size(), 5u);
  EXPECT_EQ(sampled_rows(10, 1), std::vector<int64_t>{9});
}

}  // namespace
}  // namespace miniattn
