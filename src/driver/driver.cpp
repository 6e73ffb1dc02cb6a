#include "driver/driver.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <thread>
#include <utility>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "driver/failure.hpp"
#include "driver/input_checks.hpp"
#include "driver/preflight.hpp"
#include "driver/progress.hpp"
#include "exec/cpu_executor.hpp"
#include "exec/ring_executor.hpp"
#include "kernels/reference/reference_backend.hpp"
#include "miniattn/build_info.hpp"
#include "miniattn/buffer.hpp"
#include "miniattn/clock.hpp"
#include "miniattn/comm.hpp"
#include "miniattn/cpu_features.hpp"
#include "miniattn/deck.hpp"
#include "miniattn/decomp.hpp"
#include "miniattn/output_paths.hpp"
#include "miniattn/peaks.hpp"
#include "miniattn/registry.hpp"
#include "miniattn/report.hpp"
#include "miniattn/synthetic.hpp"
#include "miniattn/timers.hpp"
#include "miniattn/verify.hpp"

#if MINIATTN_HAVE_HDF5
#include "miniattn/hdf5_io.hpp"
#endif
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__linux__)
#include <sched.h>
#endif

namespace miniattn {
namespace {

// The cores this rank may run on (its affinity mask).
int available_cores() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// Threads per rank: the deck's value, else OMP_NUM_THREADS, else every core the rank may use.
int resolve_threads(int64_t deck_threads) {
#ifdef _OPENMP
  if (deck_threads > 0) return static_cast<int>(deck_threads);
  if (const char* env = std::getenv("OMP_NUM_THREADS"); env && *env) return omp_get_max_threads();
  return available_cores();
#else
  (void)deck_threads;
  return 1;
#endif
}

#if !MINIATTN_HAVE_HDF5
std::string with_option_hint(const char* what, const char* option) {
  return fmt::format("{} needs a build with -D{}=ON", what, option);
}
#endif

class Run {
 public:
  Run(const Deck& deck, std::string deck_path, const Comm& comm)
      : deck_(deck), deck_path_(std::move(deck_path)), comm_(comm), t_start_(wall_seconds()) {}

  // Outputs are written under temporary names and renamed into place by commit(), the last
  // step: a run that fails (exit 2 or 3) leaves no output and every existing file as it was. A
  // run whose verification fails (exit 1) has completed: it keeps its outputs, with
  // /verification passed = 0.
  int execute() {
    try {
      inject_fault(comm_, "setup");
      setup();
      set_temporary_outputs(temporary_outputs());
      inject_fault(comm_, "allocate");
      allocate();
      inject_fault(comm_, "read");
      read();
      inject_fault(comm_, "attention");
      attention();
      inject_fault(comm_, "verify");
      verify();
      inject_fault(comm_, "write");
      write();
      inject_fault(comm_, "report");
      const int code = report();
      inject_fault(comm_, "commit");
      commit();
      set_temporary_outputs({});
      return code;
    } catch (const Error& e) {
      if (e.agreed()) {
        // Every rank ends normally; the HDF5 temporary goes with the writer.
        set_temporary_outputs({});
        if (comm_.root() && !report_temp_.empty()) std::remove(report_temp_.c_str());
        throw;
      }
      end_job(comm_, e.what(), e.code());
    } catch (const std::exception& e) {
      end_job(comm_, e.what(), ExitCode::RuntimeFailure);
    }
  }

 private:
  RowLayout q_layout() const { return {p_.batch, p_.heads, p_.lq, p_.d}; }
  RowLayout kv_layout() const { return {p_.batch, p_.kv_heads, p_.lk, p_.d}; }
  bool hdf5_input() const { return deck_.input.source == InputSource::Hdf5; }

