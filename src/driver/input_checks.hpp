// Input values the float32 kernels cannot take: magnitudes whose scores or P.V sums could
// leave float32 range (docs/numerics.md). Run after reading, before any compute. (NaN and Inf
// in a file are found first, with their index, by the driver's check_finite.)
#pragma once

#include <cstddef>

#include "miniattn/attn_params.hpp"
#include "miniattn/comm.hpp"
#include "miniattn/deck.hpp"

namespace miniattn {

struct InputMagnitudes {
  double q = 0.0, k = 0.0, v = 0.0;  // largest |value| of each tensor, over every rank
};

// Largest |value| of n floats (OpenMP-parallel). NaN is ignored (check_finite reports it).
double max_magnitude(const float* x, std::size_t n, int threads);

// "" when the kernels are safe with inputs of these magnitudes, else a message naming the
// dataset (or the synthetic tensor), the bound it breaks and the deck key or input to change.
std::string magnitude_problem(const Deck& deck, const AttnParams& p, const InputMagnitudes& m);

// Collective: the rank's Q rows (nq floats) and K/V heads (nkv floats each); throws the same
// miniattn::Error (ExitCode::BadInput) on every rank when magnitude_problem finds one.
void check_magnitudes(const Comm& comm, const Deck& deck, const AttnParams& p, const float* q,
                      std::size_t nq, const float* k, const float* v, std::size_t nkv,
                      int threads);

}  // namespace miniattn
