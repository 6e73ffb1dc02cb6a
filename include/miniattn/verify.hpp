// Accuracy of an output against a reference: max abs, relative L1 and L2, cosine similarity
// over all checked elements. Non-finite outputs always fail.
#pragma once

#include <cstdint>
#include <vector>

namespace miniattn {

struct ErrorStats {
  double max_abs = 0.0;
  double rel_l1 = 0.0;
  double rel_l2 = 0.0;
  double cosine = 0.0;
  int64_t rows_checked = 0;
  int64_t nonfinite = 0;  // outputs that are NaN or Inf
  bool passed = false;
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

  // One row (or any run of n elements counted as `rows` rows).
  void add(const float* out, const double* ref, int64_t n, int64_t rows_counted = 1);
  void add(const float* out, const float* ref, int64_t n, int64_t rows_counted = 1);
  void merge(const ErrorAccum& o);
  // Passes when every output is finite, rel_l2 <= max_rel_l2 and cosine >= min_cosine.
  ErrorStats finish(double max_rel_l2, double min_cosine) const;
};

// The query rows sampled in every head: `per_head` rows spread evenly over [0, lq), always
// including the first and the last (the tail of the last tile); all rows if per_head >= lq.
std::vector<int64_t> sampled_rows(int64_t lq, int64_t per_head);

}  // namespace miniattn
