// How a run ends when an error is one rank's alone, and the test hook that causes one.
//
// Errors that every rank throws together (raise_if_any, all_or_none: Error::agreed()) end the
// run normally: rank 0 prints one message, every rank returns the exit code. Any other
// exception belongs to one rank while its peers may already wait in a collective; returning
// normally (or unwinding through destructors that close the MPI-IO file, a collective) would
// hang them. Such a rank ends the whole job instead (end_job: MPI_Abort, which mpirun turns
// into the end of every rank within seconds), after removing the outputs' temporary files.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "miniattn/comm.hpp"
#include "miniattn/error.hpp"

namespace miniattn {

// Prints "miniattn: rank R: error: WHAT" (this rank's message, once), removes the registered
// temporary output files, and aborts every rank with the exit code. Runs no destructors.
[[noreturn]] void end_job(const Comm& comm, std::string_view what, ExitCode code);

// The temporary output files (HDF5 output, JSON report; at most kMaxTemporaryOutputs) that a
// failed or killed job must not leave behind: end_job removes them, and so does SIGTERM,
// SIGINT or SIGHUP (what mpirun sends the surviving ranks when one dies, and what batch
// schedulers send at the time limit) before the signal takes its default action. Every rank
// registers the same names, so that the survivors remove the files of a rank that was killed.
// Replaces the earlier list; {} once the files are renamed into place or gone.
constexpr int kMaxTemporaryOutputs = 2;
void set_temporary_outputs(const std::vector<std::string>& paths);

// Test hook, read here and nowhere else: MINIATTN_FAULT=RANK:STAGE[:MODE] makes rank RANK fail
// when the run enters STAGE (setup, allocate, read, attention, verify, write, report, commit;
// commit is the last moment before the outputs are renamed into place):
//   throw (default)  an exception on that rank alone (a failed allocation, a kernel error)
//   exit             the process exits at once, without MPI_Finalize (a crashed process)
//   kill             the process sends itself SIGKILL (the OOM killer, a node failure)
// Unset: nothing happens, at no cost. A malformed value is a bad-input error on every rank.
void inject_fault(const Comm& comm, std::string_view stage);

}  // namespace miniattn
