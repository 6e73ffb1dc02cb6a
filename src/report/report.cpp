#include "miniattn/report.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "miniattn/build_info.hpp"

namespace miniattn {
namespace {

struct Stat {
  double min = 0.0, avg = 0.0, max = 0.0;
  double imbalance() const { return avg > 0.0 ? max / avg - 1.0 : 0.0; }
};

Stat phase_stat(const RunSummary& s, int phase) {
  Stat st;
  st.min = std::numeric_limits<double>::infinity();
  for (int r = 0; r < s.ranks; ++r) {
    const double v = s.phase_seconds[static_cast<std::size_t>(r) * kNumPhases + phase];
    st.min = std::min(st.min, v);
    st.max = std::max(st.max, v);
    st.avg += v / s.ranks;
  }
  return st;
}

double gops(const RunSummary& s) {
  const double t = s.kernel_median();
  return t > 0.0 ? s.ops / t * 1e-9 : 0.0;
}

int run_threads(const RunSummary& s) { return s.ranks * s.threads_per_rank; }

// Percent of the int8 peak of all the run's threads.
double pct_int8_peak(const RunSummary& s) {
  return s.peak ? 100.0 * gops(s) / (s.peak->int8_gops * run_threads(s)) : NAN;
}

// The time no kernel could beat: Q.K^T (half the ops) at the int8 peak and P.V (the other half)
// at the peak of its precision, on all the run's threads.
double floor_seconds(const RunSummary& s) {
  if (!s.peak) return NAN;
  const double half = 0.5 * s.ops * 1e-9, n = run_threads(s);
  const double pv = s.params.pv == PvPrecision::Int8   ? s.peak->int8_gops
                    : s.params.pv == PvPrecision::Bf16 ? s.peak->bf16_gflops
                                                       : s.peak->fp32_gflops;
  return half / (s.peak->int8_gops * n) + half / (pv * n);
}

double pct_floor(const RunSummary& s) {
  const double t = s.kernel_median();
  return t > 0.0 ? 100.0 * floor_seconds(s) / t : NAN;
}

std::string yes_no(bool b) { return b ? "yes" : "no"; }

// Each rank's compute seconds (qk_gemm + softmax + pv_gemm of the median run) and their
// imbalance, max / mean - 1: the measured counterpart of the predicted imbalance.
std::vector<double> compute_seconds(const RunSummary& s) {
  std::vector<double> c;
  for (int r = 0; r < s.ranks; ++r) {
    const double* row = s.phase_seconds.data() + static_cast<std::size_t>(r) * kNumPhases;
    c.push_back(row[static_cast<int>(Phase::QkGemm)] + row[static_cast<int>(Phase::Softmax)] +
                row[static_cast<int>(Phase::PvGemm)]);
  }
  return c;
}

double compute_imbalance(const RunSummary& s) {
  const std::vector<double> c = compute_seconds(s);
  double mx = 0.0, sum = 0.0;
  for (double v : c) {
    mx = std::max(mx, v);
    sum += v;
  }
  return sum > 0.0 ? mx / (sum / c.size()) - 1.0 : 0.0;
}

// Bytes over the slowest rank's seconds of a phase, in GB/s (0 when the phase took no time).
double phase_gbs(const RunSummary& s, Phase p, double bytes) {
  const double t = phase_stat(s, static_cast<int>(p)).max;
  return t > 0.0 ? bytes / t * 1e-9 : 0.0;
}

const RunSummary::StatRange* executor_stat(const RunSummary& s, const std::string& name) {
  for (const RunSummary::StatRange& r : s.executor_stats)
    if (r.name == name) return &r;
  return nullptr;
}

// Fraction of the ring transfers' time that cost the ring nothing (exposed: the waits and the
// compute they slowed down), over all ranks.
double ring_hidden(const RunSummary& s) {
  const RunSummary::StatRange* f = executor_stat(s, "comm_in_flight_s");
  const RunSummary::StatRange* e = executor_stat(s, "comm_exposed_s");
  if (!f || !e || f->avg <= 0.0) return 1.0;
  return std::clamp(1.0 - e->avg / f->avg, 0.0, 1.0);
}

}  // namespace

double RunSummary::kernel_median() const {
  if (kernel_runs.empty()) return 0.0;
  std::vector<double> v = kernel_runs;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double RunSummary::kernel_min() const {
  return kernel_runs.empty() ? 0.0 : *std::min_element(kernel_runs.begin(), kernel_runs.end());
}

std::string format_table(const RunSummary& s) {
  const AttnParams& p = s.params;
  std::string out;
  out += fmt::format("\nproblem   B={} H={} Hkv={} Lq={} Lk={} D={} causal={} scale={:.6g}\n",
                     p.batch, p.heads, p.kv_heads, p.lq, p.lk, p.d, yes_no(p.causal), p.scale);
  out += fmt::format("run       backend={} variant={} pv={} exp2={} qk_scales={} smooth_k={} rotate={} "
                     "tiles={}x{}\n",
                     s.backend, to_string(p.variant), to_string(p.pv), to_string(p.exp2),
                     to_string(p.qk_scales), yes_no(p.smooth_k), to_string(p.rotate), p.tile.q, p.tile.kv);
  out += fmt::format("ranks     {} x {} thread(s), kv_mode={}, {} timed run(s) after {} warmup; "
                     "cpu {}\n\n",
                     s.ranks, s.threads_per_rank, s.kv_mode, s.repeat, s.warmup, s.cpu);
  out += fmt::format("{:<10} {:>11} {:>11} {:>11} {:>10}\n", "phase", "min [s]", "avg [s]",
                     "max [s]", "imbalance");
  for (int i = 0; i < kNumPhases; ++i) {
    const Stat st = phase_stat(s, i);
    out += fmt::format("{:<10} {:>11.6f} {:>11.6f} {:>11.6f} {:>9.1f}%\n",
                       phase_name(static_cast<Phase>(i)), st.min, st.avg, st.max,
                       100.0 * st.imbalance());
  }
  out += fmt::format(
      "(quantize..pv_gemm: the median timed run; qk_gemm/softmax/pv_gemm are per-tile cycle "
      "counts averaged over threads; total: the whole run)\n\n");
  out += fmt::format("kernel    median {:.6f} s, min {:.6f} s over {} run(s); {:.3f} GOP/s "
                     "(ops = 4 D x unmasked scores = {:.4g})\n",
                     s.kernel_median(), s.kernel_min(), s.kernel_runs.size(), gops(s), s.ops);
  if (s.peak)
    out += fmt::format("          {:.1f}% of the int8 peak, {:.1f}% of the floor (Q.K^T at the int8 peak "
                       "+ P.V at the {} peak); peaks per thread: int8 {:.1f} GOP/s, fp32 {:.1f}, bf16 "
                       "{:.1f} GFLOP/s x {} thread(s) ({})\n",
                       pct_int8_peak(s), pct_floor(s), to_string(s.params.pv), s.peak->int8_gops,
                       s.peak->fp32_gflops, s.peak->bf16_gflops, run_threads(s), s.peak->source);
  else
    out += "          peak: not measured (no backend with peak loops here, or MINIATTN_PEAK_SECONDS=0)\n";
  out += fmt::format("          outside the timed kernel phases: {:.6f} s (finalisation, "
                     "scheduling, threads waiting); predicted rank imbalance {:.1f}%\n",
                     s.kernel_other_max, 100.0 * s.predicted_imbalance);
  out += fmt::format("balance   compute (qk_gemm + softmax + pv_gemm) imbalance over ranks {:.1f}% "
                     "(predicted {:.1f}%)\n",
                     100.0 * compute_imbalance(s), 100.0 * s.predicted_imbalance);
  out += fmt::format("io        read {:.3f} GB/s ({} input, {:.4g} B), write {:.3f} GB/s ({:.4g} B)\n",
                     phase_gbs(s, Phase::Read, s.read_bytes), s.input_source, s.read_bytes,
                     phase_gbs(s, Phase::Write, s.write_bytes), s.write_bytes);
  if (const RunSummary::StatRange* steps = executor_stat(s, "steps")) {
    auto max_of = [&s](const char* name) {
      const RunSummary::StatRange* r = executor_stat(s, name);
      return r ? r->max : 0.0;
    };
    const RunSummary::StatRange* bw = executor_stat(s, "link_bandwidth_Bps");
    out += fmt::format("ring      {} ring(s) of {} rank(s), {} step(s); sent {:.4g} B per rank (max), "
                       "{:.4g} B per step\n",
                       max_of("num_rings"), max_of("ring_size"), steps->max, max_of("bytes_sent"),
                       max_of("bytes_per_step"));
    out += fmt::format("          link (measured at start-up, slowest rank): latency {:.2f} us, "
                       "bandwidth {:.4g} MB/s\n",
                       1e6 * max_of("link_latency_s"), bw ? 1e-6 * bw->min : 0.0);
    out += fmt::format("          compute {:.6f} s ({:.6f} s without transfers), transfers in flight "
                       "{:.6f} s, waited {:.6f} s, exposed {:.6f} s (max over ranks): {:.1f}% "
                       "hidden by compute\n",
                       max_of("compute_s"), max_of("compute_no_transfer_s"), max_of("comm_in_flight_s"),
                       max_of("comm_wait_s"), max_of("comm_exposed_s"), 100.0 * ring_hidden(s));
  }
  if (s.verification) {
    const ErrorStats& v = *s.verification;
    const Tolerances& t = s.tolerances;
    out += fmt::format("verify    {} rows ({}): max_abs {:.3e} rel_l1 {:.3e} rel_l2 {:.3e} "
                       "cosine {:.7f}{}, LSE max_abs {:.3e}{} -> {} (max_rel_l2 {:g}, min_cosine "
                       "{:g}, max_lse_abs {:g})\n",
                       v.rows_checked, s.verify_mode, v.max_abs, v.rel_l1, v.rel_l2, v.cosine,
                       v.nonfinite ? fmt::format(", {} non-finite outputs", v.nonfinite) : "",
                       v.lse_max_abs,
                       v.lse_mismatches ? fmt::format(" ({} rows non-finite or not -inf where the "
                                                      "reference is)", v.lse_mismatches)
                                        : "",
                       v.passed ? "PASS" : "FAIL", t.max_rel_l2, t.min_cosine, t.max_lse_abs);
    if (!v.passed && !s.verify_hint.empty()) out += "          " + s.verify_hint + "\n";
  } else {
    out += "verify    not run ([verify] mode = \"none\")\n";
  }
  if (!s.output_file.empty()) out += fmt::format("output    {}\n", s.output_file);
  return out;
}

std::string summary_line(const RunSummary& s) {
  const AttnParams& p = s.params;
  const std::string pct =
      s.peak ? fmt::format("{:.1f}", pct_int8_peak(s)) : "na";
  const std::string verdict =
      s.verification ? (s.verification->passed ? "PASS" : "FAIL") : std::string("none");
  return fmt::format(
      "MINIATTN | backend={} variant={} pv={} exp2={} ranks={} threads={} B={} H={} Hkv={} "
      "Lq={} Lk={} D={} causal={} kernel_s={:.6f} gops={:.3f} peak_pct={} verify={} git={}",
      s.backend, to_string(p.variant), to_string(p.pv), to_string(p.exp2), s.ranks,
      s.threads_per_rank, p.batch, p.heads, p.kv_heads, p.lq, p.lk, p.d, p.causal ? 1 : 0,
      s.kernel_median(), gops(s), pct, verdict, s.git_hash);
}

std::string report_json(const RunSummary& s) {
  using nlohmann::json;
  const AttnParams& p = s.params;
  // JSON has no NaN or Inf: write them as null.
  auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  json j;
  j["miniattn_version"] = build::kVersion;
  j["git"] = s.git_hash;
  j["backend"] = s.backend;
  j["variant"] = to_string(p.variant);
  j["pv_precision"] = to_string(p.pv);
  j["exp2"] = to_string(p.exp2);
  j["qk_scales"] = to_string(p.qk_scales);
  j["smooth_k"] = p.smooth_k;
  j["rotate"] = std::string(to_string(p.rotate));
  j["tile"] = {{"q", p.tile.q}, {"kv", p.tile.kv}};
  j["kv_mode"] = s.kv_mode;
  j["ranks"] = s.ranks;
  j["threads_per_rank"] = s.threads_per_rank;
  j["cpu"] = s.cpu;
  j["problem"] = {{"batch", p.batch},   {"heads", p.heads},   {"kv_heads", p.kv_heads},
                  {"seq_len", p.lq},    {"kv_len", p.lk},     {"head_dim", p.d},
                  {"causal", p.causal}, {"scale", p.scale}};
  json phases = json::object();
  json per_rank = json::array();
  for (int i = 0; i < kNumPhases; ++i) {
    const Stat st = phase_stat(s, i);
    phases[std::string(phase_name(static_cast<Phase>(i)))] = {
        {"min", st.min}, {"avg", st.avg}, {"max", st.max}, {"imbalance", st.imbalance()}};
  }
  for (int r = 0; r < s.ranks; ++r) {
    json row = json::object();
    for (int i = 0; i < kNumPhases; ++i)
      row[std::string(phase_name(static_cast<Phase>(i)))] =
          s.phase_seconds[static_cast<std::size_t>(r) * kNumPhases + i];
    per_rank.push_back(row);
  }
  j["phases"] = phases;
  j["phases_per_rank"] = per_rank;
  j["timing_units"] = "s";
  j["predicted_imbalance"] = s.predicted_imbalance;
  j["kernel"] = {{"seconds_median", s.kernel_median()},
                 {"seconds_min", s.kernel_min()},
                 {"runs", s.kernel_runs},
                 {"warmup", s.warmup},
                 {"ops", s.ops},
                 {"gops", gops(s)},
                 {"seconds_outside_phases", s.kernel_other_max}};
  if (s.peak) {
    j["peak"] = {{"int8_gops", s.peak->int8_gops},     {"fp32_gflops", s.peak->fp32_gflops},
                 {"bf16_gflops", s.peak->bf16_gflops}, {"per", "thread"},
                 {"threads", run_threads(s)},          {"source", s.peak->source}};
    j["kernel"]["percent_of_int8_peak"] = pct_int8_peak(s);
    j["kernel"]["floor_seconds"] = floor_seconds(s);
    j["kernel"]["percent_of_floor"] = pct_floor(s);
  } else {
    j["peak"] = nullptr;
  }
  if (s.verification) {
    const ErrorStats& v = *s.verification;
    j["verification"] = {{"mode", s.verify_mode},       {"max_abs", num(v.max_abs)},
                         {"rel_l1", num(v.rel_l1)},     {"rel_l2", num(v.rel_l2)},
                         {"cosine", num(v.cosine)},     {"rows_checked", v.rows_checked},
                         {"nonfinite", v.nonfinite},    {"passed", v.passed},
                         {"lse_max_abs", num(v.lse_max_abs)},
                         {"lse_rows_checked", v.lse_rows},
                         {"lse_mismatches", v.lse_mismatches},
                         {"max_rel_l2", s.tolerances.max_rel_l2},
                         {"min_cosine", s.tolerances.min_cosine},
                         {"max_lse_abs", s.tolerances.max_lse_abs}};
    if (!v.passed) j["verification"]["hint"] = s.verify_hint;
  } else {
    j["verification"] = nullptr;
  }
  j["output_file"] = s.output_file;

  // Scale-out: measured balance, I/O bandwidth, ring traffic.
  j["load_balance"] = {{"predicted_imbalance", s.predicted_imbalance},
                       {"compute_imbalance", compute_imbalance(s)},
                       {"compute_seconds_per_rank", compute_seconds(s)}};
  j["io"] = {{"input", s.input_source},
             {"read_bytes", s.read_bytes},
             {"read_seconds", phase_stat(s, static_cast<int>(Phase::Read)).max},
             {"read_gbs", phase_gbs(s, Phase::Read, s.read_bytes)},
             {"write_bytes", s.write_bytes},
             {"write_seconds", phase_stat(s, static_cast<int>(Phase::Write)).max},
             {"write_gbs", phase_gbs(s, Phase::Write, s.write_bytes)}};
  if (!s.executor_stats.empty()) {
    json ring = json::object();
    for (const RunSummary::StatRange& r : s.executor_stats)
      ring[r.name] = {{"min", r.min}, {"avg", r.avg}, {"max", r.max}};
    ring["hidden_fraction_overall"] = ring_hidden(s);
    j["ring"] = ring;
  } else {
    j["ring"] = nullptr;
  }
  return j.dump(2);
}

}  // namespace miniattn
