// Checks made before anything big is allocated or computed, so that a run that cannot finish
// fails in seconds with a message naming what to change: output paths that would destroy
// something or cannot be written, and the memory every rank of a node needs against what the
// node has. (The HDF5 output file is created under its temporary name in the same step: see
// H5Writer.)
#pragma once

#include <string>

#include "driver/memory_estimate.hpp"
#include "miniattn/comm.hpp"
#include "miniattn/decomp.hpp"
#include "miniattn/deck.hpp"
#include "miniattn/executor.hpp"
#include "miniattn/kernel.hpp"

namespace miniattn {

// Collective, rank 0 decides. Throws the same miniattn::Error on every rank (ExitCode::BadInput)
// when [output] file or report is the same file as the deck, the input file or the other
// output, is a symbolic link or an existing non-regular file (output_paths.hpp), or when the
// report cannot be created in its directory.
void check_output_paths(const Comm& comm, const Deck& deck, const std::string& deck_path);

// Collective. Throws the same miniattn::Error on every rank (ExitCode::BadInput) when the ranks
// sharing a node need more memory than it has (naming the deck keys that would make the run
// fit). Returns this rank's estimate for the rows and keys of its slice (ring: the slice of ring
// mode, whose K/V are a shard).
MemoryEstimate preflight(const Comm& comm, const Deck& deck, const Backend& backend,
                         const AttnParams& p, const RankSlice& slice, int threads, bool ring);

}  // namespace miniattn