  void setup() {
    all_or_none(comm_, [&] {
      backend_ = create_backend(deck_.run.backend);
      const Deck::Problem& pr = deck_.problem;
      TileShape tile = backend_->default_tiles(static_cast<int>(pr.head_dim), deck_.run.pv_precision);
      if (deck_.run.tile_q > 0) tile.q = static_cast<int>(deck_.run.tile_q);
      if (deck_.run.tile_kv > 0) tile.kv = static_cast<int>(deck_.run.tile_kv);
      p_ = make_attn_params(deck_.shape(), deck_.run.variant, deck_.run.pv_precision,
                            deck_.run.exp2, deck_.run.qk_scales, deck_.run.smooth_k, tile,
                            deck_.run.rotate);
      if (const std::string why = backend_->check(p_); !why.empty())
        throw Error(fmt::format("backend '{}' cannot run this deck: {}", backend_->name(), why));
      if (deck_.run.kv_mode == KvMode::Ring)
        ring_ = std::make_unique<RingPlan>(p_, comm_.size(), static_cast<int>(deck_.run.ring_size));
#if !MINIATTN_HAVE_HDF5
      if (hdf5_input())
        throw Error(with_option_hint("[input] source = \"hdf5\"", "MINIATTN_ENABLE_HDF5"));
      if (!deck_.output.file.empty())
        throw Error(with_option_hint("[output] file (set it to \"\" to run without output)",
                                     "MINIATTN_ENABLE_HDF5"));
#endif
    });
    // Before any compute: outputs that would destroy the deck, the input, each other or a file
    // that is not a regular file are refused.
    check_output_paths(comm_, deck_, deck_path_);
    if (!deck_.output.report.empty()) {
      if (comm_.root()) report_temp_ = temporary_name(deck_.output.report);
      comm_.broadcast(report_temp_, 0);
    }
    // Start-up instrumentation, not part of the run's `total`: the cycle counter's calibration
    // (~20 ms), not inside a timed run, and the peak loops (~0.15 s), a fixed cost per run
    // that would otherwise read as serial time in strong-scaling studies.
    const double t_instrument = wall_seconds();
    seconds_per_cycle();
    measure_peaks();
    t_start_ += wall_seconds() - t_instrument;
    threads_ = resolve_threads(deck_.run.threads);
    warn_if_threads_exceed_cores();
#ifdef _OPENMP
    omp_set_num_threads(threads_);
#endif
    dec_ = std::make_unique<Decomposition>(p_, comm_.size());
    slice_ = ring_ ? ring_slice(*ring_, comm_.rank()) : replicated_slice(p_, *dec_, comm_.rank());
    slice_.progress = &progress_;

    if (comm_.root() && verbosity() != Verbosity::Quiet) {
      fmt::print("miniattn {} (git {}): backend {}, {} rank(s) x {} thread(s), B={} H={} Hkv={} "
                 "Lq={} Lk={} D={}{}, variant {}, pv {}, exp2 {}\n",
                 build::kVersion, build::kGitHash, backend_->name(), comm_.size(), threads_,
                 p_.batch, p_.heads, p_.kv_heads, p_.lq, p_.lk, p_.d, p_.causal ? " causal" : "",
                 to_string(p_.variant), to_string(p_.pv), to_string(p_.exp2));
      std::fflush(stdout);
    }

    // Memory of every rank of each node against what the node has, and the report path.
    const MemoryEstimate mem = preflight(comm_, deck_, *backend_, p_, slice_, threads_, ring_ != nullptr);
    progress_.note(fmt::format("rank 0: {} work items, {} query rows, {} KV heads; memory {} "
                               "({} per thread); predicted imbalance {:.1f}%",
                               slice_.items.size(), slice_.row_set.size(), slice_.groups.size(),
                               format_bytes(mem.total()), format_bytes(mem.per_thread),
                               100.0 * predicted_imbalance()));

#if MINIATTN_HAVE_HDF5
    // Create the output file now, under a temporary name: an unwritable path fails before any
    // compute, and a run that fails later leaves nothing behind.
    if (!deck_.output.file.empty())
      all_or_none(comm_, [&] { writer_ = std::make_unique<H5Writer>(comm_, deck_.output.file); });
#endif
  }

  std::vector<std::string> temporary_outputs() const {
    std::vector<std::string> temps{report_temp_};
#if MINIATTN_HAVE_HDF5
    if (writer_) temps.push_back(writer_->temp_path());
#endif
    return temps;
  }

