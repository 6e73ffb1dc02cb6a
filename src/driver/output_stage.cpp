// Output: the HDF5 file (O, LSE, the deck and run facts, timing, verification), written under a
// temporary name and renamed into place by the run's last step.
#include <string>
#include <vector>

#include "driver/stages.hpp"
#include "miniattn/build_info.hpp"
#include "miniattn/clock.hpp"
#include "miniattn/cpu_features.hpp"

namespace miniattn {
namespace {

#if MINIATTN_HAVE_HDF5
std::vector<NamedAttr> root_attributes(const RunState& s) {
  const AttnParams& p = s.p;
  return {{"deck", to_toml(s.deck)},
          {"version", std::string(build::kVersion)},
          {"git", std::string(build::kGitHash)},
          {"backend", std::string(s.backend->name())},
          {"variant", std::string(to_string(p.variant))},
          {"pv_precision", std::string(to_string(p.pv))},
          {"exp2", std::string(to_string(p.exp2))},
          {"qk_scales", std::string(to_string(p.qk_scales))},
          {"smooth_k", static_cast<int64_t>(p.smooth_k)},
          {"rotate", std::string(to_string(p.rotate))},
          {"tile_q", static_cast<int64_t>(p.tile.q)},
          {"tile_kv", static_cast<int64_t>(p.tile.kv)},
          {"kv_mode", std::string(to_string(s.deck.run.kv_mode))},
          {"ranks", static_cast<int64_t>(s.comm.size())},
          {"threads_per_rank", static_cast<int64_t>(s.threads)},
          {"cpu", cpu_features().model + " [" + cpu_features().summary() + "]"}};
}

std::vector<NamedAttr> verification_attributes(const RunState& s) {
  const ErrorStats& v = *s.verification;
  const Deck::Verify& want = s.deck.verify;
  return {{"max_abs", v.max_abs},
          {"rel_l1", v.rel_l1},
          {"rel_l2", v.rel_l2},
          {"cosine", v.cosine},
          {"rows_checked", v.rows_checked},
          {"passed", static_cast<int64_t>(v.passed ? 1 : 0)},
          {"mode", std::string(to_string(want.mode))},
          {"max_rel_l2", want.max_rel_l2},
          {"min_cosine", want.min_cosine},
          {"lse_max_abs", v.lse_max_abs},
          {"lse_rows_checked", v.lse_rows},
          {"max_lse_abs", want.max_lse_abs}};
}

RowLayout q_layout(const AttnParams& p) { return {p.batch, p.heads, p.lq, p.d}; }

void write_rows(RunState& s) {
  ScopedPhase timer(s.phases, Phase::Write);
  all_or_none(s.comm, [&] {
    s.writer->write_rows("O", q_layout(s.p), s.slice.row_set, s.o.data());
    if (s.deck.output.write_lse) {
      RowLayout l = q_layout(s.p);
      l.d = 0;
      s.writer->write_rows("LSE", l, s.slice.row_set, s.lse.data());
    }
  });
}

void write_facts(RunState& s) {
  all_or_none(s.comm, [&] {
    s.writer->write_attributes("/", root_attributes(s));
    std::vector<std::string> names;
    for (int i = 0; i < kNumPhases; ++i) names.emplace_back(phase_name(static_cast<Phase>(i)));
    s.writer->write_timing(s.all_phases, s.comm.size(), names);
    if (s.verification) s.writer->write_attributes("/verification", verification_attributes(s));
    s.writer->close();  // renamed into place by commit_outputs, the last step
  });
}
#endif

}  // namespace

void open_output(RunState& s) {
#if MINIATTN_HAVE_HDF5
  // Create the output file now, under a temporary name: an unwritable path fails before any
  // compute, and a run that fails later leaves nothing behind.
  if (!s.deck.output.file.empty())
    all_or_none(s.comm, [&] { s.writer = std::make_unique<H5Writer>(s.comm, s.deck.output.file); });
#else
  (void)s;
#endif
}

void write_outputs(RunState& s) {
#if MINIATTN_HAVE_HDF5
  if (s.writer) write_rows(s);
#endif
  s.phases[Phase::Total] = wall_seconds() - s.t_start;
  std::vector<double> mine(s.phases.s.begin(), s.phases.s.end());
  s.all_phases = s.comm.allgather(mine);
#if MINIATTN_HAVE_HDF5
  if (s.writer) write_facts(s);
#endif
}

void commit_outputs(RunState& s) {
#if MINIATTN_HAVE_HDF5
  if (s.writer) s.writer->commit();
#else
  (void)s;
#endif
}

}  // namespace miniattn
