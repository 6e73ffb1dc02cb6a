#include <algorithm>
#include <cmath>
#include <limits>

#include "miniattn/verify.hpp"

namespace miniattn {
namespace {
template <class R>
void accumulate(ErrorAccum& a, const float* out, const R* ref, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double o = out[i];
    const double r = static_cast<double>(ref[i]);
    if (!std::isfinite(o)) {
      ++a.nonfinite;
      continue;
    }
    const double diff = o - r;
    a.max_abs = std::max(a.max_abs, std::fabs(diff));
    a.abs_diff += std::fabs(diff);
    a.abs_ref += std::fabs(r);
    a.sq_diff += diff * diff;
    a.sq_ref += r * r;
    a.sq_out += o * o;
    a.dot += o * r;
  }
}
}  // namespace

void ErrorAccum::add(const float* out, const double* ref, int64_t n, int64_t rows_counted) {
  accumulate(*this, out, ref, n);
  rows += rows_counted;
}

void ErrorAccum::add(const float* out, const float* ref, int64_t n, int64_t rows_counted) {
  accumulate(*this, out, ref, n);
  rows += rows_counted;
}

void ErrorAccum::add_lse(float out, double ref) {
  ++lse_rows;
  if (std::isinf(ref) && ref < 0.0) {
    if (!(std::isinf(out) && out < 0.0)) ++lse_mismatches;
    return;
  }
  if (!std::isfinite(out)) {
    ++lse_mismatches;
    return;
  }
  lse_max_abs = std::max(lse_max_abs, std::fabs(static_cast<double>(out) - ref));
}

void ErrorAccum::merge(const ErrorAccum& o) {
  max_abs = std::max(max_abs, o.max_abs);
  abs_diff += o.abs_diff;
  abs_ref += o.abs_ref;
  sq_diff += o.sq_diff;
  sq_ref += o.sq_ref;
  sq_out += o.sq_out;
  dot += o.dot;
  rows += o.rows;
  nonfinite += o.nonfinite;
  lse_max_abs = std::max(lse_max_abs, o.lse_max_abs);
  lse_rows += o.lse_rows;
  lse_mismatches += o.lse_mismatches;
}

ErrorStats ErrorAccum::finish(const Tolerances& tol) const {
  const double max_rel_l2 = tol.max_rel_l2, min_cosine = tol.min_cosine;
  ErrorStats s;
  s.rows_checked = rows;
  s.nonfinite = nonfinite;
  s.max_abs = nonfinite ? std::numeric_limits<double>::quiet_NaN() : max_abs;
  // Relative errors against an all-zero reference are 0 if the output is zero too, else inf.
  auto ratio = [](double num, double den) {
    if (den > 0.0) return num / den;
    return num > 0.0 ? std::numeric_limits<double>::infinity() : 0.0;
  };
  s.rel_l1 = ratio(abs_diff, abs_ref);
  s.rel_l2 = std::sqrt(ratio(sq_diff, sq_ref));
  if (sq_out > 0.0 && sq_ref > 0.0)
    s.cosine = dot / (std::sqrt(sq_out) * std::sqrt(sq_ref));
  else
    s.cosine = (sq_out == 0.0 && sq_ref == 0.0) ? 1.0 : 0.0;
  if (nonfinite) {
    s.rel_l1 = s.rel_l2 = std::numeric_limits<double>::quiet_NaN();
    s.cosine = std::numeric_limits<double>::quiet_NaN();
  }
  s.lse_rows = lse_rows;
  s.lse_mismatches = lse_mismatches;
  s.lse_max_abs = lse_mismatches ? std::numeric_limits<double>::infinity() : lse_max_abs;
  const bool lse_ok = lse_rows == 0 || s.lse_max_abs <= tol.max_lse_abs;
  // Written so that any NaN fails.
  s.passed = nonfinite == 0 && rows > 0 && s.rel_l2 <= max_rel_l2 && s.cosine >= min_cosine && lse_ok;
  return s;
}

std::vector<int64_t> sampled_rows(int64_t lq, int64_t per_head) {
  std::vector<int64_t> rows;
  if (per_head >= lq) {
    for (int64_t i = 0; i < lq; ++i) rows.push_back(i);
    return rows;
  }
  if (per_head == 1) return {lq - 1};
  // Evenly spaced from the first to the last row.
  for (int64_t k = 0; k < per_head; ++k)
    rows.push_back(static_cast<int64_t>(std::llround(static_cast<double>(k) * (lq - 1) / (per_head - 1))));
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  return rows;
}

}  // namespace miniattn