  // Threads beyond a rank's cores time-share them: the results stay the same, the timings do
  // not. Once, from rank 0, with the smallest core count of any rank.
  void warn_if_threads_exceed_cores() const {
    const int64_t cores = comm_.min(static_cast<int64_t>(available_cores()));
    if (!comm_.root() || threads_ <= cores) return;
    const std::string source = deck_.run.threads > 0
                                   ? fmt::format("[run] threads = {}", deck_.run.threads)
                                   : fmt::format("OMP_NUM_THREADS = {}", threads_);
    fmt::print(stderr,
               "miniattn: warning: {} is more than the {} core(s) available to {} (its CPU "
               "affinity): threads will share cores and the timings will suffer; lower it to at "
               "most {}, or give each rank more cores (mpirun --bind-to none, or --map-by "
               "slot:PE={})\n",
               source, cores, comm_.size() == 1 ? "the rank" : "a rank", cores, threads_);
    std::fflush(stderr);
  }

  // Per-thread peaks for the report's "% of peak": the best backend's peak loops, best of 8 short
  // trials on every rank (short, so that some trial runs between other processes' time slices),
  // the maximum over ranks (a peak is a maximum). MINIATTN_PEAK_SECONDS sets each trial's length
  // (default 0.005 s per unit, ~0.12 s in all), 0 turns it off.
  double predicted_imbalance() const {
    return ring_ ? ring_->predicted_imbalance() : dec_->predicted_imbalance();
  }

  void measure_peaks() {
    double seconds = 0.005;
    if (const char* env = std::getenv("MINIATTN_PEAK_SECONDS"); env && *env) seconds = std::atof(env);
    if (!(seconds > 0.0)) return;
    const std::optional<MachinePeakRates> m = measure_machine_peaks(seconds, 8);
    const double have = comm_.min(m ? 1.0 : 0.0);
    if (have == 0.0) return;
    MachinePeaks pk;
    pk.int8_gops = comm_.max(m->rates.int8_gops);
    pk.fp32_gflops = comm_.max(m->rates.fp32_gflops);
    pk.bf16_gflops = comm_.max(m->rates.bf16_gflops);
    pk.source = fmt::format("{} peak loops at start-up, best of 8 x {:g} s", m->backend, seconds);
    peak_ = pk;
  }

  void allocate() {
    all_or_none(comm_, [&] {
      const std::size_t d = static_cast<std::size_t>(p_.d);
      const std::size_t rows = static_cast<std::size_t>(slice_.row_set.size());
      const std::size_t keys = static_cast<std::size_t>(slice_.kv_set.size());
      try {
        q_.allocate("q", rows * d);
        o_.allocate("o", rows * d);
        lse_.allocate("lse", rows);
        k_.allocate("k", keys * d);
        v_.allocate("v", keys * d);
        slice_.q = q_.data();
        slice_.k = k_.data();
        slice_.v = v_.data();
        slice_.o = o_.data();
        slice_.lse = lse_.data();
        if (ring_)
          exec_ = std::make_unique<RingExecutor>(*backend_, p_, *ring_, slice_, threads_, comm_);
        else
          exec_ = backend_->make_executor(p_, *dec_, slice_, threads_);
        if (!exec_) exec_ = std::make_unique<CpuExecutor>(*backend_, p_, *dec_, slice_, threads_);
      } catch (const std::bad_alloc&) {
        throw Error(fmt::format("rank {}: out of memory allocating {} query rows and {} keys of "
                                "head_dim {}; lower [problem] batch, heads or seq_len, or use "
                                "more ranks",
                                comm_.rank(), rows, keys, d),
                    ExitCode::RuntimeFailure);
      }
    });
  }

