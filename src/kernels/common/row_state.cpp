#include <cmath>
#include <limits>

#include "kernels/common/exp2.hpp"
#include "miniattn/kernel.hpp"

namespace miniattn {

void reset_row_state(const RowState& s, int rows, int d) {
  for (int r = 0; r < rows; ++r) {
    s.m[r] = -std::numeric_limits<float>::infinity();
    s.l[r] = 0.0f;
  }
  for (int64_t i = 0; i < static_cast<int64_t>(rows) * d; ++i) s.acc[i] = 0.0f;
}

void merge_row_state(const RowState& into, const RowState& from, int rows, int d) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  for (int r = 0; r < rows; ++r) {
    const float ma = into.m[r];
    const float mb = from.m[r];
    const float m = std::max(ma, mb);
    if (m == kNegInf) continue;  // neither side has seen a key
    // An empty side gets weight 0; the other gets exactly 2^0 = 1 when it holds the maximum.
    const float sa = ma == kNegInf ? 0.0f : exp2::exp2_accurate(ma - m);
    const float sb = mb == kNegInf ? 0.0f : exp2::exp2_accurate(mb - m);
    into.m[r] = m;
    into.l[r] = into.l[r] * sa + from.l[r] * sb;
    float* a = into.acc + static_cast<int64_t>(r) * d;
    const float* b = from.acc + static_cast<int64_t>(r) * d;
    for (int c = 0; c < d; ++c) a[c] = a[c] * sa + b[c] * sb;
  }
}

void finalize_rows(const RowState& s, int rows, int d, float* o, float* lse,
                   const float* lse_shift) {
  constexpr double kLn2 = 0.6931471805599453;
  for (int r = 0; r < rows; ++r) {
    const float l = s.l[r];
    float* orow = o + static_cast<int64_t>(r) * d;
    const float* arow = s.acc + static_cast<int64_t>(r) * d;
    if (!(l > 0.0f)) {  // the row saw no key (causal with Lq > Lk): FlashAttention's convention
      for (int c = 0; c < d; ++c) orow[c] = 0.0f;
      if (lse) lse[r] = -std::numeric_limits<float>::infinity();
      continue;
    }
    const float inv = 1.0f / l;
    for (int c = 0; c < d; ++c) orow[c] = arow[c] * inv;
    if (lse)
      lse[r] = static_cast<float>((static_cast<double>(s.m[r]) + std::log2(static_cast<double>(l))) * kLn2 +
                                  (lse_shift ? static_cast<double>(lse_shift[r]) : 0.0));
  }
}

}  // namespace miniattn
