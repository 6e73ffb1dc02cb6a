// miniattn-cuda-check: the cuda backend against the CPU on a real GPU, without GoogleTest.
// For every case: the device-quantised operands (rotated or not) and K smoothing's LSE term equal
// the CPU quantiser's bit for bit, the int32 scores equal the CPU's int8 dot products bit for
// bit, O and LSE are within the kernel bounds of the float64 reference on the dequantised inputs
// (the bounds of the shared CPU kernel tests; its LSE plus the smoothing term), LSE is within the
// CPU tests' bound of the float64 reference on the true inputs, O is within DESIGN.md's
// verification bounds of it on normal inputs (bf16 P.V: cosine >= 0.9999, rel_l2 <= 0.03), rows
// that see no key give O = 0 and LSE = -inf, and splitting the rows over 3 ranks gives the same O
// bit for bit.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernels/common/quantize.hpp"
#include "kernels/cuda/cuda_backend.hpp"
#include "kernels/cuda/cuda_config.hpp"
#include "tools/cuda_tools.hpp"
#include "kernels/reference/reference_backend.hpp"
#include "miniattn/decomp.hpp"
#include "miniattn/error.hpp"
#include "miniattn/synthetic.hpp"
#include "miniattn/verify.hpp"

namespace miniattn::cuda {
namespace {

struct Problem {
  AttnParams p;
  std::vector<float> q, k, v;
};

using CpuQuant = quant::ProblemQuant;

Problem make(const ProblemShape& s, PvPrecision pv, QkScales qs, bool smooth, Rotation rot, Distribution dist,
             uint64_t seed) {
  KernelShape ks;
  if (!kernel_shape(s.d, pv, ks)) throw Error("no cuda kernel for head_dim " + std::to_string(s.d));
  Problem pr;
  pr.p = make_attn_params(s, Variant::Fused, pv, Exp2Kind::Accurate, qs, smooth, {ks.br, ks.bc}, rot);
  const AttnParams& p = pr.p;
  const int64_t qrows = p.batch * p.heads * p.lq, kvrows = p.batch * p.kv_heads * p.lk;
  pr.q.resize(static_cast<std::size_t>(qrows * p.d));
  pr.k.resize(static_cast<std::size_t>(kvrows * p.d));
  pr.v.resize(static_cast<std::size_t>(kvrows * p.d));
  synthetic_rows(dist, seed, Tensor::Q, p.heads, p.lq, p.d, 0, qrows, pr.q.data());
  synthetic_rows(dist, seed, Tensor::K, p.kv_heads, p.lk, p.d, 0, kvrows, pr.k.data());
  synthetic_rows(dist, seed, Tensor::V, p.kv_heads, p.lk, p.d, 0, kvrows, pr.v.data());
  return pr;
}

CpuQuant cpu_quantise(const Problem& pr) { return quant::quantize_problem(pr.p, pr.q.data(), pr.k.data(), pr.v.data()); }

Problem dequantised(const Problem& pr, const CpuQuant& z) {
  Problem dq = pr;
  quant::dequantise_problem(pr.p, z, dq.q.data(), dq.k.data(), dq.v.data());
  return dq;
}

struct Output {
  std::vector<float> o, lse;
};

// The problem split over `ranks` ranks, each on its own DeviceAttention; also returns the
// quantised operands and scores of the single-rank run.
Output run_gpu(const Problem& pr, int ranks, DeviceAttention::HostQuant* quant, std::vector<int32_t>* scores) {
  const AttnParams& p = pr.p;
  const int64_t d = p.d;
  Output out;
  out.o.assign(pr.q.size(), 0.0f);
  out.lse.assign(pr.q.size() / d, 0.0f);
  const Decomposition dec(p, ranks);
  for (int r = 0; r < ranks; ++r) {
    const Range rows = dec.rank_rows(r), groups = dec.rank_kv_groups(r);
    if (rows.empty()) continue;
    DeviceAttention dev(p, rows, groups);
    dev.upload(pr.q.data() + rows.begin * d, pr.k.data() + groups.begin * p.lk * d,
               pr.v.data() + groups.begin * p.lk * d);
    dev.quantize();
    dev.pack();
    dev.attend(false);
    dev.download(out.o.data() + rows.begin * d, out.lse.data() + rows.begin);
    dev.sync();
    if (ranks == 1 && quant) *quant = dev.download_quantised();
    if (ranks == 1 && scores) *scores = dev.scores();
  }
  return out;
}

struct RefRows {
  std::vector<int64_t> flat;  // flattened rows checked
  std::vector<double> o, lse;
};

// float64 reference of the checked rows: every row when per_head >= lq, else sampled_rows; plus
// lse_shift[row] when given (the dequantised operands' reference: their smoothed scores lack
// K smoothing's term, which the kernels add back).
RefRows reference(const Problem& pr, int64_t per_head, const std::vector<float>* lse_shift = nullptr) {
  const AttnParams& p = pr.p;
  const int d = p.d;
  const std::vector<int64_t> rows = sampled_rows(p.lq, per_head);
  RefRows ref;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads; ++h) {
      const int64_t base = (b * p.heads + h) * p.lq;
      const std::size_t koff = static_cast<std::size_t>((b * p.kv_heads + p.kv_head_of(h)) * p.lk * d);
      std::vector<float> q(rows.size() * d);
      for (std::size_t i = 0; i < rows.size(); ++i)
        std::memcpy(q.data() + i * d, pr.q.data() + (base + rows[i]) * d, d * sizeof(float));
      std::vector<double> o(rows.size() * d), lse(rows.size());
      reference_rows(p, q.data(), rows.data(), static_cast<int>(rows.size()), pr.k.data() + koff, pr.v.data() + koff,
                     p.lk, o.data(), lse.data());
      for (std::size_t i = 0; i < rows.size(); ++i) {
        ref.flat.push_back(base + rows[i]);
        if (lse_shift) lse[i] += (*lse_shift)[base + rows[i]];  // -inf stays
      }
      ref.o.insert(ref.o.end(), o.begin(), o.end());
      ref.lse.insert(ref.lse.end(), lse.begin(), lse.end());
    }
  return ref;
}

struct Compared {
  ErrorStats o;
  double lse_max = 0.0;
  bool empty_rows_ok = true;  // rows that see no key: O = 0, LSE = -inf
};

// Largest |a - b| over the rows both see (NaN propagates as a failure).
double lse_max_abs(const std::vector<double>& a, const std::vector<double>& b) {
  double mx = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isinf(a[i]) || std::isinf(b[i])) continue;
    const double e = std::fabs(a[i] - b[i]);
    if (!(e <= mx)) mx = e;
  }
  return mx;
}