  void read() {
    ScopedPhase timer(phases_, Phase::Read);
    if (!hdf5_input()) {
      const Deck::Input& in = deck_.input;
      auto generate = [&](Tensor t, int64_t heads, int64_t len, const RowSet& rows, float* out) {
        for (const Range& r : rows.ranges) {
          synthetic_rows(in.distribution, in.seed, t, heads, len, p_.d, r.begin, r.end, out);
          out += r.size() * p_.d;
        }
      };
      generate(Tensor::Q, p_.heads, p_.lq, slice_.row_set, q_.data());
      generate(Tensor::K, p_.kv_heads, p_.lk, slice_.kv_set, k_.data());
      generate(Tensor::V, p_.kv_heads, p_.lk, slice_.kv_set, v_.data());
      check_input_magnitudes();
      return;
    }
#if MINIATTN_HAVE_HDF5
    all_or_none(comm_, [&] {
      if (comm_.root()) check_input_file_isolated(deck_.input_spec());
    });
    all_or_none(comm_, [&] {
      H5Reader reader(comm_, deck_.input.file);
      RowLayout q_file = q_layout(), kv_file = kv_layout();
      q_file.order = kv_file.order = deck_.input.layout;
      reader.read_rows(deck_.input.q, q_file, slice_.row_set, q_.data());
      reader.read_rows(deck_.input.k, kv_file, slice_.kv_set, k_.data());
      reader.read_rows(deck_.input.v, kv_file, slice_.kv_set, v_.data());
    });
    check_finite();
    check_input_magnitudes();
#endif
  }

  // Scores and P.V sums of these inputs must stay in float32 range (docs/numerics.md).
  void check_input_magnitudes() {
    magnitudes_ = check_magnitudes(comm_, deck_, p_, q_.data(), q_.size(), k_.data(), v_.data(),
                                   k_.size(), threads_);
  }

  // NaN or Inf in a file is reported with the dataset and the first offending index.
  void check_finite() {
    struct Tensor3 {
      const std::string* name;
      const float* data;
      const RowSet& rows;
      int64_t heads, len;
    };
    const Tensor3 tensors[] = {
        {&deck_.input.q, q_.data(), slice_.row_set, p_.heads, p_.lq},
        {&deck_.input.k, k_.data(), slice_.kv_set, p_.kv_heads, p_.lk},
        {&deck_.input.v, v_.data(), slice_.kv_set, p_.kv_heads, p_.lk}};
    for (const Tensor3& t : tensors) {
      constexpr int64_t kNone = std::numeric_limits<int64_t>::max();
      int64_t first = kNone;
      const int64_t n = t.rows.size() * p_.d;
      for (int64_t i = 0; i < n; ++i)
        if (!std::isfinite(t.data[i])) {
          // Global flat element index, times 2, plus 1 for Inf (0 for NaN).
          first = ((t.rows.global(i / p_.d) * p_.d + i % p_.d) << 1) | (std::isinf(t.data[i]) ? 1 : 0);
          break;
        }
      first = comm_.min(first);
      if (first == kNone) continue;
      const int64_t e = first >> 1;
      const int64_t col = e % p_.d, row = e / p_.d;
      const int64_t i = row % t.len, bh = row / t.len;
      // Every rank found the same index: agree on the error (rank 0's copy of it).
      raise_if_any(comm_,
                   fmt::format("input file {}: dataset '{}' contains {} at (batch, head, row, "
                               "channel) = ({}, {}, {}, {}); inputs must be finite",
                               deck_.input.file, *t.name, (first & 1) ? "Inf" : "NaN",
                               bh / t.heads, bh % t.heads, i, col),
                   ExitCode::BadInput);
    }
  }

  void attention() {
    struct Timed {
      double max_seconds;
      PhaseSeconds phases;
      double other;
    };
    std::vector<Timed> runs;
    const int64_t total = deck_.run.warmup + deck_.run.repeat;
    for (int64_t it = 0; it < total; ++it) {
      PhaseSeconds ph;
      comm_.barrier();
      progress_.begin_run(it, total, deck_.run.warmup, slice_.items.size());
      const double t0 = wall_seconds();
      const double other = exec_->run(ph);
      const double seconds = comm_.max(wall_seconds() - t0);
      progress_.end_run(seconds);
      if (it >= deck_.run.warmup) runs.push_back({seconds, ph, other});
    }
    // The run with the median time (the same run on every rank: the times are global).
    std::vector<std::size_t> order(runs.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return runs[a].max_seconds < runs[b].max_seconds; });
    const Timed& med = runs[order[(order.size() - 1) / 2]];
    phases_ += med.phases;
    kernel_other_ = med.other;
    for (const Timed& r : runs) kernel_runs_.push_back(r.max_seconds);
  }

