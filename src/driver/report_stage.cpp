// Report: the table and the summary line on stdout, and the JSON report, written under a
// temporary name and renamed into place by the run's last step.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "driver/stages.hpp"
#include "miniattn/build_info.hpp"
#include "miniattn/cpu_features.hpp"
#include "miniattn/output_paths.hpp"

namespace miniattn {
namespace {

// I/O volume and the executor's figures (ring traffic), reduced over ranks.
void add_scaleout_facts(const RunState& s, RunSummary& r) {
  const Comm& comm = s.comm;
  const double row_bytes = static_cast<double>(s.p.d) * sizeof(float);
  r.read_bytes = comm.sum(static_cast<double>(s.slice.row_set.size() + 2 * s.slice.kv_set.size()) *
                          row_bytes);
  r.input_source = std::string(to_string(s.deck.input.source));
#if MINIATTN_HAVE_HDF5
  if (s.writer)
    r.write_bytes = comm.sum(static_cast<double>(s.slice.row_set.size()) *
                             (row_bytes + (s.deck.output.write_lse ? sizeof(float) : 0)));
#endif
  for (const ExecutorStat& e : s.exec->stats())
    r.executor_stats.push_back({e.name, comm.min(e.value), comm.sum(e.value) / comm.size(),
                                comm.max(e.value)});
}

RunSummary summary(const RunState& s) {
  RunSummary r;
  r.backend = std::string(s.backend->name());
  r.cpu = cpu_features().model + " [" + cpu_features().summary() + "]";
  r.params = s.p;
  r.ranks = s.comm.size();
  r.threads_per_rank = s.threads;
  r.kv_mode = std::string(to_string(s.deck.run.kv_mode));
  r.repeat = static_cast<int>(s.deck.run.repeat);
  r.warmup = static_cast<int>(s.deck.run.warmup);
  r.phase_seconds = s.all_phases;
  r.kernel_runs = s.kernel_runs;
  r.kernel_other_max = s.comm.max(s.kernel_other);
  r.ops = 4.0 * s.p.d * s.p.unmasked_scores();
  r.predicted_imbalance = s.predicted_imbalance();
  add_scaleout_facts(s, r);
  r.verification = s.verification;
  r.peak = s.peak;
  r.verify_mode = std::string(to_string(s.deck.verify.mode));
  r.tolerances = s.tolerances();
  r.verify_hint = s.verify_hint;
  r.output_file = s.deck.output.file;
  r.git_hash = build::kGitHash;
  return r;
}

}  // namespace

void name_report(RunState& s) {
  if (s.deck.output.report.empty()) return;
  if (s.comm.root()) s.report_temp = temporary_name(s.deck.output.report);
  s.comm.broadcast(s.report_temp, 0);
}

int report(RunState& s) {
  const RunSummary r = summary(s);
  if (s.comm.root()) {
    // --quiet: the one greppable line only.
    fmt::print("{}{}\n", verbosity() == Verbosity::Quiet ? "" : format_table(r), summary_line(r));
    std::fflush(stdout);
  }
  all_or_none(s.comm, [&] {
    if (!s.comm.root() || s.report_temp.empty()) return;
    std::ofstream f(s.report_temp);
    f << report_json(r) << '\n';
    f.close();
    if (!f)
      throw Error(fmt::format("[output] report = \"{}\": cannot write the JSON report to {}",
                              s.deck.output.report, s.report_temp),
                  ExitCode::RuntimeFailure);
  });
  if (s.verification && !s.verification->passed)
    return static_cast<int>(ExitCode::VerificationFailed);
  return 0;
}

void commit_report(RunState& s) {
  all_or_none(s.comm, [&] {
    if (!s.comm.root() || s.report_temp.empty()) return;
    if (std::rename(s.report_temp.c_str(), s.deck.output.report.c_str()) != 0)
      throw Error(fmt::format("[output] report = \"{}\": cannot rename {} to it ({})",
                              s.deck.output.report, s.report_temp, std::strerror(errno)),
                  ExitCode::RuntimeFailure);
  });
}

}  // namespace miniattn
