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

// Rounds of the inner loop of one peak-loop call, and the independent accumulators per round:
// 24 chains cover A64FX's 9-cycle fmla latency on 2 pipes (18 needed), and match the 24
// accumulators of the 6x4 microkernels.
inline constexpr int kPeakIters = 2048;
inline constexpr int kPeakChains = 24;

// kPeakIters rounds of a = op(a, x, y) on kPeakChains accumulators, summed with add (so that
// nothing is dead). op and add are captureless: a lambda capturing vectors would keep them in
// memory.
template <class V, class S, class Op, class Add>
V peak_chains(V z, S x, S y, Op op, Add add) {
  V a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z, a8 = z, a9 = z, a10 = z;
  V a11 = z, a12 = z, a13 = z, a14 = z, a15 = z, a16 = z, a17 = z, a18 = z, a19 = z, a20 = z;
  V a21 = z, a22 = z, a23 = z;
  for (int i = 0; i < kPeakIters; ++i) {
    a0 = op(a0, x, y), a1 = op(a1, x, y), a2 = op(a2, x, y), a3 = op(a3, x, y);
    a4 = op(a4, x, y), a5 = op(a5, x, y), a6 = op(a6, x, y), a7 = op(a7, x, y);
    a8 = op(a8, x, y), a9 = op(a9, x, y), a10 = op(a10, x, y), a11 = op(a11, x, y);
    a12 = op(a12, x, y), a13 = op(a13, x, y), a14 = op(a14, x, y), a15 = op(a15, x, y);
    a16 = op(a16, x, y), a17 = op(a17, x, y), a18 = op(a18, x, y), a19 = op(a19, x, y);
    a20 = op(a20, x, y), a21 = op(a21, x, y), a22 = op(a22, x, y), a23 = op(a23, x, y);
  }
  const V b0 = add(add(add(a0, a1), add(a2, a3)), add(add(a4, a5), add(a6, a7)));
  const V b1 = add(add(add(a8, a9), add(a10, a11)), add(add(a12, a13), add(a14, a15)));
  const V b2 = add(add(add(a16, a17), add(a18, a19)), add(add(a20, a21), add(a22, a23)));
  return add(add(b0, b1), b2);
}

// Instructions of one peak_chains call.
inline constexpr double kPeakInstructions = static_cast<double>(kPeakIters) * kPeakChains;

}  // namespace miniattn::sve