  void verify() {
    if (deck_.verify.mode == VerifyMode::None) return;
    ScopedPhase timer(phases_, Phase::Verify);
    // Rows to check, grouped into tasks of up to 16 rows of one (b, h).
    const int d = p_.d;
    std::vector<ReferenceTask> tasks;
    const std::vector<int64_t> sample =
        sampled_rows(p_.lq, deck_.verify.mode == VerifyMode::Full ? p_.lq : deck_.verify.rows);
    for (int64_t bh = slice_.rows.begin / p_.lq; bh * p_.lq < slice_.rows.end; ++bh) {
      ReferenceTask t;
      t.bh = bh;
      for (int64_t i : sample) {
        const int64_t local = slice_.row_set.local(bh * p_.lq + i);
        if (local < 0) continue;
        t.rows.push_back(i);
        t.q.insert(t.q.end(), q_.data() + local * d, q_.data() + (local + 1) * d);
        if (t.rows.size() == 16) {
          tasks.push_back(t);
          t.rows.clear();
          t.q.clear();
        }
      }
      if (!t.rows.empty()) tasks.push_back(t);
    }
    // Ring mode: the executor computes the reference over the keys spread around the ring.
    const bool have_reference = exec_->reference(tasks);
    std::vector<ErrorAccum> acc(tasks.size());
    const int64_t ntasks = static_cast<int64_t>(tasks.size());
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads_)
    for (int64_t ti = 0; ti < ntasks; ++ti) {
      ReferenceTask& t = tasks[ti];
      const int n = static_cast<int>(t.rows.size());
      if (!have_reference) {
        t.o.resize(static_cast<std::size_t>(n) * d);
        t.lse.resize(static_cast<std::size_t>(n));
        const int64_t b = t.bh / p_.heads, h = t.bh % p_.heads;
        const int64_t g = b * p_.kv_heads + p_.kv_head_of(h) - slice_.groups.begin;
        const std::size_t koff = static_cast<std::size_t>(g * p_.lk) * d;
        reference_rows(p_, t.q.data(), t.rows.data(), n, k_.data() + koff, v_.data() + koff,
                       p_.lk, t.o.data(), t.lse.data());
      }
      for (int r = 0; r < n; ++r) {
        const int64_t local = slice_.row_set.local(t.bh * p_.lq + t.rows[r]);
        acc[ti].add(o_.data() + local * d, t.o.data() + static_cast<std::size_t>(r) * d, d);
        acc[ti].add_lse(lse_[local], t.lse[r]);
      }
    }
    ErrorAccum total;
    for (const ErrorAccum& a : acc) total.merge(a);
    double sums[] = {total.abs_diff, total.abs_ref, total.sq_diff, total.sq_ref, total.sq_out,
                     total.dot, static_cast<double>(total.rows), static_cast<double>(total.nonfinite),
                     static_cast<double>(total.lse_rows), static_cast<double>(total.lse_mismatches)};
    comm_.sum_inplace(sums, 10);
    ErrorAccum global;
    global.max_abs = comm_.max(total.max_abs);
    global.lse_max_abs = comm_.max(total.lse_max_abs);
    global.lse_rows = static_cast<int64_t>(sums[8]);
    global.lse_mismatches = static_cast<int64_t>(sums[9]);
    global.abs_diff = sums[0];
    global.abs_ref = sums[1];
    global.sq_diff = sums[2];
    global.sq_ref = sums[3];
    global.sq_out = sums[4];
    global.dot = sums[5];
    global.rows = static_cast<int64_t>(sums[6]);
    global.nonfinite = static_cast<int64_t>(sums[7]);
    verification_ = global.finish(tolerances());
    if (!verification_->passed)
      verify_hint_ = verification_hint(p_, magnitudes_, backend_->quantized(), *verification_,
                                       tolerances());
  }

