// Input values the float32 kernels cannot take: magnitudes whose scores or P.V sums could
// leave float32 range (docs/numerics.md). Run after reading, before any compute. (NaN and Inf
// in a file are found first, with their index, by the driver's check_finite.)
#pragma once

#include <cstddef>

#include "miniattn/attn_params.hpp"
#include "miniattn/comm.hpp"
#include "miniattn/deck.hpp"
#include "miniattn/kokkos_host.hpp"
#include "miniattn/verify.hpp"

namespace miniattn {

struct InputMagnitudes {
  double q = 0.0, k = 0.0, v = 0.0;  // largest |value| of each tensor, over every rank
  double q_rms = 0.0, k_rms = 0.0;   // root mean square of Q and K, over every rank
};

// Largest |value| and sum of squares of a (rows, d) View: the Kokkos kernels
// miniattn::input_max and miniattn::input_sum_sq. NaN is ignored (check_finite reports it).
struct Magnitude {
  double max = 0.0, sum_sq = 0.0;
};
Magnitude magnitude(const HostView<float**>& x);

// "" when the kernels are safe with inputs of these magnitudes, else a message naming the
// dataset (or the synthetic tensor), the bound it breaks and the deck key or input to change.
std::string magnitude_problem(const Deck& deck, const AttnParams& p, const InputMagnitudes& m);

// Collective: the rank's Q rows and K/V keys; throws the same miniattn::Error
// (ExitCode::BadInput) on every rank when magnitude_problem finds one, else returns the
// magnitudes (the same on every rank).
InputMagnitudes check_magnitudes(const Comm& comm, const Deck& deck, const AttnParams& p,
                                 const HostView<float**>& q, const HostView<float**>& k,
                                 const HostView<float**>& v);

// Noise that int8 Q.K^T adds to a scaled score (natural-log units), estimated from the inputs'
// magnitudes: each operand is rounded to 1/127 of its row's largest value (at most the tensor's
// largest), a uniform error of variance step^2 / 12 per channel, weighted by the other
// operand's typical (RMS) value over d channels. 0 for a backend that does not quantise.
double score_noise(const AttnParams& p, const InputMagnitudes& m);

// For a failed verification: what most likely limits the accuracy of these inputs with these
// settings, and what to try.
std::string verification_hint(const AttnParams& p, const InputMagnitudes& m, bool quantized,
                              const ErrorStats& v, const Tolerances& t);

}  // namespace miniattn
