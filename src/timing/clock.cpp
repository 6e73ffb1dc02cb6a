#include "miniattn/clock.hpp"

#include <thread>

namespace miniattn {

double seconds_per_cycle() {
  static const double value = [] {
#if defined(__aarch64__)
    uint64_t freq;
    asm volatile("mrs %0, cntfrq_el0" : "=r"(freq));
    return 1.0 / static_cast<double>(freq);
#elif defined(__x86_64__) || defined(_M_X64)
    // The TSC ticks at a constant rate (constant_tsc): calibrate against the steady clock.
    const double w0 = wall_seconds();
    const uint64_t c0 = cycle_now();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const double w1 = wall_seconds();
    const uint64_t c1 = cycle_now();
    return (w1 - w0) / static_cast<double>(c1 - c0);
#else
    return 1e-9;
#endif
  }();
  return value;
}

}  // namespace miniattn
