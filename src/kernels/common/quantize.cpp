#include "kernels/common/quantize.hpp"

#include "kernels/common/exp2.hpp"
#include "kernels/common/rotation.hpp"
#include "miniattn/kernel.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace miniattn::quant {
namespace {

// amax over n values of x - mean (mean may be null). Sixteen independent partial maxima: one
// running maximum is a chain of dependent max operations (~4 cycles each) that the compiler
// may not reorder, and it made quantisation 10% of a fused int8 run (docs/PERFORMANCE.md); the
// lane form vectorises, and max is exact, so the result is the same.
float absmax(const float* x, int n, const float* mean) {
  constexpr int kLanes = 16;
  float m[kLanes] = {};
  int i = 0;
  if (mean) {
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; ++j) m[j] = std::max(m[j], std::fabs(x[i + j] - mean[i + j]));
    for (; i < n; ++i) m[0] = std::max(m[0], std::fabs(x[i] - mean[i]));
  } else {
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; ++j) m[j] = std::max(m[j], std::fabs(x[i + j]));
    for (; i < n; ++i) m[0] = std::max(m[0], std::fabs(x[i]));
  }
  float a = 0.0f;
  for (float v : m) a = std::max(a, v);
  return a;
}

// q = rint((x - mean) * inv), inv = 127 / amax; all zero when amax = 0.
void encode(const float* x, int n, const float* mean, float amax, int8_t* q) {
  if (amax == 0.0f) {
    std::fill(q, q + n, int8_t{0});
    return;
  }
  const float inv = 127.0f / amax;
  if (std::isinf(inv)) {  // amax < 127 / FLT_MAX (a subnormal row): the same rounding, in double
    for (int i = 0; i < n; ++i) q[i] = encode_tiny(mean ? x[i] - mean[i] : x[i], amax);
    return;
  }
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

// Rotated rows: x (minus mean, when given) times H, into tmp.
void rotated_rows(const float* x, int64_t rows, int d, const float* mean, std::vector<float>& tmp) {
  const std::size_t n = static_cast<std::size_t>(rows) * d;
  tmp.resize(n);
  if (mean) {
    for (int64_t r = 0; r < rows; ++r)
      for (int c = 0; c < d; ++c) tmp[r * d + c] = x[r * d + c] - mean[c];
  } else {
    std::copy(x, x + n, tmp.begin());
  }
  rotation::hadamard_rows(tmp.data(), rows, d);
}

}  // namespace

void quantize_q_tile(QkQuant mode, const float* q, int rows, int d, int8_t* q8, float* scale) {
  const bool one_scale = mode.scales == QkScales::PerBlock;
  if (mode.rotate == Rotation::None) return quantize_rows(one_scale, q, rows, d, nullptr, q8, scale);
  std::vector<float> tmp;
  rotated_rows(q, rows, d, nullptr, tmp);
  quantize_rows(one_scale, tmp.data(), rows, d, nullptr, q8, scale);
}

void smoothing_lse_shift(const float* q, int rows, int d, const float* mean, double scale,
                         float* shift) {
  for (int r = 0; r < rows; ++r) {
    const float* x = q + static_cast<int64_t>(r) * d;
    double s[4] = {};  // independent partial sums (d is a multiple of 16)
    int c = 0;
    for (; c + 4 <= d; c += 4)
      for (int j = 0; j < 4; ++j) s[j] += static_cast<double>(x[c + j]) * mean[c + j];
    for (; c < d; ++c) s[0] += static_cast<double>(x[c]) * mean[c];
    shift[r] = static_cast<float>(scale * ((s[0] + s[1]) + (s[2] + s[3])));
  }
}

void k_channel_mean(const float* k, int64_t n, int d, float* mean) {
  std::vector<double> sum(static_cast<std::size_t>(d), 0.0);
  k_channel_sum(k, n, d, sum.data());
  k_mean_from_sum(sum.data(), n, d, mean);
}

void k_mean_from_sum(const double* sum, int64_t n, int d, float* mean) {
  for (int c = 0; c < d; ++c) mean[c] = n > 0 ? static_cast<float>(sum[c] / static_cast<double>(n)) : 0.0f;
}

