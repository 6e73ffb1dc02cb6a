// Timing of the register-resident peak loops of the sve backend's studies.
#pragma once

#include <cstdint>

#include "miniattn/clock.hpp"

namespace miniattn::sve {

// Calls body() (one call = ops_per_call operations) repeatedly for about `seconds` after one
// warm-up call; returns operations per second.
template <class Body>
double ops_per_second(double seconds, double ops_per_call, Body&& body) {
  body();
  int64_t calls = 0;
  const double t0 = wall_seconds();
  double t = t0;
  do {
    for (int i = 0; i < 16; ++i) body();
    calls += 16;
    t = wall_seconds();
  } while (t - t0 < seconds);
  return static_cast<double>(calls) * ops_per_call / (t - t0);
}

// Iterations of the inner loop of one peak-loop call (16 independent accumulators each).
inline constexpr int kPeakIters = 4096;

}  // namespace miniattn::sve
