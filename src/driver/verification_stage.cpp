// Verification: O and LSE of sampled rows against the float64 reference, over every rank.
#include <vector>

#include "driver/input_checks.hpp"
#include "driver/stages.hpp"
#include "kernels/reference/reference_backend.hpp"

namespace miniattn {
namespace {

// The rank's rows to check, grouped into tasks of up to 16 rows of one (b, h).
std::vector<ReferenceTask> reference_tasks(const RunState& s) {
  const AttnParams& p = s.p;
  const int d = p.d;
  std::vector<ReferenceTask> tasks;
  const std::vector<int64_t> sample =
      sampled_rows(p.lq, s.deck.verify.mode == VerifyMode::Full ? p.lq : s.deck.verify.rows);
  for (int64_t bh = s.slice.rows.begin / p.lq; bh * p.lq < s.slice.rows.end; ++bh) {
    ReferenceTask t;
    t.bh = bh;
    for (int64_t i : sample) {
      const int64_t local = s.slice.row_set.local(bh * p.lq + i);
      if (local < 0) continue;
      t.rows.push_back(i);
      t.q.insert(t.q.end(), s.q.data() + local * d, s.q.data() + (local + 1) * d);
      if (t.rows.size() == 16) {
        tasks.push_back(t);
        t.rows.clear();
        t.q.clear();
      }
    }
    if (!t.rows.empty()) tasks.push_back(t);
  }
  return tasks;
}

// Each task's reference rows (unless the executor computed them) against the rank's O and LSE.
ErrorAccum compare_tasks(const RunState& s, std::vector<ReferenceTask>& tasks, bool have_reference) {
  const AttnParams& p = s.p;
  const int d = p.d;
  std::vector<ErrorAccum> acc(tasks.size());
  const int64_t ntasks = static_cast<int64_t>(tasks.size());
  Kokkos::parallel_for("miniattn::reference", dynamic_items(ntasks), [&](int64_t ti) {
    ReferenceTask& t = tasks[ti];
    const int n = static_cast<int>(t.rows.size());
    if (!have_reference) {
      t.o.resize(static_cast<std::size_t>(n) * d);
      t.lse.resize(static_cast<std::size_t>(n));
      const int64_t b = t.bh / p.heads, h = t.bh % p.heads;
      const int64_t g = b * p.kv_heads + p.kv_head_of(h) - s.slice.groups.begin;
      const std::size_t koff = static_cast<std::size_t>(g * p.lk) * d;
      reference_rows(p, t.q.data(), t.rows.data(), n, s.k.data() + koff, s.v.data() + koff, p.lk,
                     t.o.data(), t.lse.data());
    }
    for (int r = 0; r < n; ++r) {
      const int64_t local = s.slice.row_set.local(t.bh * p.lq + t.rows[r]);
      acc[ti].add(&s.o(local, 0), t.o.data() + static_cast<std::size_t>(r) * d, d);
      acc[ti].add_lse(s.lse(local), t.lse[r]);
    }
  });
  ErrorAccum total;
  for (const ErrorAccum& a : acc) total.merge(a);
  return total;
}

// The sums of every rank's accumulator.
ErrorAccum reduce(const Comm& comm, const ErrorAccum& total) {
  double sums[] = {total.abs_diff, total.abs_ref, total.sq_diff, total.sq_ref, total.sq_out,
                   total.dot, static_cast<double>(total.rows), static_cast<double>(total.nonfinite),
                   static_cast<double>(total.lse_rows), static_cast<double>(total.lse_mismatches)};
  comm.sum_inplace(sums, 10);
  ErrorAccum global;
  global.max_abs = comm.max(total.max_abs);
  global.lse_max_abs = comm.max(total.lse_max_abs);
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
  return global;
}

}  // namespace

void verify_outputs(RunState& s) {
  if (s.deck.verify.mode == VerifyMode::None) return;
  ScopedPhase timer(s.phases, Phase::Verify);
  std::vector<ReferenceTask> tasks = reference_tasks(s);
  // Ring mode: the executor computes the reference over the keys spread around the ring.
  const bool have_reference = s.exec->reference(tasks);
  const ErrorAccum global = reduce(s.comm, compare_tasks(s, tasks, have_reference));
  s.verification = global.finish(s.tolerances());
  if (!s.verification->passed)
    s.verify_hint = verification_hint(s.p, s.magnitudes, s.backend->quantized(), *s.verification,
                                      s.tolerances());
}

}  // namespace miniattn
