#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/common/quantize.hpp"

namespace miniattn::quant {
namespace {

std::vector<float> random_values(std::size_t n, float sigma, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> nd(0.0f, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = nd(g);
  return v;
}

TEST(Quantize, PerTokenRoundTripWithinHalfStep) {
  const int rows = 7, d = 80;
  const std::vector<float> q = random_values(rows * d, 3.0f, 1);
  std::vector<int8_t> q8(q.size());
  std::vector<float> s(rows);
  quantize_q_tile(QkScales::PerToken, q.data(), rows, d, q8.data(), s.data());
  for (int r = 0; r < rows; ++r) {
    float amax = 0.0f;
    for (int c = 0; c < d; ++c) amax = std::max(amax, std::fabs(q[r * d + c]));
    EXPECT_FLOAT_EQ(s[r], amax / 127.0f);
    int extreme = 0;
    for (int c = 0; c < d; ++c) {
      EXPECT_LE(std::fabs(q8[r * d + c] * s[r] - q[r * d + c]), 0.5f * s[r] * (1 + 1e-6f));
      extreme = std::max(extreme, std::abs(static_cast<int>(q8[r * d + c])));
    }
    EXPECT_EQ(extreme, 127);  // the largest element uses the full range
  }
}

TEST(Quantize, PerBlockSharesOneScale) {
  const int rows = 5, d = 16;
  std::vector<float> q = random_values(rows * d, 1.0f, 2);
  q[3 * d + 7] = -40.0f;  // one outlier sets the scale of the whole tile
  std::vector<int8_t> q8(q.size());
  std::vector<float> s(rows);
  quantize_q_tile(QkScales::PerBlock, q.data(), rows, d, q8.data(), s.data());
  for (int r = 0; r < rows; ++r) EXPECT_EQ(s[r], 40.0f / 127.0f);
  EXPECT_EQ(q8[3 * d + 7], -127);
}

TEST(Quantize, ZeroRowsGiveZeroScale) {
  std::vector<float> q(32, 0.0f);
  std::vector<int8_t> q8(32, 5);
  std::vector<float> s(2, 1.0f);
  quantize_q_tile(QkScales::PerToken, q.data(), 2, 16, q8.data(), s.data());
  for (int8_t x : q8) EXPECT_EQ(x, 0);
  EXPECT_EQ(s[0], 0.0f);
  EXPECT_EQ(s[1], 0.0f);
}

TEST(Quantize, KeyBlocksAreAlignedToKeyZero) {
  const int64_t n = 150;  // blocks [0, 64), [64, 128), [128, 150)
  const int d = 32;
  std::vector<float> k = random_values(n * d, 1.0f, 3);
  k[70 * d] = 9.0f;
  std::vector<int8_t> k8(k.size());
  std::vector<float> s(n);
  quantize_k(QkScales::PerBlock, k.data(), n, d, nullptr, k8.data(), s.data());
  for (int64_t j = 64; j < 128; ++j) EXPECT_EQ(s[j], 9.0f / 127.0f);
  for (int64_t j = 1; j < 64; ++j) EXPECT_EQ(s[j], s[0]);
  for (int64_t j = 129; j < n; ++j) EXPECT_EQ(s[j], s[128]);
  EXPECT_NE(s[0], s[64]);
  // Quantising the keys in two chunks split at a block boundary gives the same bytes.
  std::vector<int8_t> k8b(k.size());
  std::vector<float> sb(n);
  quantize_k(QkScales::PerBlock, k.data(), 64, d, nullptr, k8b.data(), sb.data());
  quantize_k(QkScales::PerBlock, k.data() + 64 * d, n - 64, d, nullptr, k8b.data() + 64 * d,
             sb.data() + 64);
  EXPECT_EQ(k8, k8b);
  EXPECT_EQ(s, sb);
}

TEST(Quantize, SmoothingSubtractsTheChannelMean) {
  const int64_t n = 300;
  const int d = 16;
  std::vector<float> k = random_values(n * d, 1.0f, 4);
  for (int64_t j = 0; j < n; ++j) k[j * d + 2] += 50.0f;  // a biased channel
  std::vector<float> mean(d);
  k_channel_mean(k.data(), n, d, mean.data());
  double exact = 0.0;
  for (int64_t j = 0; j < n; ++j) exact += k[j * d + 2];
  EXPECT_NEAR(mean[2], exact / n, 1e-5);
  std::vector<int8_t> k8(k.size());
  std::vector<float> s(n);
  quantize_k(QkScales::PerToken, k.data(), n, d, mean.data(), k8.data(), s.data());
  for (int64_t j = 0; j < n; ++j)
    for (int c = 0; c < d; ++c)
      EXPECT_LE(std::fabs(k8[j * d + c] * s[j] - (k[j * d + c] - mean[c])), 0.5f * s[j] * 1.0001f);
  // Without the offset the scale is that of unit-variance data, not of the offset.
  EXPECT_LT(s[0], 10.0f / 127.0f);
}

TEST(Quantize, Bf16RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + 1.0f / 256)), 1.0f);              // tie -> even
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + 3.0f / 256)), 1.0f + 4.0f / 256);  // tie -> even
  EXPECT_EQ(bf16_to_float(float_to_bf16(1.0f + 1.5f / 256)), 1.0f + 2.0f / 256);  // above tie
  EXPECT_EQ(bf16_to_float(float_to_bf16(-2.5f)), -2.5f);
  const std::vector<float> v = random_values(1000, 2.0f, 5);
  std::vector<uint16_t> b(v.size());
  v_to_bf16(v.data(), v.size(), b.data());
  for (std::size_t i = 0; i < v.size(); ++i)
    EXPECT_LE(std::fabs(bf16_to_float(b[i]) - v[i]), std::fabs(v[i]) * (1.0f / 256));
}

TEST(Quantize, VPerChannelScales) {
  const int64_t n = 40;
  const int d = 16;
  std::vector<float> v = random_values(n * d, 1.0f, 6);
  v[5 * d + 3] = 30.0f;
  std::vector<int8_t> v8(v.size());
  std::vector<float> s(d);
  quantize_v_per_channel(v.data(), n, d, v8.data(), s.data());
  EXPECT_EQ(s[3], 30.0f / 127.0f);
  EXPECT_EQ(v8[5 * d + 3], 127);
  for (int64_t j = 0; j < n; ++j)
    for (int c = 0; c < d; ++c)
      EXPECT_LE(std::fabs(v8[j * d + c] * s[c] - v[j * d + c]), 0.5f * s[c] * 1.0001f);
}

}  // namespace
}  // namespace miniattn::quant
