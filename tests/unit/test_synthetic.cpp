// Synthetic data: independent of how rows are split (ranks, threads) and statistically what
// synthetic.hpp promises. Statistical bounds are 5 standard errors of the estimate, so a
// correct generator fails them with probability below 1e-6 per check.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "miniattn/synthetic.hpp"


namespace miniattn {
namespace {

std::vector<float> gen(Distribution dist, uint64_t seed, Tensor t, int64_t heads, int64_t len,
                       int d, int64_t begin, int64_t end) {
  std::vector<float> v(static_cast<std::size_t>(end - begin) * static_cast<std::size_t>(d));
  synthetic_rows(dist, seed, t, heads, len, d, begin, end, v.data());
  return v;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct Moments {
  double mean = 0, var = 0;
};
Moments moments(const float* v, std::size_t n, std::size_t stride = 1) {
  double s = 0, s2 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = v[i * stride];
    s += x;
    s2 += x * x;
  }
  Moments m;
  m.mean = s / static_cast<double>(n);
  m.var = s2 / static_cast<double>(n) - m.mean * m.mean;
  return m;
}

const Distribution kAll[] = {Distribution::Normal, Distribution::Outliers, Distribution::KBias};
const Tensor kTensors[] = {Tensor::Q, Tensor::K, Tensor::V};

TEST(Synthetic, SameValuesForAnyRowSplit) {
  // Odd d: pairs of normals straddle rows; len not a multiple of anything in the splits.
  for (int d : {5, 64}) {
    const int64_t heads = 3, len = 37, rows = 2 * heads * len;
    for (Distribution dist : kAll) {
      for (Tensor t : kTensors) {
        const std::vector<float> whole = gen(dist, 7, t, heads, len, d, 0, rows);
        for (int64_t parts : {2, 3, 7, 64}) {
          std::vector<float> pieced;
          for (int64_t p = 0; p < parts; ++p) {
            const int64_t b = rows * p / parts, e = rows * (p + 1) / parts;
            const std::vector<float> piece = gen(dist, 7, t, heads, len, d, b, e);
            pieced.insert(pieced.end(), piece.begin(), piece.end());
          }
          ASSERT_TRUE(bitwise_equal(whole, pieced))
              << "d " << d << " distribution " << static_cast<int>(dist) << " tensor "
              << static_cast<int>(t) << " parts " << parts;
        }
      }
    }
  }
}

TEST(Synthetic, RepeatableAndPinned) {
  // Values of seed 42 pinned so that a change of the generator (which would make old input
  // files disagree with synthetic runs) is noticed.
  const std::vector<float> a = gen(Distribution::Normal, 42, Tensor::Q, 8, 16, 4, 0, 2);
  EXPECT_TRUE(bitwise_equal(a, gen(Distribution::Normal, 42, Tensor::Q, 8, 16, 4, 0, 2)));
  const float pinned[] = {0.387715399f, -1.68885469f, -1.97274899f, -0.937101007f,
                          0.54162997f,  0.481304437f, 0.966285467f, -0.817516804f};
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], pinned[i], 1e-6f) << i;
}

TEST(Synthetic, NormalMomentsAndTails) {
  const int64_t n = int64_t{1} << 20;  // 8192 rows x 128
  for (Tensor t : kTensors) {
    const std::vector<float> v = gen(Distribution::Normal, 3, t, 1, 8192, 128, 0, 8192);
    const Moments m = moments(v.data(), v.size());
    EXPECT_LT(std::fabs(m.mean), 5.0 / std::sqrt(double(n)));
    EXPECT_LT(std::fabs(m.var - 1.0), 5.0 * std::sqrt(2.0 / double(n)));
    // P(|z| > 2) = 0.0455; P(|z| > 4) = 6.3e-5.
    int64_t over2 = 0, over4 = 0, over7 = 0;
    double lag1 = 0;  // correlation of neighbours, which share a Box-Muller pair or not
    for (std::size_t i = 0; i < v.size(); ++i) {
      over2 += std::fabs(v[i]) > 2.0f;
      over4 += std::fabs(v[i]) > 4.0f;
      over7 += std::fabs(v[i]) > 7.0f;
      if (i + 1 < v.size()) lag1 += double(v[i]) * v[i + 1];
    }
    const double p2 = 0.0455003, p4 = 6.3342e-5;
    EXPECT_LT(std::fabs(over2 - p2 * n), 5.0 * std::sqrt(p2 * (1 - p2) * n));
    EXPECT_LT(std::fabs(over4 - p4 * n), 5.0 * std::sqrt(p4 * n) + 1);
    EXPECT_EQ(over7, 0);  // expected 2.7e-6 such values
    EXPECT_LT(std::fabs(lag1 / n), 5.0 / std::sqrt(double(n)));
  }
}