  Tolerances tolerances() const {
    return {deck_.verify.max_rel_l2, deck_.verify.min_cosine, deck_.verify.max_lse_abs};
  }

  void write() {
#if MINIATTN_HAVE_HDF5
    if (writer_) {
      ScopedPhase timer(phases_, Phase::Write);
      all_or_none(comm_, [&] {
        writer_->write_rows("O", q_layout(), slice_.row_set, o_.data());
        if (deck_.output.write_lse) {
          RowLayout l = q_layout();
          l.d = 0;
          writer_->write_rows("LSE", l, slice_.row_set, lse_.data());
        }
      });
    }
#endif
    phases_[Phase::Total] = wall_seconds() - t_start_;
    std::vector<double> mine(phases_.s.begin(), phases_.s.end());
    all_phases_ = comm_.allgather(mine);
#if MINIATTN_HAVE_HDF5
    if (!writer_) return;
    all_or_none(comm_, [&] {
      writer_->write_attributes("/", root_attributes());
      std::vector<std::string> names;
      for (int i = 0; i < kNumPhases; ++i) names.emplace_back(phase_name(static_cast<Phase>(i)));
      writer_->write_timing(all_phases_, comm_.size(), names);
      if (verification_) {
        const ErrorStats& v = *verification_;
        writer_->write_attributes(
            "/verification",
            {{"max_abs", v.max_abs},
             {"rel_l1", v.rel_l1},
             {"rel_l2", v.rel_l2},
             {"cosine", v.cosine},
             {"rows_checked", v.rows_checked},
             {"passed", static_cast<int64_t>(v.passed ? 1 : 0)},
             {"mode", std::string(to_string(deck_.verify.mode))},
             {"max_rel_l2", deck_.verify.max_rel_l2},
             {"min_cosine", deck_.verify.min_cosine},
             {"lse_max_abs", v.lse_max_abs},
             {"lse_rows_checked", v.lse_rows},
             {"max_lse_abs", deck_.verify.max_lse_abs}});
      }
      writer_->close();  // renamed into place by commit(), the last step
    });
#endif
  }

  // I/O volume and the executor's figures (ring traffic), reduced over ranks.
  void add_scaleout_facts(RunSummary& s) const {
    const double row_bytes = static_cast<double>(p_.d) * sizeof(float);
    s.read_bytes = comm_.sum(static_cast<double>(slice_.row_set.size() + 2 * slice_.kv_set.size()) * row_bytes);
    s.input_source = std::string(to_string(deck_.input.source));
#if MINIATTN_HAVE_HDF5
    if (writer_)
      s.write_bytes = comm_.sum(static_cast<double>(slice_.row_set.size()) *
                                (row_bytes + (deck_.output.write_lse ? sizeof(float) : 0)));
#endif
    for (const ExecutorStat& e : exec_->stats())
      s.executor_stats.push_back({e.name, comm_.min(e.value), comm_.sum(e.value) / comm_.size(),
                                  comm_.max(e.value)});
  }

#if MINIATTN_HAVE_HDF5
  std::vector<NamedAttr> root_attributes() const {
    return {{"deck", to_toml(deck_)},
            {"version", std::string(build::kVersion)},
            {"git", std::string(build::kGitHash)},
            {"backend", std::string(backend_->name())},
            {"variant", std::string(to_string(p_.variant))},
            {"pv_precision", std::string(to_string(p_.pv))},
            {"exp2", std::string(to_string(p_.exp2))},
            {"qk_scales", std::string(to_string(p_.qk_scales))},
            {"smooth_k", static_cast<int64_t>(p_.smooth_k)},
            {"rotate", std::string(to_string(p_.rotate))},
            {"tile_q", static_cast<int64_t>(p_.tile.q)},
            {"tile_kv", static_cast<int64_t>(p_.tile.kv)},
            {"kv_mode", std::string(to_string(deck_.run.kv_mode))},
            {"ranks", static_cast<int64_t>(comm_.size())},
            {"threads_per_rank", static_cast<int64_t>(threads_)},
            {"cpu", cpu_features().model + " [" + cpu_features().summary() + "]"}};
  }
#endif

