// Accuracy of an output against a reference: max abs, relative L1 and L2, cosine similarity
// over all checked elements. Non-finite outputs always fail.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

namespace miniattn {

struct ErrorStats {
  double max_abs = 0.0;
  double rel_l1 = 0.0;
  double rel_l2 = 0.0;
  double cosine = 0.0;
  int64_t rows_checked = 0;
  int64_t nonfinite = 0;  // outputs that are NaN or Inf
  // LSE (natural log) of the same rows: largest |out - ref| over rows that see a key, and the
  // rows whose LSE is not finite where the reference's is, or not -inf where it is -inf (a row
  // that sees no key): each is a failure.
  double lse_max_abs = 0.0;
  int64_t lse_rows = 0;
  int64_t lse_mismatches = 0;
  bool passed = false;
};

// Pass bounds of a verification.
struct Tolerances {
  double max_rel_l2 = 0.03;
  double min_cosine = 0.9999;
  double max_lse_abs = 0.25;  // checked when LSE rows were added
};

// Sums over checked elements; partial sums from several ranks add up (max_abs takes the max).
struct ErrorAccum {
  double max_abs = 0.0;
  double abs_diff = 0.0;  // sum |o - r|
  double abs_ref = 0.0;   // sum |r|
  double sq_diff = 0.0;   // sum (o - r)^2
  double sq_ref = 0.0;    // sum r^2
  double sq_out = 0.0;    // sum o^2
  double dot = 0.0;       // sum o * r
  int64_t rows = 0;
  int64_t nonfinite = 0;
  double lse_max_abs = 0.0;
  int64_t lse_rows = 0;
  int64_t lse_mismatches = 0;

  // One row (or any run of n elements counted as `rows` rows).
  void add(const float* out, const double* ref, int64_t n, int64_t rows_counted = 1);
  void add(const float* out, const float* ref, int64_t n, int64_t rows_counted = 1);
  // The LSE of one row: -inf must match -inf exactly, anything else non-finite is a mismatch.
  void add_lse(float out, double ref);
  void merge(const ErrorAccum& o);
  // Passes when every output is finite, rel_l2 <= max_rel_l2, cosine >= min_cosine and, when
  // LSE rows were added, no LSE mismatch and lse_max_abs <= max_lse_abs.
  ErrorStats finish(const Tolerances& tol) const;
  ErrorStats finish(double max_rel_l2, double min_cosine) const {
    return finish(Tolerances{max_rel_l2, min_cosine, std::numeric_limits<double>::infinity()});
  }
};

// The query rows sampled in every head: `per_head` rows spread evenly over [0, lq), always
// including the first and the last (the tail of the last tile); all rows if per_head >= lq.
std::vector<int64_t> sampled_rows(int64_t lq, int64_t per_head);

}  // namespace miniattn