void k_channel_sum(const float* k, int64_t n, int d, double* sum) {
  for (int64_t j = 0; j < n; ++j)
    for (int c = 0; c < d; ++c) sum[c] += k[j * d + c];
}

void quantize_k(QkQuant mode, const float* k, int64_t n, int d, const float* mean, int8_t* k8,
                float* scale) {
  const bool one_scale = mode.scales == QkScales::PerBlock;
  if (!one_scale && mode.rotate == Rotation::None) {
    quantize_rows(false, k, n, d, mean, k8, scale);
    return;
  }
  std::vector<float> tmp;
  for (int64_t j0 = 0; j0 < n; j0 += kKeyQuantBlock) {
    const int64_t rows = std::min<int64_t>(kKeyQuantBlock, n - j0);
    if (mode.rotate == Rotation::None) {
      quantize_rows(true, k + j0 * d, rows, d, mean, k8 + j0 * d, scale + j0);
      continue;
    }
    rotated_rows(k + j0 * d, rows, d, mean, tmp);
    quantize_rows(one_scale, tmp.data(), rows, d, nullptr, k8 + j0 * d, scale + j0);
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
  if (scale) v_channel_scales(amax, d, scale);
  std::vector<float> inv(static_cast<std::size_t>(d));
  const bool any_tiny = v_channel_inverse(amax, d, inv.data());
  for (int64_t j = 0; j < n; ++j)
    for (int c = 0; c < d; ++c) {
      const float r = exp2::round_nearest(v[j * d + c] * inv[c]);
      v8[j * d + c] = static_cast<int8_t>(std::clamp(r, -127.0f, 127.0f));
    }
  for (int c = 0; c < d && any_tiny; ++c)
    if (is_tiny(amax[c]))
      for (int64_t j = 0; j < n; ++j) v8[j * d + c] = encode_tiny(v[j * d + c], amax[c]);
}

void v_channel_scales(const float* amax, int d, float* scale) {
  for (int c = 0; c < d; ++c) scale[c] = amax[c] / 127.0f;
}

bool is_tiny(float amax) { return amax > 0.0f && std::isinf(127.0f / amax); }

bool v_channel_inverse(const float* amax, int d, float* inv) {
  bool any = false;
  for (int c = 0; c < d; ++c) {
    inv[c] = amax[c] > 0.0f && !is_tiny(amax[c]) ? 127.0f / amax[c] : 0.0f;
    any = any || is_tiny(amax[c]);
  }
  return any;
}

// amax < 127 / FLT_MAX (subnormal values), whose inverse overflows float: the same rounding, in
// double.
int8_t encode_tiny(float x, float amax) {
  const double dinv = 127.0 / static_cast<double>(amax);
  return static_cast<int8_t>(std::clamp(std::nearbyint(static_cast<double>(x) * dinv), -127.0, 127.0));
}

void encode_row(const float* x, int n, float amax, int8_t* q) { encode(x, n, nullptr, amax, q); }

void v_unpacked(const AttnParams& p, const float* v, int64_t n, const float* amax, uint16_t* v_bf16, int8_t* v8) {
  if (p.pv == PvPrecision::Bf16 && v_bf16) v_to_bf16(v, static_cast<std::size_t>(n) * p.d, v_bf16);
  if (p.pv == PvPrecision::Int8 && v8) quantize_v_with_absmax(v, n, p.d, amax, v8, nullptr);
}

void quantize_kv_head(const AttnParams& p, const float* k, const float* v, int64_t n,
                      const KvHeadQuant& out) {
  if (p.smooth_k) k_channel_mean(k, n, p.d, out.k_mean);
  quantize_k(qk_quant(p), k, n, p.d, p.smooth_k ? out.k_mean : nullptr, out.k8, out.k_scale);
  if (p.pv == PvPrecision::Bf16) v_to_bf16(v, static_cast<std::size_t>(n) * p.d, out.v_bf16);
  if (p.pv == PvPrecision::Int8) quantize_v_per_channel(v, n, p.d, out.v8, out.v_scale);
}

ProblemQuant quantize_problem(const AttnParams& p, const float* q, const float* k, const float* v) {
  const int d = p.d;
  const std::size_t qn = static_cast<std::size_t>(p.batch * p.heads * p.lq) * d;
  const std::size_t kn = static_cast<std::size_t>(p.batch * p.kv_heads * p.lk) * d;
  ProblemQuant z;
  z.q8.resize(qn);
  z.q_scale.resize(qn / d);
  z.k8.resize(kn);
  z.k_scale.resize(kn / d);
  z.k_mean.resize(static_cast<std::size_t>(p.batch * p.kv_heads * d));
  z.v_bf16.resize(kn);
  z.v8.resize(kn);
  z.v_scale.resize(z.k_mean.size());
  z.lse_shift.assign(qn / d, 0.0f);
  for (int64_t g = 0; g < p.batch * p.kv_heads; ++g) {
    const std::size_t off = static_cast<std::size_t>(g * p.lk * d);
    KvHeadQuant out;
    out.k8 = z.k8.data() + off;
    out.k_scale = z.k_scale.data() + g * p.lk;
    out.k_mean = z.k_mean.data() + g * d;
    out.v_bf16 = z.v_bf16.data() + off;
    out.v8 = z.v8.data() + off;
    out.v_scale = z.v_scale.data() + g * d;
    quantize_kv_head(p, k + off, v + off, p.lk, out);
  }
  for (int64_t bh = 0; bh < p.batch * p.heads; ++bh) {
    const float* mean = z.k_mean.data() + ((bh / p.heads) * p.kv_heads + p.kv_head_of(bh % p.heads)) * d;
    for (int64_t r0 = 0; r0 < p.lq; r0 += p.tile.q) {
      const int rows = static_cast<int>(std::min<int64_t>(p.tile.q, p.lq - r0));
      const int64_t row = bh * p.lq + r0;
      quantize_q_tile(qk_quant(p), q + row * d, rows, d, z.q8.data() + row * d, z.q_scale.data() + row);
      if (p.smooth_k) smoothing_lse_shift(q + row * d, rows, d, mean, p.scale, z.lse_shift.data() + row);
    }
  }
  return z;
}

void dequantise_problem(const AttnParams& p, const ProblemQuant& z, float* q, float* k, float* v) {
  const std::size_t d = static_cast<std::size_t>(p.d);
  for (std::size_t i = 0; i < z.q8.size(); ++i) q[i] = z.q8[i] * z.q_scale[i / d];
  for (std::size_t i = 0; i < z.k8.size(); ++i) k[i] = z.k8[i] * z.k_scale[i / d];
  for (std::size_t i = 0; i < z.k8.size(); ++i) {
    const std::size_t g = i / (static_cast<std::size_t>(p.lk) * d);
    if (p.pv == PvPrecision::Bf16) v[i] = bf16_to_float(z.v_bf16[i]);
    if (p.pv == PvPrecision::Int8) v[i] = z.v8[i] * z.v_scale[g * d + i % d];
  }
}

}  // namespace miniattn::quant

