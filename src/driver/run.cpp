#include "driver/run.hpp"

#include <cstdio>
#include <new>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "driver/failure.hpp"
#include "driver/stages.hpp"
#include "miniattn/clock.hpp"

namespace miniattn {

RunState::RunState(const Deck& d, std::string path, const Comm& c)
    : deck(d), deck_path(std::move(path)), comm(c), t_start(wall_seconds()), progress(c.root()) {}

double RunState::predicted_imbalance() const {
  return ring ? ring->predicted_imbalance() : dec->predicted_imbalance();
}

Tolerances RunState::tolerances() const {
  return {deck.verify.max_rel_l2, deck.verify.min_cosine, deck.verify.max_lse_abs};
}

namespace {

std::vector<std::string> temporary_outputs(const RunState& s) {
  std::vector<std::string> temps{s.report_temp};
#if MINIATTN_HAVE_HDF5
  if (s.writer) temps.push_back(s.writer->temp_path());
#endif
  return temps;
}

// The rank's buffers and its executor, or one agreed error when some rank cannot have them.
void allocate(RunState& s) {
  all_or_none(s.comm, [&] {
    try {
      allocate_inputs(s);
      make_executor(s);
    } catch (const std::bad_alloc&) {
      throw Error(fmt::format("rank {}: out of memory allocating {} query rows and {} keys of "
                              "head_dim {}; lower [problem] batch, heads or seq_len, or use "
                              "more ranks",
                              s.comm.rank(), s.slice.row_set.size(), s.slice.kv_set.size(), s.p.d),
                  ExitCode::RuntimeFailure);
    }
  });
}

// The very last step, once every rank has got here: the outputs replace what their paths held.
void commit(RunState& s) {
  s.comm.barrier();
  commit_outputs(s);
  commit_report(s);
}

int stages(RunState& s) {
  inject_fault(s.comm, "setup");
  setup(s);
  set_temporary_outputs(temporary_outputs(s));
  inject_fault(s.comm, "allocate");
  allocate(s);
  inject_fault(s.comm, "read");
  read_inputs(s);
  inject_fault(s.comm, "attention");
  run_attention(s);
  inject_fault(s.comm, "verify");
  verify_outputs(s);
  inject_fault(s.comm, "write");
  write_outputs(s);
  inject_fault(s.comm, "report");
  const int code = report(s);
  inject_fault(s.comm, "commit");
  commit(s);
  set_temporary_outputs({});
  return code;
}

}  // namespace

int run_deck(const Deck& deck, const std::string& deck_path, const Comm& comm) {
  RunState s(deck, deck_path, comm);
  try {
    return stages(s);
  } catch (const Error& e) {
    if (e.agreed()) {
      // Every rank ends normally; the HDF5 temporary goes with the writer.
      set_temporary_outputs({});
      if (comm.root() && !s.report_temp.empty()) std::remove(s.report_temp.c_str());
      throw;
    }
    end_job(comm, e.what(), e.code());
  } catch (const std::exception& e) {
    end_job(comm, e.what(), ExitCode::RuntimeFailure);
  }
}

}  // namespace miniattn
