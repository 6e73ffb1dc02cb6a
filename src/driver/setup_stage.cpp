// Setup: everything a run decides before it allocates anything big.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "driver/kokkos_session.hpp"
#include "driver/preflight.hpp"
#include "driver/stages.hpp"
#include "exec/ring_executor.hpp"
#include "miniattn/build_info.hpp"
#include "miniattn/clock.hpp"
#include "miniattn/peaks.hpp"
#include "miniattn/registry.hpp"


namespace miniattn {
namespace {

#if !MINIATTN_HAVE_HDF5
std::string with_option_hint(const char* what, const char* option) {
  return fmt::format("{} needs a build with -D{}=ON", what, option);
}
#endif

// The backend, the params it runs and the ring plan, agreed on by every rank.
void resolve_problem(RunState& s) {
  all_or_none(s.comm, [&] {
    const Deck& deck = s.deck;
    s.backend = create_backend(deck.run.backend);
    TileShape tile = s.backend->default_tiles(static_cast<int>(deck.problem.head_dim),
                                              deck.run.pv_precision);
    if (deck.run.tile_q > 0) tile.q = static_cast<int>(deck.run.tile_q);
    if (deck.run.tile_kv > 0) tile.kv = static_cast<int>(deck.run.tile_kv);
    s.p = make_attn_params(deck.shape(), deck.run.variant, deck.run.pv_precision, deck.run.exp2,
                           deck.run.qk_scales, deck.run.smooth_k, tile, deck.run.rotate);
    if (const std::string why = s.backend->check(s.p); !why.empty())
      throw Error(fmt::format("backend '{}' cannot run this deck: {}", s.backend->name(), why));
    if (deck.run.kv_mode == KvMode::Ring)
      s.ring = std::make_unique<RingPlan>(s.p, s.comm.size(), static_cast<int>(deck.run.ring_size));
#if !MINIATTN_HAVE_HDF5
    if (s.hdf5_input())
      throw Error(with_option_hint("[input] source = \"hdf5\"", "MINIATTN_ENABLE_HDF5"));
    if (!deck.output.file.empty())
      throw Error(with_option_hint("[output] file (set it to \"\" to run without output)",
                                   "MINIATTN_ENABLE_HDF5"));
#endif
  });
}

// Threads beyond a rank's cores time-share them: the results stay the same, the timings do
// not. Once, from rank 0, with the smallest core count of any rank.
void warn_if_threads_exceed_cores(const RunState& s) {
  const int64_t cores = s.comm.min(static_cast<int64_t>(available_cores()));
  if (!s.comm.root() || s.threads <= cores) return;
  const std::string source = s.deck.run.threads > 0
                                 ? fmt::format("[run] threads = {}", s.deck.run.threads)
                                 : fmt::format("{} threads per rank (OMP_NUM_THREADS or "
                                               "--kokkos-num-threads)", s.threads);
  fmt::print(stderr,
             "miniattn: warning: {} is more than the {} core(s) available to {} (its CPU "
             "affinity): threads will share cores and the timings will suffer; lower it to at "
             "most {}, or give each rank more cores (mpirun --bind-to none, or --map-by "
             "slot:PE={})\n",
             source, cores, s.comm.size() == 1 ? "the rank" : "a rank", cores, s.threads);
  std::fflush(stderr);
}

// Per-thread peaks for the report's "% of peak": the best backend's peak loops, best of 8 short
// trials on every rank (short, so that some trial runs between other processes' time slices),
// the maximum over ranks (a peak is a maximum). MINIATTN_PEAK_SECONDS sets each trial's length
// (default 0.005 s per unit, ~0.12 s in all), 0 turns it off.
void measure_peaks(RunState& s) {
  double seconds = 0.005;
  if (const char* env = std::getenv("MINIATTN_PEAK_SECONDS"); env && *env) seconds = std::atof(env);
  if (!(seconds > 0.0)) return;
  const std::optional<MachinePeakRates> m = measure_machine_peaks(seconds, 8);
  const double have = s.comm.min(m ? 1.0 : 0.0);
  if (have == 0.0) return;
  MachinePeaks pk;
  pk.int8_gops = s.comm.max(m->rates.int8_gops);
  pk.fp32_gflops = s.comm.max(m->rates.fp32_gflops);
  pk.bf16_gflops = s.comm.max(m->rates.bf16_gflops);
  pk.source = fmt::format("{} peak loops at start-up, best of 8 x {:g} s", m->backend, seconds);
  s.peak = pk;
}

void print_banner(const RunState& s) {
  if (!s.comm.root() || verbosity() == Verbosity::Quiet) return;
  const AttnParams& p = s.p;
  fmt::print("miniattn {} (git {}): backend {}, {} rank(s) x {} thread(s), B={} H={} Hkv={} "
             "Lq={} Lk={} D={}{}, variant {}, pv {}, exp2 {}\n",
             build::kVersion, build::kGitHash, s.backend->name(), s.comm.size(), s.threads,
             p.batch, p.heads, p.kv_heads, p.lq, p.lk, p.d, p.causal ? " causal" : "",
             to_string(p.variant), to_string(p.pv), to_string(p.exp2));
  std::fflush(stdout);
}

}  // namespace

void setup(RunState& s) {
  resolve_problem(s);
  // Before any compute: outputs that would destroy the deck, the input, each other or a file
  // that is not a regular file are refused.
  check_output_paths(s.comm, s.deck, s.deck_path);
  name_report(s);
  // Start-up instrumentation, not part of the run's `total`: the cycle counter's calibration
  // (~20 ms), not inside a timed run, and the peak loops (~0.15 s), a fixed cost per run
  // that would otherwise read as serial time in strong-scaling studies.
  const double t_instrument = wall_seconds();
  seconds_per_cycle();
  measure_peaks(s);
  s.t_start += wall_seconds() - t_instrument;
  s.threads = host_threads();
  warn_if_threads_exceed_cores(s);
  s.dec = std::make_unique<Decomposition>(s.p, s.comm.size());
  s.slice = s.ring ? ring_slice(*s.ring, s.comm.rank()) : replicated_slice(s.p, *s.dec, s.comm.rank());
  s.slice.progress = &s.progress;
  print_banner(s);

  // Memory of every rank of each node against what the node has, and the report path.
  const MemoryEstimate mem =
      preflight(s.comm, s.deck, *s.backend, s.p, s.slice, s.threads, s.ring != nullptr);
  s.progress.note(fmt::format("rank 0: {} work items, {} query rows, {} KV heads; memory {} "
                              "({} per thread); predicted imbalance {:.1f}%",
                              s.slice.items.size(), s.slice.row_set.size(), s.slice.groups.size(),
                              format_bytes(mem.total()), format_bytes(mem.per_thread),
                              100.0 * s.predicted_imbalance()));
  open_output(s);
}

}  // namespace miniattn
