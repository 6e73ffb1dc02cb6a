#include "kernels/common/quantize.hpp"

#include "kernels/common/exp2.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace miniattn::quant {
namespace {

// amax over n values of x - mean (mean may be null).
float absmax(const float* x, int n, const float* mean) {
  float a = 0.0f;
  if (mean) {
    for (int i = 0; i < n; ++i) a = std::max(a, std::fabs(x[i] - mean[i]));
  } else {
    for (int i = 0; i < n; ++i) a = std::max(a, std::fabs(x[i]));
  }
  return a;
}

// q = rint((x - mean) * inv), inv = 127 / amax; all zero when amax = 0.
void encode(const float* x, int n, const float* mean, float amax, int8_t* q) {
  if (amax == 0.0f) {
    std::fill(q, q + n, int8_t{0});
    return;
  }
  const float inv = 127.0f / amax;
  for (int i = 0; i < n; ++i) {
    const float xs = mean ? x[i] - mean[i] : x[i];
    const float r = exp2::round_nearest(xs * inv);
    q[i] = static_cast<int8_t>(std::clamp(r, -127.0f, 127.0f));
  }
}

// Quantises rows [0, rows) (stride d) with one scale per row or one for all of them.
void quantize_rows(bool one_scale, const float* x, int64_t rows, int d, const float* mean,
                   int8_t* q, float* scale) {
  if (one_scale) {
    float amax = 0.0f;
    for (int64_t r = 0; r < rows; ++r) amax = std::max(amax, absmax(x + r * d, d, mean));
    for (int64_t r = 0; r < rows; ++r) {
      encode(x + r * d, d, mean, amax, q + r * d);
      scale[r] = amax / 127.0f;
    }
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float amax = absmax(x + r * d, d, mean);
    encode(x + r * d, d, mean, amax, q + r * d);
    scale[r] = amax / 127.0f;
  }
}

}  // namespace

void quantize_q_tile(QkScales mode, const float* q, int rows, int d, int8_t* q8, float* scale) {
  quantize_rows(mode == QkScales::PerBlock, q, rows, d, nullptr, q8, scale);
}

void k_channel_mean(const float* k, int64_t n, int d, float* mean) {
  std::vector<double> sum(static_cast<std::size_t>(d), 0.0);
  k_channel_sum(k, n, d, sum.data());
  for (int c = 0; c < d; ++c) mean[c] = n > 0 ? static_cast<float>(sum[c] / n) : 0.0f;
}

void k_channel_sum(const float* k, int64_t n, int d, double* sum) {
  for (int64_t j = 0; j < n; ++j)
    for (int c = 0; c < d; ++c) sum[c] += k[j * d + c];
}

void quantize_k(QkScales mode, const float* k, int64_t n, int d, const float* mean, int8_t* k8,
                float* scale) {
  if (mode == QkScales::PerToken) {
    quantize_rows(false, k, n, d, mean, k8, scale);
    return;
  }
  for (int64_t j0 = 0; j0 < n; j0 += kKeyQuantBlock) {
    const int64_t rows = std::min<int64_t>(kKeyQuantBlock, n - j0);
    quantize_rows(true, k + j0 * d, rows, d, mean, k8 + j0 * d, scale + j0);
  }
}

void v_to_bf16(const float* v, std::size_t count, uint16_t* out) {
  for (std::size_t i = 0; i < count; ++i) out[i] = float_to_bf16(v[i]);
}

void quantize_v_per_channel(const float* v, int64_t n, int d, int8_t* v8, float* scale) {
  std::vector<float> amax(static_cast<std::size_t>(d), 0.0f);
  v_channel_absmax(v, n, d, amax.data());
  quantize_v_with_absmax(v, n, d, amax.data(), v8, scale);
}

void v_channel_absmax(const float* v, int64_t n, int d, float* amax) {
  for (int64_t j = 0; j < n; ++j)
    for (int c = 0; c < d; ++c) amax[c] = std::max(amax[c], std::fabs(v[j * d + c]));
}

void quantize_v_with_absmax(const float* v, int64_t n, int d, const float* amax, int8_t* v8,
                            float* scale) {
  std::vector<float> inv(static_cast<std::size_t>(d));
  for (int c = 0; c < d; ++c) {
    scale[c] = amax[c] / 127.0f;
    inv[c] = amax[c] > 0.0f ? 127.0f / amax[c] : 0.0f;
  }
  for (int64_t j = 0; j < n; ++j)
    for (int c = 0; c < d; ++c) {
      const float r = exp2::round_nearest(v[j * d + c] * inv[c]);
      v8[j * d + c] = static_cast<int8_t>(std::clamp(r, -127.0f, 127.0f));
    }
}

void quantize_kv_head(const AttnParams& p, const float* k, const float* v, int64_t n,
                      const KvHeadQuant& out) {
  if (p.smooth_k) k_channel_mean(k, n, p.d, out.k_mean);
  quantize_k(p.qk_scales, k, n, p.d, p.smooth_k ? out.k_mean : nullptr, out.k8, out.k_scale);
  if (p.pv == PvPrecision::Bf16) v_to_bf16(v, static_cast<std::size_t>(n) * p.d, out.v_bf16);
  if (p.pv == PvPrecision::Int8) quantize_v_per_channel(v, n, p.d, out.v8, out.v_scale);
}

}  // namespace miniattn::quant
