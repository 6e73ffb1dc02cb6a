// Calls miniattn's kernels through the installed package only: quantise one small GQA problem,
// pack and attend it with the portable INT8 backend, and compare O with the float64 reference.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "kernels/common/quantize.hpp"
#include "kernels/reference/reference_backend.hpp"
#include "miniattn/attn_params.hpp"
#include "miniattn/kernel.hpp"
#include "miniattn/registry.hpp"
#include "miniattn/synthetic.hpp"
#include "miniattn/verify.hpp"

// 64-byte aligned storage, as the app gives kernels for packed K/V and scratch.
std::byte* aligned(std::vector<std::byte>& buf) {
  return reinterpret_cast<std::byte*>((reinterpret_cast<std::uintptr_t>(buf.data()) + 63) &
                                      ~std::uintptr_t{63});
}

int main() {
  using namespace miniattn;
  const std::unique_ptr<Backend> be = create_backend("portable");
  const ProblemShape shape{1, 2, 1, 40, 70, 64, true, 0.0};
  const AttnParams p = make_attn_params(shape, Variant::Fused, PvPrecision::Fp32,
                                        Exp2Kind::Accurate, QkScales::PerToken, true,
                                        be->default_tiles(shape.d, PvPrecision::Fp32));
  const int d = p.d;
  const int64_t qrows = p.heads * p.lq, keys = p.lk;
  std::vector<float> q(qrows * d), k(keys * d), v(keys * d);
  synthetic_rows(Distribution::Normal, 1, Tensor::Q, p.heads, p.lq, d, 0, qrows, q.data());
  synthetic_rows(Distribution::Normal, 1, Tensor::K, p.kv_heads, p.lk, d, 0, keys, k.data());
  synthetic_rows(Distribution::Normal, 1, Tensor::V, p.kv_heads, p.lk, d, 0, keys, v.data());

  // K and V of the one KV head, quantised and packed once.
  std::vector<int8_t> k8(keys * d), q8(qrows * d);
  std::vector<float> k_scale(keys), k_mean(d), q_scale(qrows);
  quant::KvHeadQuant kq;
  kq.k8 = k8.data();
  kq.k_scale = k_scale.data();
  kq.k_mean = k_mean.data();
  quant::quantize_kv_head(p, k.data(), v.data(), keys, kq);
  KvBlock kv;
  kv.n = keys;
  kv.k = k.data();
  kv.v = v.data();
  kv.k8 = k8.data();
  kv.k_scale = k_scale.data();
  std::vector<std::byte> packed(be->packed_kv_bytes(p, keys) + 64);
  if (packed.size() > 64) {
    be->pack_kv(p, kv, aligned(packed));
    kv.packed = aligned(packed);
  }

  std::vector<std::byte> scratch_buf(be->scratch_bytes(p, keys) + 64);
  std::byte* scratch = aligned(scratch_buf);
  std::vector<float> m(p.tile.q), l(p.tile.q), acc(static_cast<std::size_t>(p.tile.q) * d);
  std::vector<float> o(qrows * d), lse(qrows);
  TileCycles cycles;
  ErrorAccum err;
  for (int64_t h = 0; h < p.heads; ++h)
    for (int64_t r0 = 0; r0 < p.lq; r0 += p.tile.q) {
      const int rows = static_cast<int>(std::min<int64_t>(p.tile.q, p.lq - r0));
      const int64_t row = h * p.lq + r0;
      quant::quantize_q_tile(p.qk_scales, q.data() + row * d, rows, d, q8.data() + row * d,
                             q_scale.data() + row);
      QTile t;
      t.h = h;
      t.row0 = r0;
      t.rows = rows;
      t.q = q.data() + row * d;
      t.q8 = q8.data() + row * d;
      t.q_scale = q_scale.data() + row;
      const RowState st{m.data(), l.data(), acc.data()};
      reset_row_state(st, rows, d);
      be->attend(p, t, kv, st, scratch, cycles);
      finalize_rows(st, rows, d, o.data() + row * d, lse.data() + row);

      std::vector<int64_t> index(rows);
      for (int r = 0; r < rows; ++r) index[r] = r0 + r;
      std::vector<double> ref(static_cast<std::size_t>(rows) * d), ref_lse(rows);
      reference_rows(p, t.q, index.data(), rows, k.data(), v.data(), keys, ref.data(), ref_lse.data());
      err.add(o.data() + row * d, ref.data(), static_cast<int64_t>(rows) * d, rows);
    }
  const ErrorStats s = err.finish(0.03, 0.9999);
  std::printf("portable vs float64 reference over %lld rows: rel_l2 %.3e cosine %.7f -> %s\n",
              static_cast<long long>(s.rows_checked), s.rel_l2, s.cosine, s.passed ? "PASS" : "FAIL");
  return s.passed && s.rows_checked == qrows ? 0 : 1;
}
