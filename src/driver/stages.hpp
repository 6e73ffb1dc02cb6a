// The stages of one run, in the order run.cpp calls them: setup, input, attention, verification,
// output, report (and the commit of the outputs, last). Each stage is a file of its own; they
// share one RunState, in which each stage's section holds what it produced for the later ones.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "driver/input_checks.hpp"
#include "driver/progress.hpp"
#include "miniattn/attn_params.hpp"
#include "miniattn/kokkos_host.hpp"
#include "miniattn/comm.hpp"
#include "miniattn/deck.hpp"
#include "miniattn/decomp.hpp"
#include "miniattn/executor.hpp"
#include "miniattn/kernel.hpp"
#include "miniattn/phases.hpp"
#include "miniattn/report.hpp"
#include "miniattn/ring_plan.hpp"
#include "miniattn/verify.hpp"

#if MINIATTN_HAVE_HDF5
#include "miniattn/hdf5_io.hpp"
#endif

namespace miniattn {

struct RunState {
  RunState(const Deck& d, std::string path, const Comm& c);

  const Deck deck;
  const std::string deck_path;
  const Comm& comm;
  double t_start;       // wall time `total` counts from (start-up instrumentation excluded)
  PhaseSeconds phases;  // this rank's seconds, every stage adding its own

  // setup_stage.cpp
  std::unique_ptr<Backend> backend;
  AttnParams p;
  int threads = 1;  // the host execution space's threads
  std::unique_ptr<Decomposition> dec;
  std::unique_ptr<RingPlan> ring;  // kv_mode = "ring"
  RankSlice slice;
  Progress progress;
  std::optional<MachinePeaks> peak;

  // input_stage.cpp: the rank's rows of Q, O and LSE and its keys of K and V, as (rows, D)
  // Views: a rank holds a set of row ranges of the (B, H, L, D) datasets (one range in
  // replicated mode, zig-zag chunks in ring mode), back to back.
  HostView<float**> q, k, v, o;
  HostView<float*> lse;
  InputMagnitudes magnitudes;

  // attention_stage.cpp
  std::unique_ptr<RankExecutor> exec;
  std::vector<double> kernel_runs;  // seconds of each timed run (max over ranks)
  double kernel_other = 0.0;        // the median run's kernel seconds outside the timed phases

  // verification_stage.cpp
  std::optional<ErrorStats> verification;
  std::string verify_hint;

  // output_stage.cpp
#if MINIATTN_HAVE_HDF5
  std::unique_ptr<H5Writer> writer;  // the HDF5 output under its temporary name
#endif
  std::vector<double> all_phases;  // every rank's phases, rank-major

  // report_stage.cpp
  std::string report_temp;  // the JSON report until commit; "" = no report

  bool hdf5_input() const { return deck.input.source == InputSource::Hdf5; }
  double predicted_imbalance() const;
  Tolerances tolerances() const;
};

// setup_stage.cpp. The backend, the params and the decomposition; outputs checked, start-up
// peaks measured, threads set, memory checked against the node (collective throughout).
void setup(RunState& s);

// input_stage.cpp. allocate_inputs: the rank's buffers, attached to the slice. read_inputs: Q,
// K and V generated or read, checked for non-finite values and magnitudes (Phase::Read).
void allocate_inputs(RunState& s);
void read_inputs(RunState& s);

// attention_stage.cpp. make_executor: the backend's, the ring's or the threaded CPU executor.
// run_attention: warmup and timed runs; the median run's phases go to s.phases.
void make_executor(RunState& s);
void run_attention(RunState& s);

// verification_stage.cpp. O and LSE of the sampled (or all) rows against the float64 reference,
// reduced over ranks (Phase::Verify); nothing when [verify] mode = "none".
void verify_outputs(RunState& s);

// output_stage.cpp. open_output: the HDF5 output created under a temporary name (setup's last
// step). write_outputs: O, LSE, then `total`, every rank's phases, attributes, timing and
// verification; the file is closed, still under its temporary name. commit_outputs: renamed.
void open_output(RunState& s);
void write_outputs(RunState& s);
void commit_outputs(RunState& s);

// report_stage.cpp. name_report: the JSON report's temporary name (setup). report: the table and
// summary line on rank 0 and the JSON report under its temporary name; returns the exit code
// (1 when verification failed). commit_report: renamed into place.
void name_report(RunState& s);
int report(RunState& s);
void commit_report(RunState& s);

}  // namespace miniattn