Compared compare(const Output& got, const RefRows& ref, int d) {
  ErrorAccum acc;
  Compared c;
  for (std::size_t i = 0; i < ref.flat.size(); ++i) {
    const float* o = got.o.data() + ref.flat[i] * d;
    acc.add(o, ref.o.data() + i * d, d);
    const float lse = got.lse[ref.flat[i]];
    if (std::isinf(ref.lse[i])) {
      bool zero = std::isinf(lse) && lse < 0;
      for (int x = 0; x < d; ++x) zero = zero && o[x] == 0.0f;
      c.empty_rows_ok = c.empty_rows_ok && zero;
    } else {
      const double e = std::fabs(static_cast<double>(lse) - ref.lse[i]);
      if (!(e <= c.lse_max)) c.lse_max = e;  // NaN propagates
    }
  }
  c.o = acc.finish(1e300, -2.0);
  return c;
}

struct Case {
  ProblemShape shape;
  PvPrecision pv;
  QkScales scales;
  bool smooth;
  Rotation rot;
  Distribution dist;
  int64_t ref_rows;  // reference rows per head (>= lq: all)
};

std::string shape_text(const ProblemShape& s) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "B%ld H%ld/%ld L%ld/%ld D%d%s", static_cast<long>(s.batch), static_cast<long>(s.heads),
                static_cast<long>(s.kv_heads), static_cast<long>(s.lq), static_cast<long>(s.lk), s.d,
                s.causal ? " causal" : "");
  return buf;
}

