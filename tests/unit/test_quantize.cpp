#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/common/quantize.hpp"
#include "kernels/common/rotation.hpp"
#include "miniattn/cpu_features.hpp"
#if MINIATTN_HAVE_AVX512
#include "kernels/avx512/avx512_quantize.hpp"
#endif
#if MINIATTN_HAVE_AVX2
#include "kernels/avx2/avx2_quantize.hpp"
#endif

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

// --- The Hadamard rotation (kernels/common/rotation.hpp) ----------------------------------------

// The Sylvester matrix by its definition, H[i][j] = (-1)^popcount(i & j) / sqrt(n), block
// diagonal over the power-of-two blocks of d: an independent construction to hold the fast
// transform against.
std::vector<double> hadamard_matrix(int d) {
  std::vector<double> h(static_cast<std::size_t>(d) * d, 0.0);
  for (int at = 0; at < d;) {
    const int n = rotation::block_size(at, d);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j)
        h[static_cast<std::size_t>(at + i) * d + at + j] =
            (__builtin_popcount(static_cast<unsigned>(i & j)) & 1 ? -1.0 : 1.0) / std::sqrt(double(n));
    at += n;
  }
  return h;
}

TEST(Rotation, FastTransformIsTheOrthonormalHadamardMatrix) {
  for (int d : {16, 48, 80, 96, 128, 256, 512, 1024}) {
    const int rows = 3;
    const std::vector<float> x = random_values(static_cast<std::size_t>(rows) * d, 2.0f, 11 + d);
    std::vector<float> y = x;
    rotation::hadamard_rows(y.data(), rows, d);
    const std::vector<double> h = hadamard_matrix(d);
    for (int r = 0; r < rows; ++r) {
      double norm_x = 0.0, norm_y = 0.0;
      for (int j = 0; j < d; ++j) {
        double want = 0.0;
        for (int i = 0; i < d; ++i) want += x[r * d + i] * h[static_cast<std::size_t>(i) * d + j];
        // log2(d) float additions, each within half an ulp of values up to |x|_1 / sqrt(n).
        EXPECT_NEAR(y[r * d + j], want, 1e-5 * (1.0 + std::fabs(want)) * std::log2(d)) << "d " << d;
        norm_x += double(x[r * d + j]) * x[r * d + j];
        norm_y += double(y[r * d + j]) * y[r * d + j];
      }
      EXPECT_NEAR(norm_y, norm_x, 1e-5 * norm_x) << "orthonormal: the norm is kept, d " << d;
    }
    // H is symmetric and orthonormal, so it is its own inverse.
    rotation::hadamard_rows(y.data(), rows, d);
    for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(y[i], x[i], 1e-5f * (1 + std::fabs(x[i])));
  }
}

TEST(Rotation, EveryCpuPathIsBitwiseTheScalarForm) {
  std::vector<std::pair<const char*, void (*)(float*, int64_t, int)>> paths;
#if MINIATTN_HAVE_AVX512
  if (cpu_features().avx512f && cpu_features().avx512bw && cpu_features().avx512dq && cpu_features().avx512vl)
    paths.push_back({"avx512", avx512::Quant::hadamard_rows});
#endif
#if MINIATTN_HAVE_AVX2
  if (cpu_features().avx2 && cpu_features().fma) paths.push_back({"avx2", avx2::Quant::hadamard_rows});
#endif
  if (paths.empty()) GTEST_SKIP() << "no vector path for this CPU: only the scalar form runs";
  for (const auto& [name, rotate] : paths)
    for (int d : {16, 32, 48, 64, 80, 96, 112, 128, 144, 192, 256, 272, 512, 1024}) {
      const int rows = 5;
      std::vector<float> a = random_values(static_cast<std::size_t>(rows) * d, 3.0f, 17 + d);
      a[7] = 1e6f;  // an outlier, and values of mixed magnitude
      a[d + 1] = 1e-40f;  // and a subnormal
      std::vector<float> b = a, c = a;
      rotate(a.data(), rows, d);
      rotation::hadamard_rows_scalar(b.data(), rows, d);
      rotation::hadamard_rows(c.data(), rows, d);  // whichever path this CPU takes
      ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float))) << name << " d " << d;
      ASSERT_EQ(0, std::memcmp(c.data(), b.data(), c.size() * sizeof(float))) << "d " << d;
    }
}