  int report() {
    RunSummary s;
    s.backend = std::string(backend_->name());
    s.cpu = cpu_features().model + " [" + cpu_features().summary() + "]";
    s.params = p_;
    s.ranks = comm_.size();
    s.threads_per_rank = threads_;
    s.kv_mode = std::string(to_string(deck_.run.kv_mode));
    s.repeat = static_cast<int>(deck_.run.repeat);
    s.warmup = static_cast<int>(deck_.run.warmup);
    s.phase_seconds = all_phases_;
    s.kernel_runs = kernel_runs_;
    s.kernel_other_max = comm_.max(kernel_other_);
    s.ops = 4.0 * p_.d * p_.unmasked_scores();
    s.predicted_imbalance = predicted_imbalance();
    add_scaleout_facts(s);
    s.verification = verification_;
    s.peak = peak_;
    s.verify_mode = std::string(to_string(deck_.verify.mode));
    s.tolerances = tolerances();
    s.verify_hint = verify_hint_;
    s.output_file = deck_.output.file;
    s.git_hash = build::kGitHash;
    if (comm_.root()) {
      // --quiet: the one greppable line only.
      fmt::print("{}{}\n", verbosity() == Verbosity::Quiet ? "" : format_table(s), summary_line(s));
      std::fflush(stdout);
    }
    all_or_none(comm_, [&] {
      if (!comm_.root() || report_temp_.empty()) return;
      std::ofstream f(report_temp_);
      f << report_json(s) << '\n';
      f.close();
      if (!f)
        throw Error(fmt::format("[output] report = \"{}\": cannot write the JSON report to {}",
                                deck_.output.report, report_temp_),
                    ExitCode::RuntimeFailure);
    });
    if (verification_ && !verification_->passed) return static_cast<int>(ExitCode::VerificationFailed);
    return 0;
  }

  // The very last step, once every rank has got here: the outputs replace what their paths held.
  void commit() {
    comm_.barrier();
#if MINIATTN_HAVE_HDF5
    if (writer_) writer_->commit();
#endif
    all_or_none(comm_, [&] {
      if (!comm_.root() || report_temp_.empty()) return;
      if (std::rename(report_temp_.c_str(), deck_.output.report.c_str()) != 0)
        throw Error(fmt::format("[output] report = \"{}\": cannot rename {} to it ({})",
                                deck_.output.report, report_temp_, std::strerror(errno)),
                    ExitCode::RuntimeFailure);
    });
  }

  const Deck deck_;
  const std::string deck_path_;
  const Comm& comm_;
  double t_start_;
  std::unique_ptr<Backend> backend_;
  AttnParams p_;
  int threads_ = 1;
  std::unique_ptr<Decomposition> dec_;
  std::unique_ptr<RingPlan> ring_;  // kv_mode = "ring"
  RankSlice slice_;
  Progress progress_{comm_.root()};
  Buffer<float> q_, k_, v_, o_, lse_;
  std::unique_ptr<RankExecutor> exec_;
#if MINIATTN_HAVE_HDF5
  std::unique_ptr<H5Writer> writer_;
#endif
  std::string report_temp_;  // the JSON report until commit(); "" = no report
  PhaseSeconds phases_;
  std::vector<double> all_phases_;
  std::vector<double> kernel_runs_;
  double kernel_other_ = 0.0;
  std::optional<ErrorStats> verification_;
  InputMagnitudes magnitudes_;
  std::string verify_hint_;
  std::optional<MachinePeaks> peak_;
};

