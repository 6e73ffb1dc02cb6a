#include "driver/input_checks.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

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

double max_magnitude(const float* x, std::size_t n, int threads) {
  double amax = 0.0;
  const int64_t count = static_cast<int64_t>(n);
#pragma omp parallel for reduction(max : amax) schedule(static) num_threads(threads)
  for (int64_t i = 0; i < count; ++i) {
    const double a = std::fabs(static_cast<double>(x[i]));
    if (a > amax) amax = a;  // false for NaN
  }
  return amax;
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

void check_magnitudes(const Comm& comm, const Deck& deck, const AttnParams& p, const float* q,
                      std::size_t nq, const float* k, const float* v, std::size_t nkv,
                      int threads) {
  InputMagnitudes m;
  m.q = comm.max(max_magnitude(q, nq, threads));
  m.k = comm.max(max_magnitude(k, nkv, threads));
  m.v = comm.max(max_magnitude(v, nkv, threads));
  // Every rank has the same maxima, hence the same message: agree on rank 0's.
  raise_if_any(comm, magnitude_problem(deck, p, m), ExitCode::BadInput);
}

}  // namespace miniattn
