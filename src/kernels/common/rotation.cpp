#include "kernels/common/rotation.hpp"

#include <cmath>

#include "miniattn/cpu_features.hpp"

#if MINIATTN_HAVE_AVX512
#include "kernels/avx512/avx512_quantize.hpp"
#endif
#if MINIATTN_HAVE_AVX2
#include "kernels/avx2/avx2_quantize.hpp"
#endif

namespace miniattn::rotation {
namespace {

template <class T>
void fwht(T* x, int n, T norm) {
  for (int h = 1; h < n; h *= 2)
    for (int i = 0; i < n; i += 2 * h)
      for (int j = i; j < i + h; ++j) {
        const T a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
  for (int i = 0; i < n; ++i) x[i] *= norm;
}

}  // namespace

void hadamard_rows_scalar(float* x, int64_t rows, int d) {
  for (int64_t r = 0; r < rows; ++r)
    for (int at = 0; at < d;) {
      const int n = block_size(at, d);
      fwht(x + r * d + at, n, static_cast<float>(1.0 / std::sqrt(static_cast<double>(n))));
      at += n;
    }
}

void hadamard_row_double(double* x, int d) {
  for (int at = 0; at < d;) {
    const int n = block_size(at, d);
    fwht(x + at, n, 1.0 / std::sqrt(static_cast<double>(n)));
    at += n;
  }
}

void hadamard_rows(float* x, int64_t rows, int d) {
  const CpuFeatures& f = cpu_features();
#if MINIATTN_HAVE_AVX512
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq) return avx512::Quant::hadamard_rows(x, rows, d);
#endif
#if MINIATTN_HAVE_AVX2
  if (f.avx2 && f.fma) return avx2::Quant::hadamard_rows(x, rows, d);
#endif
  (void)f;
  hadamard_rows_scalar(x, rows, d);
}

}  // namespace miniattn::rotation
