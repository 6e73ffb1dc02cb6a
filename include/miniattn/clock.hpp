// Cheap clocks: a cycle counter for per-tile timing inside kernels (rdtsc on x86-64, the
// virtual counter on aarch64, nanoseconds elsewhere) and a wall clock for phases.
#pragma once

#include <chrono>
#include <cstdint>

#if defined(__x86_64__) || defined(_M_X64)
#include <x86intrin.h>
#endif

namespace miniattn {

inline uint64_t cycle_now() {
#if defined(__x86_64__) || defined(_M_X64)
  return __rdtsc();
#elif defined(__aarch64__)
  uint64_t v;
  asm volatile("mrs %0, cntvct_el0" : "=r"(v));
  return v;
#else
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
#endif
}

// Seconds per tick of cycle_now(), calibrated once against the steady clock (about 20 ms).
double seconds_per_cycle();

inline double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace miniattn
