// Errors that end a run. Every message names the thing at fault (deck key, dataset, option)
// and what was expected; the exit code tells scripts what kind of failure it was.
#pragma once

#include <stdexcept>
#include <string>

namespace miniattn {

enum class ExitCode : int {
  Ok = 0,
  VerificationFailed = 1,  // the run finished but O is outside the tolerances
  BadInput = 2,            // deck, command line, input file
  RuntimeFailure = 3,      // I/O or system failure during the run
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, ExitCode code = ExitCode::BadInput)
      : std::runtime_error(what), code_(code) {}
  ExitCode code() const { return code_; }

  // True for an error every rank throws together (raise_if_any, all_or_none): the run can end
  // normally on all ranks. Any other exception is one rank's alone, and the others may be
  // waiting in a collective: the driver ends the job instead (src/driver/failure.hpp).
  bool agreed() const { return agreed_; }
  void set_agreed() { agreed_ = true; }

 private:
  ExitCode code_;
  bool agreed_ = false;
};

}  // namespace miniattn