TEST(Rotation, QuantisesTheRotatedSmoothedRows) {
  // quantize_k with rotation = the rotation of (k - mean) quantised without one; Q the same.
  const int64_t n = 150;
  const int d = 96;
  const std::vector<float> k = random_values(n * d, 1.5f, 21);
  const std::vector<float> mean = random_values(d, 0.5f, 22);
  std::vector<float> rotated(k.size());
  for (int64_t j = 0; j < n; ++j)
    for (int c = 0; c < d; ++c) rotated[j * d + c] = k[j * d + c] - mean[c];
  rotation::hadamard_rows_scalar(rotated.data(), n, d);
  for (QkScales mode : {QkScales::PerToken, QkScales::PerBlock}) {
    std::vector<int8_t> got(k.size()), want(k.size());
    std::vector<float> gs(n), ws(n);
    quantize_k({mode, Rotation::Hadamard}, k.data(), n, d, mean.data(), got.data(), gs.data());
    quantize_k(mode, rotated.data(), n, d, nullptr, want.data(), ws.data());
    EXPECT_EQ(got, want);
    EXPECT_EQ(gs, ws);
    std::vector<int8_t> q8(k.size()), q8_want(k.size());
    quantize_q_tile({mode, Rotation::Hadamard}, k.data(), 64, d, q8.data(), gs.data());
    std::vector<float> qr(k.begin(), k.begin() + 64 * d);
    rotation::hadamard_rows_scalar(qr.data(), 64, d);
    quantize_q_tile(mode, qr.data(), 64, d, q8_want.data(), ws.data());
    EXPECT_TRUE(std::equal(q8.begin(), q8.begin() + 64 * d, q8_want.begin()));
  }
}

TEST(Rotation, SpreadsAnOutlierChannelAndCutsTheScoreError) {
  // FlashAttention-3's case: one channel 100x the others. Per-token int8 spends its 127 steps
  // on the outlier; after the rotation the row's largest value is ~sqrt(d) times smaller
  // relative to its norm, and the int8 score error drops accordingly.
  const int d = 128, n = 64;
  std::vector<float> q = random_values(n * d, 1.0f, 31), k = random_values(n * d, 1.0f, 32);
  for (int j = 0; j < n; ++j) k[j * d + 5] = 100.0f + k[j * d + 5];
  auto score_error = [&](Rotation rot) {
    std::vector<int8_t> q8(q.size()), k8(k.size());
    std::vector<float> qs(n), ks(n);
    quantize_q_tile({QkScales::PerToken, rot}, q.data(), n, d, q8.data(), qs.data());
    quantize_k({QkScales::PerToken, rot}, k.data(), n, d, nullptr, k8.data(), ks.data());
    double err = 0.0, ref = 0.0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        double exact = 0.0;
        int32_t s = 0;
        for (int c = 0; c < d; ++c) {
          exact += double(q[i * d + c]) * k[j * d + c];
          s += q8[i * d + c] * k8[j * d + c];
        }
        const double e = double(s) * qs[i] * ks[j] - exact;
        err += e * e;
        ref += exact * exact;
      }
    return std::sqrt(err / ref);
  };
  const double plain = score_error(Rotation::None), rotated = score_error(Rotation::Hadamard);
  std::printf("  int8 score rel-L2 error, outlier channel: %.3e plain, %.3e rotated\n", plain, rotated);
  EXPECT_LT(rotated, plain / 3.0);
}

TEST(Quantize, SmoothingLseShiftIsScaleTimesQDotMean) {
  const int rows = 4, d = 48;
  const std::vector<float> q = random_values(rows * d, 1.0f, 41), mean = random_values(d, 3.0f, 42);
  std::vector<float> shift(rows);
  smoothing_lse_shift(q.data(), rows, d, mean.data(), 0.125, shift.data());
  for (int r = 0; r < rows; ++r) {
    double dot = 0.0;
    for (int c = 0; c < d; ++c) dot += double(q[r * d + c]) * mean[c];
    EXPECT_NEAR(shift[r], 0.125 * dot, 1e-6 * (1 + std::fabs(0.125 * dot)));
  }
}

}  // namespace
}  // namespace miniattn::quant
