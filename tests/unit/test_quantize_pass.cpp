// Shared kernel test body (every backend, see test_kernels.cpp): the backend's quantisation
// entries (Backend::kv_stats, quantize_q, quantize_kv: on avx512 and avx2 one vectorised pass per
// tensor that writes the packed layout itself) give bit for bit what the scalar definition in
// kernels/common/quantize.hpp followed by pack_kv gives: the same int8 values, scales, K means,
// LSE terms and packed bytes, on awkward sizes and values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_params.hpp"
#include "kernels/common/quantize.hpp"

namespace miniattn::test {
namespace {

struct Case {
  int d;
  int64_t lk;
  int lq;
  const char* what;
};

// D: powers of two that stay in registers, sums of power-of-two rotation blocks (48 = 32 + 16,
// 80, 144, 272), rows longer than the registers (1024); key counts that end in a partial key
// pair / quad / quantisation block; Q tiles of odd row counts.
const Case kCases[] = {
    {16, 1, 1, "one key"},           {48, 67, 13, "D = 32 + 16"},   {64, 130, 64, "GQA-sized tile"},
    {80, 3, 5, "three keys"},        {128, 257, 37, "ragged L"},     {144, 70, 9, "D = 128 + 16"},
    {256, 66, 20, "D = 256"},        {272, 9, 2, "D = 256 + 16"},    {1024, 65, 3, "D = 1024"},
};

struct Inputs {
  std::vector<float> q, k, v;
};

// Normal values with the edge cases planted: outliers (FlashAttention-3's kind), a K and a Q row
// of subnormals (127 / amax overflows float: the double route), an all-zero K row, a V channel of
// subnormals and an all-zero V channel (scale 0). constant_k: every key the same, so every
// smoothed row is 0.
Inputs make_inputs(const Case& c, bool constant_k, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Inputs in;
  in.q.resize(static_cast<std::size_t>(c.lq) * c.d);
  in.k.resize(static_cast<std::size_t>(c.lk) * c.d);
  in.v.resize(in.k.size());
  for (float& x : in.q) x = nd(g);
  for (float& x : in.k) x = nd(g) + 0.5f;
  for (float& x : in.v) x = nd(g);
  std::uniform_int_distribution<std::size_t> at(0, in.k.size() - 1);
  for (int i = 0; i < 3; ++i) in.k[at(g)] = 300.0f * nd(g);
  in.q[(c.d / 2) % in.q.size()] = -4000.0f;
  if (c.lk > 2) {
    for (int x = 0; x < c.d; ++x) in.k[static_cast<std::size_t>(1) * c.d + x] = 1e-39f * nd(g);
    for (int x = 0; x < c.d; ++x) in.k[static_cast<std::size_t>(2) * c.d + x] = 0.0f;
  }
  if (c.lq > 1)
    for (int x = 0; x < c.d; ++x) in.q[static_cast<std::size_t>(c.d) + x] = 3e-40f * nd(g);
  for (int64_t j = 0; j < c.lk; ++j) {
    in.v[j * c.d + 3] = 2e-39f * nd(g);
    in.v[j * c.d + 5] = 0.0f;
  }
  if (constant_k)
    for (int64_t j = 1; j < c.lk; ++j) std::copy_n(in.k.begin(), c.d, in.k.begin() + j * c.d);
  return in;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  // (memcmp must not see the null data() of an empty vector: no packed layout)
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// Where two byte strings first differ (for the failure message).
template <class T>
std::string first_difference(const std::vector<T>& a, const std::vector<T>& b) {
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return "first difference at element " + std::to_string(i);
  return "sizes " + std::to_string(a.size()) + " and " + std::to_string(b.size());
}

// A packed K/V buffer: n bytes at a 64-byte boundary (as the executors give), filled with 0xCD.
struct PackedBytes {
  explicit PackedBytes(std::size_t n) : n(n), buf(n + 64, std::byte{0xCD}) {}
  std::byte* data() {
    const auto addr = reinterpret_cast<std::uintptr_t>(buf.data());
    return buf.data() + (64 - addr % 64) % 64;
  }
  std::vector<std::byte> bytes() { return std::vector<std::byte>(data(), data() + n); }
  std::size_t n;
  std::vector<std::byte> buf;
};

}  // namespace

TEST_P(BackendKernel, QuantisationIsBitwiseTheScalarDefinition) {
  if (!be_->quantized()) GTEST_SKIP() << be_->name() << " reads the float inputs only";
  int checked = 0;
  for (const Case& c : kCases)
    for (bool constant_k : {false, true})
      for (PvPrecision pv : {PvPrecision::Fp32, PvPrecision::Bf16, PvPrecision::Int8})
        for (QkScales qs : {QkScales::PerToken, QkScales::PerBlock})
          for (bool smooth : {true, false})
            for (Rotation rot : {Rotation::None, Rotation::Hadamard}) {
              const ProblemShape shape{1, 1, 1, c.lq, c.lk, c.d, false, 0.0};
              const AttnParams p = make_attn_params(shape, Variant::Fused, pv, Exp2Kind::Accurate, qs, smooth,
                                                    be_->default_tiles(c.d, pv), rot);
              if (!be_->check(p).empty()) continue;
              const std::string where = std::string(c.what) + (constant_k ? ", constant K" : "") + ": D " +
                                        std::to_string(c.d) + " L " + std::to_string(c.lk) + " " +
                                        std::string(to_string(pv)) + "/" + std::string(to_string(qs)) +
                                        (smooth ? "/smooth/" : "/nosmooth/") + std::string(to_string(rot));
              SCOPED_TRACE(where);
              const Inputs in = make_inputs(c, constant_k, static_cast<uint32_t>(c.d * 131 + c.lk));
              const int d = c.d;
              const std::size_t kn = in.k.size();

              // Statistics, accumulated over two calls (key order is kept across them).
              std::vector<double> sum(d, 0.0), sum_ref(d, 0.0);
              std::vector<float> vmax(d, 0.0f), vmax_ref(d, 0.0f);
              const int64_t split = c.lk / 3;
              be_->kv_stats(p, in.k.data(), in.v.data(), split, sum.data(), vmax.data());
              be_->kv_stats(p, in.k.data() + split * d, in.v.data() + split * d, c.lk - split, sum.data(), vmax.data());
              quant::k_channel_sum(in.k.data(), c.lk, d, sum_ref.data());
              quant::v_channel_absmax(in.v.data(), c.lk, d, vmax_ref.data());
              ASSERT_TRUE(same_bits(sum, sum_ref)) << "K channel sums, " << first_difference(sum, sum_ref);
              ASSERT_TRUE(same_bits(vmax, vmax_ref)) << "V channel maxima, " << first_difference(vmax, vmax_ref);
              std::vector<float> mean(d);
              quant::k_mean_from_sum(sum.data(), c.lk, d, mean.data());
              const float* k_mean = smooth ? mean.data() : nullptr;

              // Q: one tile of lq rows.
              std::vector<int8_t> q8(in.q.size(), 99), q8_ref(in.q.size(), 99);
              std::vector<float> qs_got(c.lq, -1.0f), qs_ref(c.lq, -1.0f), shift(c.lq, -1.0f), shift_ref(c.lq, -1.0f);
              be_->quantize_q(p, in.q.data(), c.lq, k_mean, q8.data(), qs_got.data(), smooth ? shift.data() : nullptr);
              quant::quantize_q_tile(quant::qk_quant(p), in.q.data(), c.lq, d, q8_ref.data(), qs_ref.data());
              if (smooth) quant::smoothing_lse_shift(in.q.data(), c.lq, d, mean.data(), p.scale, shift_ref.data());
              ASSERT_TRUE(same_bits(q8, q8_ref)) << "q8, " << first_difference(q8, q8_ref);
              ASSERT_TRUE(same_bits(qs_got, qs_ref)) << "q_scale, " << first_difference(qs_got, qs_ref);
              ASSERT_TRUE(same_bits(shift, shift_ref)) << "LSE term, " << first_difference(shift, shift_ref);

              // K/V of the block in chunks of 64 keys, as the executors call it, against the
              // scalar quantisation of the whole block and pack_kv. The packed buffers start
              // with the same filler, so bytes nobody writes compare equal and bytes only one
              // side writes do not.
              const std::size_t pbytes = be_->packed_kv_bytes(p, c.lk);
              PackedBytes pk(pbytes), pk_ref(pbytes);
              std::vector<int8_t> k8(kn, 99), k8_ref(kn, 99), v8(kn, 99), v8_ref(kn, 99);
              std::vector<float> ks(c.lk, -1.0f), ks_ref(c.lk, -1.0f);
              std::vector<uint16_t> vb(kn, 7), vb_ref(kn, 7);
              KvSource src;
              src.n = c.lk;
              src.k = in.k.data();
              src.v = in.v.data();
              src.k_mean = k_mean;
              src.v_absmax = vmax.data();
              KvTarget dst;
              dst.k8 = k8.data();
              dst.k_scale = ks.data();
              dst.v_bf16 = vb.data();
              dst.v8 = v8.data();
              dst.packed = pbytes > 0 ? pk.data() : nullptr;
              for (int64_t j0 = 0; j0 < c.lk; j0 += kKeyQuantBlock)
                be_->quantize_kv(p, src, j0, std::min<int64_t>(kKeyQuantBlock, c.lk - j0), dst);
              if (dst.packed && !be_->quantize_writes_packed()) {
                KvBlock kv;
                kv.n = c.lk;
                kv.k = in.k.data();
                kv.v = in.v.data();
                kv.k8 = k8.data();
                kv.k_scale = ks.data();
                kv.v_bf16 = vb.data();
                kv.v8 = v8.data();
                be_->pack_kv(p, kv, dst.packed);
              }
              quant::quantize_k(quant::qk_quant(p), in.k.data(), c.lk, d, k_mean, k8_ref.data(), ks_ref.data());
              if (pv == PvPrecision::Bf16) quant::v_to_bf16(in.v.data(), kn, vb_ref.data());
              if (pv == PvPrecision::Int8) quant::quantize_v_with_absmax(in.v.data(), c.lk, d, vmax_ref.data(), v8_ref.data(), nullptr);
              KvBlock ref;
              ref.n = c.lk;
              ref.k = in.k.data();
              ref.v = in.v.data();
              ref.k8 = k8_ref.data();
              ref.k_scale = ks_ref.data();
              ref.v_bf16 = vb_ref.data();
              ref.v8 = v8_ref.data();
              if (pbytes > 0) be_->pack_kv(p, ref, pk_ref.data());
              ASSERT_TRUE(same_bits(k8, k8_ref)) << "k8, " << first_difference(k8, k8_ref);
              ASSERT_TRUE(same_bits(ks, ks_ref)) << "k_scale, " << first_difference(ks, ks_ref);
              ASSERT_TRUE(same_bits(vb, vb_ref)) << "V bf16, " << first_difference(vb, vb_ref);
              ASSERT_TRUE(same_bits(v8, v8_ref)) << "V int8, " << first_difference(v8, v8_ref);
              const std::vector<std::byte> got = pk.bytes(), want = pk_ref.bytes();
              ASSERT_TRUE(same_bits(got, want)) << "packed K/V bytes, " << first_difference(got, want);
              ++checked;
            }
  EXPECT_GT(checked, 100) << "too few configurations ran";
}

}  // namespace miniattn::test
