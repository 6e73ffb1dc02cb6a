// Attention: the rank's executor, and the warmup and timed runs of it.
#include <algorithm>
#include <cstdio>
#include <vector>

#include <fmt/format.h>

#include "driver/stages.hpp"
#include "exec/cpu_executor.hpp"
#include "exec/ring_executor.hpp"
#include "miniattn/clock.hpp"

namespace miniattn {

void make_executor(RunState& s) {
  if (s.ring)
    s.exec = std::make_unique<RingExecutor>(*s.backend, s.p, *s.ring, s.slice, s.comm);
  else
    s.exec = s.backend->make_executor(s.p, *s.dec, s.slice, s.threads);
  if (!s.exec) s.exec = std::make_unique<CpuExecutor>(*s.backend, s.p, *s.dec, s.slice);
}

// Before the timed runs: ring mode times its link and a step without transfers (the report's
// ring section); with --verbose, replicated mode times the same exchange between rank
// neighbours, which its collectives use, and prints it.
void measure_links_now(RunState& s) {
  if (s.ring) {
    static_cast<RingExecutor&>(*s.exec).measure();
    return;
  }
  if (verbosity() != Verbosity::Verbose || s.comm.size() < 2) return;
  const LinkStats l = measure_ring_link(s.comm, static_cast<std::size_t>(-1));
  if (s.comm.root())
    std::fputs(fmt::format("link      rank i -> i+1 while i-1 -> i ({} ranks): latency {:.2f} us "
                           "(8 B), bandwidth {:.4g} MB/s ({} B messages)\n",
                           s.comm.size(), 1e6 * l.latency_s, 1e-6 * l.bandwidth_Bps, l.bytes)
                   .c_str(),
               stdout);
}

// Start-up instrumentation, not part of the run's `total` (as the peak loops in setup).
void measure_links(RunState& s) {
  const double t0 = wall_seconds();
  measure_links_now(s);
  s.t_start += wall_seconds() - t0;
}

void run_attention(RunState& s) {
  struct Timed {
    double max_seconds;
    PhaseSeconds phases;
    double other;
  };
  std::vector<Timed> runs;
  const int64_t warmup = s.deck.run.warmup;
  const int64_t total = warmup + s.deck.run.repeat;
  measure_links(s);
  for (int64_t it = 0; it < total; ++it) {
    PhaseSeconds ph;
    s.comm.barrier();
    s.progress.begin_run(it, total, warmup, s.slice.items.size());
    const double t0 = wall_seconds();
    const double other = s.exec->run(ph);
    const double seconds = s.comm.max(wall_seconds() - t0);
    s.progress.end_run(seconds);
    if (it >= warmup) runs.push_back({seconds, ph, other});
  }
  // The run with the median time (the same run on every rank: the times are global).
  std::vector<std::size_t> order(runs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return runs[a].max_seconds < runs[b].max_seconds; });
  const Timed& med = runs[order[(order.size() - 1) / 2]];
  s.phases += med.phases;
  s.kernel_other = med.other;
  for (const Timed& r : runs) s.kernel_runs.push_back(r.max_seconds);
}

}  // namespace miniattn
