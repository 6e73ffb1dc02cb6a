// Checks made before anything big is allocated or computed, so that a run that cannot finish
// fails in seconds with a message naming what to change: the memory every rank of a node
// needs against what the node has, and the JSON report path. (The HDF5 output file is created
// under its temporary name in the same step: see H5Writer.)
#pragma once

#include "driver/memory_estimate.hpp"
#include "miniattn/comm.hpp"
#include "miniattn/decomp.hpp"
#include "miniattn/deck.hpp"
#include "miniattn/executor.hpp"
#include "miniattn/kernel.hpp"

namespace miniattn {

// Collective. Throws the same miniattn::Error on every rank (ExitCode::BadInput) when the ranks
// sharing a node need more memory than it has (naming the deck keys that would make the run
// fit), or when [output] report cannot be created. Returns this rank's estimate for the rows
// and keys of its slice (ring: the slice of ring mode, whose K/V are a shard).
MemoryEstimate preflight(const Comm& comm, const Deck& deck, const Backend& backend,
                         const AttnParams& p, const RankSlice& slice, int threads, bool ring);

}  // namespace miniattn