TEST(Synthetic, OutlierRateAndMagnitude) {
  const int64_t n = int64_t{1} << 20;
  const std::vector<float> v = gen(Distribution::Outliers, 5, Tensor::Q, 4, 2048, 128, 0, 8192);
  // |x| > 8 almost only from outliers: 0.001 * P(|N(0, 101)| > 8) = 0.001 * 0.4259.
  const double p = 0.001 * 0.42594;
  int64_t big = 0;
  float max_abs = 0.0f;
  for (float x : v) {
    big += std::fabs(x) > 8.0f;
    max_abs = std::max(max_abs, std::fabs(x));
  }
  EXPECT_LT(std::fabs(big - p * n), 5.0 * std::sqrt(p * n)) << big << " values above 8";
  EXPECT_GT(max_abs, 25.0f);  // ~1000 outliers of sd 10: the largest is ~3.3 sd
  const Moments m = moments(v.data(), v.size());
  EXPECT_LT(std::fabs(m.mean), 5.0 * std::sqrt(1.1 / double(n)));
  // Var = 1 + 0.001 * 100; sd of the estimate ~ sqrt((E[x^4] - Var^2) / n), E[x^4] ~ 33.6.
  EXPECT_LT(std::fabs(m.var - 1.1), 5.0 * std::sqrt(33.6 / double(n)));

  // Outliers are added to the same N(0, 1) draws as `normal`: the difference is the outlier
  // term, present at a rate of 0.001.
  const std::vector<float> base = gen(Distribution::Normal, 5, Tensor::Q, 4, 2048, 128, 0, 8192);
  int64_t differ = 0;
  for (std::size_t i = 0; i < v.size(); ++i) differ += v[i] != base[i];
  EXPECT_LT(std::fabs(differ - 0.001 * n), 5.0 * std::sqrt(0.001 * n)) << differ << " outliers";
}

