// The portable backend's kernel studies for miniattn-bench: the plain C++ twins of the SIMD
// backends' exp2 rows and stage 2. No peak loops: plain C++ has no instruction peak to claim.
#include "kernels/portable/portable_studies.hpp"

#include <algorithm>

#include "kernels/common/exp2.hpp"

namespace miniattn {
namespace {

class PortableStudies final : public KernelStudies {
 public:
  void exp2_row(Exp2Kind e, const float* x, float* y, int64_t n) const override {
    for (int64_t i = 0; i < n; ++i) y[i] = exp2::exp2_dispatch(e, x[i]);
  }

  void stage2(Stage2Kind kind, int m, int nc, int d, const int32_t* s, float scale,
              const float* row_max, const float* v, float* o, float* scratch) const override {
    std::fill(o, o + static_cast<int64_t>(m) * d, 0.0f);
    if (kind == Stage2Kind::FusedPerK) {
      for (int c = 0; c < nc; ++c)
        for (int r = 0; r < m; ++r) {
          const float pc = exp2::exp2_accurate(
              exp2::madd(static_cast<float>(s[static_cast<int64_t>(r) * nc + c]), scale, -row_max[r]));
          for (int x = 0; x < d; ++x) o[static_cast<int64_t>(r) * d + x] += pc * v[static_cast<int64_t>(c) * d + x];
        }
      return;
    }
    if (kind == Stage2Kind::TwoPass)
      for (int r = 0; r < m; ++r)
        for (int c = 0; c < nc; ++c) {
          const int64_t i = static_cast<int64_t>(r) * nc + c;
          scratch[i] = exp2::exp2_accurate(exp2::madd(static_cast<float>(s[i]), scale, -row_max[r]));
        }
    for (int r = 0; r < m; ++r)
      for (int c = 0; c < nc; ++c) {
        const float pc = scratch[static_cast<int64_t>(r) * nc + c];
        for (int x = 0; x < d; ++x) o[static_cast<int64_t>(r) * d + x] += pc * v[static_cast<int64_t>(c) * d + x];
      }
  }
};

}  // namespace

const KernelStudies* portable_studies() {
  static const PortableStudies s;
  return &s;
}

}  // namespace miniattn
