// One run of a deck: the stages (stages.hpp) in order, each announced to the fault-injection
// hook, and the end of a run that fails.
#pragma once

#include <string>

#include "miniattn/comm.hpp"
#include "miniattn/deck.hpp"

namespace miniattn {

// Outputs are written under temporary names and renamed into place as the last step: a run that
// fails (exit 2 or 3) leaves no output and every existing file as it was. A run whose
// verification fails (exit 1) has completed: it keeps its outputs, with /verification passed = 0.
// Returns the exit code; an error every rank agrees on is thrown (Error::agreed()), any other
// ends the job (end_job).
int run_deck(const Deck& deck, const std::string& deck_path, const Comm& comm);

}  // namespace miniattn