TEST(Synthetic, KBiasShiftsKChannelsOnly) {
  const int64_t kv_heads = 2, len = 4096;
  const int d = 64;
  const int64_t rows = 2 * kv_heads * len;  // batch 2
  const std::vector<float> k = gen(Distribution::KBias, 9, Tensor::K, kv_heads, len, d, 0, rows);
  const double se = 1.0 / std::sqrt(double(len));
  std::vector<std::vector<double>> means;  // per (batch, kv head) group, per channel
  for (int64_t g = 0; g < 2 * kv_heads; ++g) {
    std::vector<double> gm(d);
    double spread = 0, within_var = 0;
    for (int c = 0; c < d; ++c) {
      const float* col = k.data() + g * len * d + c;
      const Moments all = moments(col, static_cast<std::size_t>(len), d);
      const Moments first = moments(col, static_cast<std::size_t>(len / 2), d);
      const Moments second = moments(col + len / 2 * d, static_cast<std::size_t>(len / 2), d);
      gm[c] = all.mean;
      spread += all.mean * all.mean;
      within_var += all.var;
      // The offset is the same for every position of the head.
      EXPECT_LT(std::fabs(first.mean - second.mean), 5.0 * std::sqrt(2.0) * se * std::sqrt(2.0));
    }
    // Channel offsets ~ N(0, 25): their rms over 64 channels is 5 within a wide margin.
    EXPECT_GT(std::sqrt(spread / d), 2.5);
    EXPECT_LT(std::sqrt(spread / d), 8.0);
    // Around its offset, each channel is N(0, 1).
    EXPECT_NEAR(within_var / d, 1.0, 5.0 * std::sqrt(2.0 / double(len * d)));
    means.push_back(gm);
  }
  // Each (batch, kv head) has its own offsets.
  for (std::size_t a = 0; a < means.size(); ++a)
    for (std::size_t b = a + 1; b < means.size(); ++b) {
      double diff = 0;
      for (int c = 0; c < d; ++c) diff += std::fabs(means[a][c] - means[b][c]);
      EXPECT_GT(diff / d, 1.0) << "groups " << a << " and " << b;
    }
  // The bias depends on (seed, group, channel), not on the sequence length.
  const std::vector<float> k_short = gen(Distribution::KBias, 9, Tensor::K, kv_heads, 1, d, 0, 4);
  const std::vector<float> n_short = gen(Distribution::Normal, 9, Tensor::K, kv_heads, 1, d, 0, 4);
  for (int64_t g = 0; g < 4; ++g)
    for (int c = 0; c < d; ++c)
      EXPECT_NEAR(k_short[g * d + c] - n_short[g * d + c], means[g][c], 6.0 * se);

  // Q and V stay unbiased, channel by channel.
  for (Tensor t : {Tensor::Q, Tensor::V}) {
    const std::vector<float> v = gen(Distribution::KBias, 9, t, kv_heads, len, d, 0, rows);
    for (int64_t g = 0; g < 2 * kv_heads; ++g)
      for (int c = 0; c < d; ++c) {
        const Moments m = moments(v.data() + g * len * d + c, static_cast<std::size_t>(len), d);
        ASSERT_LT(std::fabs(m.mean), 5.0 * se) << "tensor " << static_cast<int>(t);
        ASSERT_NEAR(m.var, 1.0, 5.0 * std::sqrt(2.0 / double(len)));
      }
  }
}

TEST(Synthetic, SeedsAndTensorsGiveIndependentData) {
  const int64_t rows = 4096;
  const int d = 64;
  const double n = double(rows) * d;
  const std::vector<std::vector<float>> sets = {
      gen(Distribution::Normal, 1, Tensor::Q, 1, rows, d, 0, rows),
      gen(Distribution::Normal, 2, Tensor::Q, 1, rows, d, 0, rows),
      gen(Distribution::Normal, 1, Tensor::K, 1, rows, d, 0, rows),
      gen(Distribution::Normal, 1, Tensor::V, 1, rows, d, 0, rows),
      gen(Distribution::Normal, uint64_t{1} << 32 | 1, Tensor::Q, 1, rows, d, 0, rows),
  };
  for (std::size_t a = 0; a < sets.size(); ++a)
    for (std::size_t b = a + 1; b < sets.size(); ++b) {
      double dot = 0;
      int64_t same = 0;
      for (std::size_t i = 0; i < sets[a].size(); ++i) {
        dot += double(sets[a][i]) * sets[b][i];
        same += sets[a][i] == sets[b][i];
      }
      EXPECT_LT(std::fabs(dot / n), 5.0 / std::sqrt(n)) << "sets " << a << " and " << b;
      EXPECT_LT(same, 5) << "sets " << a << " and " << b;
    }
}

TEST(Synthetic, RejectsBadShapes) {
  std::vector<float> v(16);
  EXPECT_THROW(synthetic_rows(Distribution::Normal, 1, Tensor::Q, 1, 4, 0, 0, 1, v.data()),
               std::invalid_argument);
  EXPECT_THROW(synthetic_rows(Distribution::Normal, 1, Tensor::Q, 1, 0, 4, 0, 1, v.data()),
               std::invalid_argument);
  EXPECT_NO_THROW(synthetic_rows(Distribution::Normal, 1, Tensor::Q, 1, 4, 4, 2, 2, nullptr));
}

}  // namespace
}  // namespace miniattn