std::vector<Case> cases(bool quick) {
  // batch heads kv_heads lq lk d causal
  const std::vector<std::pair<ProblemShape, int64_t>> shapes = {
      {{1, 2, 1, 77, 133, 64, false, 0.0}, 1 << 30},   // GQA, tails in both lengths
      {{2, 4, 2, 130, 97, 64, true, 0.0}, 1 << 30},    // causal, Lq > Lk: 33 rows see no key
      {{1, 3, 3, 65, 200, 128, true, 0.0}, 1 << 30},   // causal with a KV cache (Lq < Lk)
      {{1, 2, 1, 33, 70, 256, false, 0.0}, 1 << 30},   // D = 256
      {{1, 4, 1, 300, 517, 128, true, 0.0}, 1 << 30},  // MQA, several CTAs per head
      {{1, 2, 2, 1024, 1024, 64, true, 0.0}, 128},
      {{1, 2, 1, 1000, 1500, 256, false, 0.0}, 96},
      {{2, 8, 2, 4096, 4096, 128, true, 0.0}, 48},     // the benchmark's shape class
      {{1, 4, 4, 4096, 4096, 128, false, 0.0}, 48},
  };
  std::vector<Case> out;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    if (quick && i >= 5) break;
    for (PvPrecision pv : {PvPrecision::Bf16, PvPrecision::Int8})
      for (QkScales qs : {QkScales::PerToken, QkScales::PerBlock}) {
        // Rotation in turns (pv, then pairs of shapes), so that every (pv, scales, smoothing)
        // runs with and without it.
        const bool rot = (i / 2 + (pv == PvPrecision::Int8 ? 1 : 0)) % 2 == 1;
        out.push_back({shapes[i].first, pv, qs, qs == QkScales::PerToken || i % 2 == 0,
                       rot ? Rotation::Hadamard : Rotation::None, Distribution::Normal, shapes[i].second});
      }
  }
  // LSE on k_bias inputs, where K smoothing's term is tens of nats: smoothing on and off, with
  // and without rotation, on the small shapes.
  for (std::size_t i = 0; i < 3; ++i)
    for (PvPrecision pv : {PvPrecision::Bf16, PvPrecision::Int8})
      for (bool smooth : {true, false})
        for (Rotation rot : {Rotation::None, Rotation::Hadamard})
          out.push_back({shapes[i].first, pv, QkScales::PerToken, smooth, rot, Distribution::KBias, shapes[i].second});
  return out;
}

// Bounds on rel_l2 against the dequantised float64 reference: those of the shared CPU kernel
// tests for accurate exp2 (tests/unit/test_kernels.cpp, kernel_tolerance).
double kernel_bound(PvPrecision pv) { return pv == PvPrecision::Int8 ? 5e-6 + 2e-2 : 5e-6 + 4e-3; }

// LSE against the true float64 reference: twice the error of the dequantised operands' reference
// (what int8 Q.K^T costs by itself) plus what P's rounding adds to the row sum, as in the CPU
// tests (test_kernels.cpp, LseMatchesFloat64Reference): 1e-2 for u8 P; for bf16 P, the 2e-3 of
// float sums plus 2^-9 (each P, hence l, rounded by at most that relative step).
double lse_true_slack(PvPrecision pv) { return pv == PvPrecision::Int8 ? 1e-2 : 2e-3 + 0x1p-9; }

// The LSE term: the GPU repeats quant::smoothing_lse_shift's double operations in its order, so
// it is bit for bit the CPU's where the CPU compiler keeps the multiply and the add apart (x86
// builds); one that contracts them into FMA (GCC's default on aarch64) may differ in the last bit.
bool same_shift(const std::vector<float>& gpu, const std::vector<float>& cpu) {
  if (gpu.size() != cpu.size()) return false;
  for (std::size_t i = 0; i < gpu.size(); ++i)
    if (!(std::fabs(gpu[i] - cpu[i]) <= 1e-6 * (std::fabs(cpu[i]) + 1.0f))) return false;
  return true;
}

const char* dist_text(Distribution d) {
  return d == Distribution::Normal ? "normal" : d == Distribution::KBias ? "k_bias" : "outliers";
}

}  // namespace

