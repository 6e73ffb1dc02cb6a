#include "driver/input_checks.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace miniattn {
namespace {

// "input file F: dataset 'V'" or "synthetic input 'V' (...)"; plural for two names.
std::string where(const Deck& deck, const std::string& names, bool plural) {
  if (deck.input.source == InputSource::Hdf5)
    return fmt::format("input file {}: dataset{} {}", deck.input.file, plural ? "s" : "", names);
  return fmt::format("synthetic input{} {} (distribution \"{}\")", plural ? "s" : "", names,
                     to_string(deck.input.distribution));
}

}  // namespace

Magnitude magnitude(const HostView<float**>& x) {
  // Two passes of one reduction each: a reducer of a (max, sum) pair is written differently in
  // Kokkos 3 and 4, and the checks are a small part of reading the inputs.
  Magnitude m;
  const int64_t d = static_cast<int64_t>(x.extent(1));
  Kokkos::parallel_reduce(
      "miniattn::input_max", static_items(static_cast<int64_t>(x.extent(0))),
      [=](int64_t r, double& amax) {
        for (int64_t c = 0; c < d; ++c) {
          const double a = std::fabs(static_cast<double>(x(r, c)));
          if (a > amax) amax = a;  // false for NaN
        }
      },
      Kokkos::Max<double>(m.max));
  Kokkos::parallel_reduce(
      "miniattn::input_sum_sq", static_items(static_cast<int64_t>(x.extent(0))),
      [=](int64_t r, double& sum) {
        for (int64_t c = 0; c < d; ++c) {
          const double a = static_cast<double>(x(r, c));
          if (a == a) sum += a * a;
        }
      },
      Kokkos::Sum<double>(m.sum_sq));
  m.max = std::max(m.max, 0.0);  // the reduction's identity is the lowest double
  return m;
}

std::string magnitude_problem(const Deck& deck, const AttnParams& p, const InputMagnitudes& m) {
  const double score = max_scaled_score(p, m.q, m.k);
  if (!(score <= kMaxScaledScore)) {
    return fmt::format(
        "{} hold values up to {:.3g} and {:.3g} in magnitude: with head_dim {} and scale "
        "{:.6g}, a score q.k * scale * log2(e) could reach {:.3g} (counting the K smoothing), "
        "beyond the {:.3g} (2^30) that float32 softmax resolves; scale Q or K down, or lower "
        "[problem] scale",
        where(deck, fmt::format("'{}' and '{}'", deck.input.q, deck.input.k), true), m.q, m.k, p.d, p.scale, score,
        kMaxScaledScore);
  }
  const double pv = static_cast<double>(p.lk) * m.v;
  if (!(pv <= kMaxPvSum)) {
    return fmt::format(
        "{} holds values up to {:.3g} in magnitude: summed over kv_len = {} keys, P.V could "
        "reach {:.3g}, beyond the {:.3g} (2^120) the float32 kernels hold; scale V down",
        where(deck, "'" + deck.input.v + "'", false), m.v, p.lk, pv, kMaxPvSum);
  }
  return "";
}

InputMagnitudes check_magnitudes(const Comm& comm, const Deck& deck, const AttnParams& p,
                                 const HostView<float**>& q, const HostView<float**>& k,
                                 const HostView<float**>& v) {
  const Magnitude mq = magnitude(q), mk = magnitude(k);
  const double nq = static_cast<double>(q.size()), nkv = static_cast<double>(k.size());
  InputMagnitudes m;
  m.q = comm.max(mq.max);
  m.k = comm.max(mk.max);
  m.v = comm.max(magnitude(v).max);
  // RMS over every element a rank holds (K/V heads held by several ranks count several times:
  // a typical value, which is all the hints need).
  double sums[] = {mq.sum_sq, nq, mk.sum_sq, nkv};
  comm.sum_inplace(sums, 4);
  m.q_rms = sums[1] > 0 ? std::sqrt(sums[0] / sums[1]) : 0.0;
  m.k_rms = sums[3] > 0 ? std::sqrt(sums[2] / sums[3]) : 0.0;
  // Every rank has the same maxima, hence the same message: agree on rank 0's.
  raise_if_any(comm, magnitude_problem(deck, p, m), ExitCode::BadInput);
  return m;
}

double score_noise(const AttnParams& p, const InputMagnitudes& m) {
  const double step_q = m.q / 127.0, step_k = m.k / 127.0;
  return p.scale * std::sqrt(p.d / 12.0 * (m.q_rms * m.q_rms * step_k * step_k +
                                           m.k_rms * m.k_rms * step_q * step_q));
}

std::string verification_hint(const AttnParams& p, const InputMagnitudes& m, bool quantized,
                              const ErrorStats& v, const Tolerances& t) {
  const bool o_failed = !(v.rel_l2 <= t.max_rel_l2 && v.cosine >= t.min_cosine) || v.nonfinite;
  const bool lse_failed = !(v.lse_max_abs <= t.max_lse_abs);
  std::string why = fmt::format("hint: {} outside the bounds.", o_failed && lse_failed ? "O and LSE"
                                                                 : o_failed          ? "O"
                                                                                     : "LSE");
  if (v.nonfinite || v.lse_mismatches)
    return why + " Non-finite outputs: a kernel or input problem, not rounding; rerun with "
                 "--backend reference and report it if that passes.";
  if (!quantized)
    return why + " The float64 reference backend should match itself: check the input file "
                 "and the deck's tolerances.";
  const double noise = score_noise(p, m);
  why += fmt::format(
      " int8 Q.K^T: with |Q| <= {:.3g} (rms {:.3g}), |K| <= {:.3g} (rms {:.3g}), head_dim {} and "
      "scale {:.4g}, the scores carry quantisation noise of about {:.3g} (natural log)",
      m.q, m.q_rms, m.k, m.k_rms, p.d, p.scale, noise);
  why += noise > 0.02 ? ", enough to show in O and LSE." : ", too little to explain it alone.";
  std::vector<std::string> tries;
  const double peak = std::max(m.q / std::max(m.q_rms, 1e-300), m.k / std::max(m.k_rms, 1e-300));
  if (p.rotate == Rotation::None)
    tries.push_back(fmt::format("[run] rotate = \"hadamard\" (largest value {:.0f}x the rms: "
                                "outlier channels set the int8 step of whole rows)", peak));
  if (!p.smooth_k) tries.push_back("[run] smooth_k = true (a K channel bias wastes int8 range)");
  if (p.qk_scales == QkScales::PerBlock) tries.push_back("[run] qk_scales = \"per_token\"");
  if (o_failed && p.pv == PvPrecision::Int8)
    tries.push_back("[run] pv_precision = \"bf16\" (u8 P and s8 V cost accuracy on peaked rows)");
  if (p.exp2 != Exp2Kind::Accurate) tries.push_back("[run] exp2 = \"accurate\"");
  if (lse_failed && !o_failed)
    tries.push_back(fmt::format("a looser [verify] max_lse_abs (now {:g}) if LSE errors of this "
                                "size are acceptable: LSE error is the absolute error of the "
                                "scores, which grows with their magnitude",
                                t.max_lse_abs));
  tries.push_back("--backend reference to confirm the inputs themselves");
  why += " Try:";
  for (std::size_t i = 0; i < tries.size(); ++i) why += (i ? "; " : " ") + tries[i];
  return why + ".";
}

}  // namespace miniattn
