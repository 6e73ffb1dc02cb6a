// Counter-based synthetic data. Every value is computed from (seed, tensor, global element
// index) alone, never from a generator's running state, so any split of the rows over ranks or
// threads produces the same numbers.
//
// Generator: SplitMix64 used as a counter-based function. A stream (seed, tensor, purpose) has
// a 64-bit base key; the n-th 64-bit word of the stream is mix64(base + n * gamma). Normals
// come from Box-Muller on two such words; elements 2p and 2p+1 share the pair p and take its
// cos and sin halves, so one log, one sqrt and one sincos serve two elements.
#include "miniattn/synthetic.hpp"

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "problem/enum_names.hpp"

namespace miniattn {
namespace {

constexpr enum_names::Table<Distribution, 3> kDistributions{
    {{"normal", Distribution::Normal},
     {"outliers", Distribution::Outliers},
     {"k_bias", Distribution::KBias}}};

constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ULL;  // 2^64 / golden ratio, odd

// SplitMix64's output function: a bijective 64-bit avalanche mixer.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// What a stream's numbers are used for; part of the stream key.
enum class Purpose : uint64_t { Normal = 1, OutlierFlag = 2, OutlierValue = 3, ChannelBias = 4 };

inline uint64_t stream_key(uint64_t seed, Tensor t, Purpose p) {
  const uint64_t tag = (static_cast<uint64_t>(t) << 8) | static_cast<uint64_t>(p);
  return mix64(mix64(seed + kGamma) ^ mix64(tag * kGamma + 0x632be59bd9b4e019ULL));
}

inline uint64_t word(uint64_t key, uint64_t n) { return mix64(key + n * kGamma); }

constexpr double kTwoPi = 6.283185307179586476925286766559;
constexpr double kInv2p53 = 1.0 / 9007199254740992.0;  // 2^-53

// Standard normal pair from words 2p and 2p+1 of a stream (Box-Muller).
inline void normal_pair(uint64_t key, uint64_t p, double& z0, double& z1) {
  const double u1 = static_cast<double>((word(key, 2 * p) >> 11) + 1) * kInv2p53;  // (0, 1]
  const double u2 = static_cast<double>(word(key, 2 * p + 1) >> 11) * kInv2p53;    // [0, 1)
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double a = kTwoPi * u2;
  z0 = r * std::cos(a);
  z1 = r * std::sin(a);
}

inline double normal_at(uint64_t key, uint64_t index) {
  double z0, z1;
  normal_pair(key, index >> 1, z0, z1);
  return (index & 1) ? z1 : z0;
}

// N(0, 1) for the global elements [e0, e0 + n) of a stream, in double, written to out.
void fill_normal(uint64_t key, uint64_t e0, int64_t n, double* out) {
  int64_t i = 0;
  if ((e0 & 1) && n > 0) {  // starts on the second half of a pair
    out[i++] = normal_at(key, e0);
  }
  for (; i + 1 < n; i += 2) {
    normal_pair(key, (e0 + static_cast<uint64_t>(i)) >> 1, out[i], out[i + 1]);
  }
  if (i < n) out[i] = normal_at(key, e0 + static_cast<uint64_t>(i));
}

// Bernoulli(0.001) by comparing a whole 64-bit word with 0.001 * 2^64.
constexpr uint64_t kOutlierThreshold = 18446744073709552ULL;  // floor(0.001 * 2^64)
constexpr double kOutlierStd = 10.0;
constexpr double kBiasStd = 5.0;

}  // namespace

std::string_view to_string(Distribution d) { return enum_names::name(kDistributions, d); }
std::optional<Distribution> parse_distribution(std::string_view s) {
  return enum_names::value(kDistributions, s);
}

void synthetic_rows(Distribution dist, uint64_t seed, Tensor t, int64_t heads, int64_t len, int d,
                    int64_t row_begin, int64_t row_end, float* out) {
  if (row_end <= row_begin) return;
  if (heads <= 0 || len <= 0 || d <= 0 || row_begin < 0) {
    throw std::invalid_argument("synthetic_rows: heads, len and d must be positive and rows "
                                "non-negative (heads=" + std::to_string(heads) + ", len=" +
                                std::to_string(len) + ", d=" + std::to_string(d) + ", rows [" +
                                std::to_string(row_begin) + ", " + std::to_string(row_end) + "))");
  }
  const uint64_t normal_key = stream_key(seed, t, Purpose::Normal);
  const uint64_t flag_key = stream_key(seed, t, Purpose::OutlierFlag);
  const uint64_t outlier_key = stream_key(seed, t, Purpose::OutlierValue);
  const uint64_t bias_key = stream_key(seed, t, Purpose::ChannelBias);
  const bool outliers = dist == Distribution::Outliers;
  const bool biased = dist == Distribution::KBias && t == Tensor::K;
  const std::size_t ud = static_cast<std::size_t>(d);

  {
    std::vector<double> row(ud);
    std::vector<double> bias(biased ? ud : 0);
    int64_t bias_group = -1;  // (batch * kv_heads + kv_head) whose bias is in `bias`

    for (int64_t r = row_begin; r < row_end; ++r) {
      const uint64_t e0 = static_cast<uint64_t>(r) * ud;
      fill_normal(normal_key, e0, d, row.data());
      if (outliers) {
        for (int c = 0; c < d; ++c) {
          const uint64_t e = e0 + static_cast<uint64_t>(c);
          if (word(flag_key, e) < kOutlierThreshold) {
            double z0, z1;
            normal_pair(outlier_key, e, z0, z1);  // one pair per element: outliers are rare
            row[c] += kOutlierStd * z0;
          }
        }
      }
      if (biased) {
        const int64_t group = r / len;  // batch * kv_heads + kv_head
        if (group != bias_group) {
          // Keyed by (seed, group, channel) only, so the bias does not depend on the lengths.
          const uint64_t gkey = mix64(bias_key + static_cast<uint64_t>(group) * kGamma);
          fill_normal(gkey, 0, d, bias.data());
          for (double& b : bias) b *= kBiasStd;
          bias_group = group;
        }
        for (int c = 0; c < d; ++c) row[c] += bias[c];
      }
      float* o = out + static_cast<std::size_t>(r - row_begin) * ud;
      for (int c = 0; c < d; ++c) o[c] = static_cast<float>(row[c]);
    }
  }
}

}  // namespace miniattn