int check_main(int argc, char** argv, std::FILE* out) {
  bool quick = false;
  uint64_t seed = 42;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      throw Error("miniattn-cuda-check: unknown argument '" + a + "' (expected --quick, --seed N)");
    }
  }
  if (const std::string why = cuda_unsupported(); !why.empty())
    throw Error("miniattn-cuda-check: " + why, ExitCode::RuntimeFailure);
  select_device();

  int failures = 0;
  std::fprintf(out, "%-34s %-4s %-9s %-8s %-5s %-8s %-6s %-6s %-6s %-10s %-10s %-10s %-9s %-17s %-5s %s\n", "shape", "pv",
               "scales", "rotate", "sk", "data", "quant", "S", "ranks", "rel_l2 deq", "rel_l2", "cosine", "lse deq",
               "lse true (bound)", "empty", "result");
  const std::vector<Case> all = cases(quick);
  for (const Case& c : all) {
    const Problem pr = make(c.shape, c.pv, c.scales, c.smooth, c.rot, c.dist, seed);
    const AttnParams& p = pr.p;
    const CpuQuant z = cpu_quantise(pr);
    const bool small = p.batch * p.heads * p.lq * p.lk <= (int64_t{1} << 22);

    DeviceAttention::HostQuant gq;
    std::vector<int32_t> s;
    const Output one = run_gpu(pr, 1, small ? &gq : nullptr, small ? &s : nullptr);

    // Bitwise: quantised operands, the LSE term and scores.
    bool quant_ok = true, s_ok = true;
    if (small) {
      quant_ok = gq.q8 == z.q8 && gq.q_scale == z.q_scale && gq.k8 == z.k8 && gq.k_scale == z.k_scale;
      if (p.smooth_k) quant_ok = quant_ok && gq.k_mean == z.k_mean && same_shift(gq.lse_shift, z.lse_shift);
      if (p.pv == PvPrecision::Bf16) quant_ok = quant_ok && gq.v_bf16 == z.v_bf16;
      if (p.pv == PvPrecision::Int8) quant_ok = quant_ok && gq.v_scale == z.v_scale;
      const int d = p.d;
      for (int64_t row = 0; row < p.batch * p.heads * p.lq && s_ok; ++row) {
        const int64_t bh = row / p.lq, g = (bh / p.heads) * p.kv_heads + p.kv_head_of(bh % p.heads);
        for (int64_t j = 0; j < p.lk; ++j) {
          int32_t want = 0;
          for (int x = 0; x < d; ++x)
            want += static_cast<int32_t>(z.q8[row * d + x]) * static_cast<int32_t>(z.k8[(g * p.lk + j) * d + x]);
          if (s[row * p.lk + j] != want) {
            s_ok = false;
            break;
          }
        }
      }
    }

    // Rows over 3 ranks: the same O bit for bit (every row is computed by one CTA either way).
    const Output three = run_gpu(pr, 3, nullptr, nullptr);
    const bool ranks_ok = three.o == one.o;

    const RefRows deq_ref = reference(dequantised(pr, z), c.ref_rows, &z.lse_shift);
    const RefRows tru_ref = reference(pr, c.ref_rows);
    const Compared deq = compare(one, deq_ref, p.d);
    const Compared tru = compare(one, tru_ref, p.d);
    const double bound = kernel_bound(p.pv);
    const double lse_bound = 2.0 * lse_max_abs(deq_ref.lse, tru_ref.lse) + lse_true_slack(p.pv);
    bool ok = quant_ok && s_ok && ranks_ok && deq.o.nonfinite == 0 && deq.o.rel_l2 <= bound &&
              deq.lse_max <= 20 * bound + 1e-5 && tru.lse_max <= lse_bound && deq.empty_rows_ok;
    // DESIGN.md's bounds for normal data (k_bias without smoothing is what smoothing is for).
    if (p.pv == PvPrecision::Bf16 && c.dist == Distribution::Normal)
      ok = ok && tru.o.cosine >= 0.9999 && tru.o.rel_l2 <= 0.03;
    failures += ok ? 0 : 1;
    char lse_true[32];
    std::snprintf(lse_true, sizeof lse_true, "%.2e (%.1e)", tru.lse_max, lse_bound);
    std::fprintf(out, "%-34s %-4s %-9s %-8s %-5s %-8s %-6s %-6s %-6s %-10.3e %-10.3e %-10.7f %-9.2e %-17s %-5s %s\n",
                 shape_text(c.shape).c_str(), to_string(p.pv).data(), to_string(p.qk_scales).data(),
                 to_string(p.rotate).data(), p.smooth_k ? "on" : "off", dist_text(c.dist),
                 small ? (quant_ok ? "equal" : "DIFF") : "-", small ? (s_ok ? "equal" : "DIFF") : "-",
                 ranks_ok ? "equal" : "DIFF", deq.o.rel_l2, tru.o.rel_l2, tru.o.cosine, deq.lse_max, lse_true,
                 deq.empty_rows_ok ? "ok" : "BAD", ok ? "PASS" : "FAIL");
    std::fflush(out);
  }
  std::fprintf(out, "bounds: rel_l2 vs dequantised float64 <= %.1e (bf16 P.V), %.1e (int8 P.V), LSE 20x that; "
               "bf16 P.V vs true float64 on normal data: cosine >= 0.9999, rel_l2 <= 0.03; LSE vs true float64: "
               "2x the dequantised reference's error + %.1e (bf16 P.V), %.1e (int8 P.V)\n",
               kernel_bound(PvPrecision::Bf16), kernel_bound(PvPrecision::Int8), lse_true_slack(PvPrecision::Bf16),
               lse_true_slack(PvPrecision::Int8));
  std::fprintf(out, "%d passed, %d failed\n", static_cast<int>(all.size()) - failures, failures);
  return failures;
}

}  // namespace miniattn::cuda