void print_backends() {
  const CpuFeatures& f = cpu_features();
  fmt::print("CPU: {} ({}) [{}]\n", f.model.empty() ? "unknown" : f.model, f.arch, f.summary());
  fmt::print("{:<10} {:<9} {:<10} {:>8}  {}\n", "backend", "compiled", "supported", "priority",
             "detail");
  for (const BackendInfo& b : backend_infos())
    fmt::print("{:<10} {:<9} {:<10} {:>8}  {}{}\n", b.name, b.compiled ? "yes" : "no",
               b.supported ? "yes" : "no", b.priority, b.detail,
               b.compiled ? "" : fmt::format(" (enable with {})", b.enable));
  fmt::print("auto -> {}\n", auto_backend_name());
}

}  // namespace

int run_app(int argc, char** argv) {
  const Comm comm = Comm::world();
  use_kokkos_regions();
  CLI::App app{"miniattn: multi-head attention mini-app (INT8 GEMMs, exp2 softmax, fused kernels)",
               "miniattn"};
  std::string deck_path;
  std::vector<std::string> sets;
  std::string backend;
  bool list_backends = false, print_deck = false, version = false, quiet = false, verbose = false;
  app.add_option("deck", deck_path, "Input deck (TOML); see inputs/ and docs/")->type_name("DECK.toml");
  app.add_option("--set", sets, "Override a deck value, e.g. --set problem.seq_len=8192 (repeatable)")
      ->type_name("SECTION.KEY=VALUE")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--backend", backend, "Backend to run (same as --set run.backend=NAME)")
      ->type_name("NAME");
  app.add_flag("--list-backends", list_backends, "List the backends built in and what this CPU runs");
  app.add_flag("--print-deck", print_deck, "Print the effective deck (defaults and overrides applied)");
  app.add_flag("--version", version, "Print the version and build facts");
  auto* quiet_flag = app.add_flag("--quiet", quiet, "Print only the summary line, warnings and errors");
  app.add_flag("--verbose", verbose,
               "Progress on stderr even when it is not a terminal, and more detail")
      ->excludes(quiet_flag);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Every rank parsed the same argv; only rank 0 speaks.
    if (e.get_exit_code() == 0) {  // --help
      if (comm.root()) app.exit(e);
      return 0;
    }
    if (comm.root()) {
      fmt::print(stderr, "miniattn: error: {}\nRun with --help for more information.\n", e.what());
      std::fflush(stderr);
    }
    return static_cast<int>(ExitCode::BadInput);
  }

  set_verbosity(quiet ? Verbosity::Quiet : verbose ? Verbosity::Verbose : Verbosity::Normal);
  if (version) {
    if (comm.root())
      fmt::print("miniattn {} (git {}, {}, {}, {})\n", build::kVersion, build::kGitHash,
                 build::kCompiler, build::kBuildType, build::kSystem);
    return 0;
  }
  if (list_backends) {
    if (comm.root()) print_backends();
    return 0;
  }

  try {
    if (deck_path.empty())
      throw Error("no deck given; usage: miniattn DECK.toml [--set section.key=value ...] "
                  "(see --help)");
    if (!backend.empty()) sets.push_back("run.backend=" + backend);
    // Rank 0 reads and validates the deck; the others parse the effective deck it sends.
    std::string text;
    all_or_none(comm, [&] {
      if (comm.root()) text = to_toml(parse_deck_file(deck_path, sets));
    });
    comm.broadcast(text, 0);
    const Deck deck = parse_deck(text, deck_path);
    if (print_deck) {
      if (comm.root()) fmt::print("{}", text);
      return 0;
    }
    Run run(deck, deck_path, comm);
    return run.execute();
  } catch (const Error& e) {
    if (comm.root()) {
      fmt::print(stderr, "miniattn: error: {}\n", e.what());
      std::fflush(stderr);
    }
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    // Not agreed between ranks: end every rank rather than leave some waiting.
    fmt::print(stderr, "miniattn: rank {}: internal error: {}\n", comm.rank(), e.what());
    std::fflush(stderr);
    comm.abort(static_cast<int>(ExitCode::RuntimeFailure));
  }
}

}  // namespace miniattn