namespace miniattn {

// The Backend defaults: the scalar definition itself.
void Backend::kv_stats(const AttnParams& p, const float* k, const float* v, int64_t n, double* k_sum,
                       float* v_absmax) const {
  if (k_sum) quant::k_channel_sum(k, n, p.d, k_sum);
  if (v_absmax) quant::v_channel_absmax(v, n, p.d, v_absmax);
}

void Backend::quantize_kv(const AttnParams& p, const KvSource& src, int64_t j0, int64_t n,
                          const KvTarget& dst) const {
  const std::size_t off = static_cast<std::size_t>(j0) * p.d;
  quant::quantize_k(quant::qk_quant(p), src.k + off, n, p.d, src.k_mean, dst.k8 + off, dst.k_scale + j0);
  quant::v_unpacked(p, src.v + off, n, src.v_absmax, dst.v_bf16 ? dst.v_bf16 + off : nullptr,
                    dst.v8 ? dst.v8 + off : nullptr);
}

void Backend::quantize_q(const AttnParams& p, const float* q, int rows, const float* k_mean, int8_t* q8,
                         float* q_scale, float* lse_shift) const {
  quant::quantize_q_tile(quant::qk_quant(p), q, rows, p.d, q8, q_scale);
  if (k_mean) quant::smoothing_lse_shift(q, rows, p.d, k_mean, p.scale, lse_shift);
}

}  // namespace miniattn
