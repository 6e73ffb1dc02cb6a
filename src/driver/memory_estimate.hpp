// The memory one rank needs, computed from the problem, the decomposition and the backend's
// packed and scratch sizes before anything is allocated, and the memory the node has for it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "miniattn/attn_params.hpp"
#include "miniattn/kernel.hpp"

namespace miniattn {

struct MemoryEstimate {
  // The driver's arrays (float32): the rank's Q rows, O and LSE, and K/V of its KV heads.
  std::size_t q = 0;
  std::size_t o_lse = 0;
  std::size_t kv = 0;
  // The CPU executor's arrays: int8 Q and K with their scales, K means, V as bf16 or int8,
  // the backend's packed K/V, and per thread the scratch of one tile and its row state.
  std::size_t quantised = 0;
  std::size_t packed = 0;
  std::size_t per_thread = 0;
  int threads = 1;
  bool ring = false;  // kv_mode = "ring": K/V sharded; `packed` is the two ring shard buffers
  // Transient: the float16 staging buffer of one collective HDF5 read (hdf5 input only).
  std::size_t io_staging = 0;

  // What CpuExecutor::bytes_allocated() reports for the same run.
  std::size_t executor() const { return quantised + packed + per_thread * threads; }
  std::size_t total() const { return q + o_lse + kv + executor() + io_staging; }
};

// rows: the rank's query rows; kv_keys: the key rows it holds (kv_groups x kv_len when K/V are
// replicated, its shard in ring mode); kv_groups: the KV heads they belong to (RankSlice).
// Replicated mode gives CpuExecutor::bytes_allocated() exactly; ring mode RingExecutor's
// buffers to within the shard layout's padding.
MemoryEstimate estimate_rank_memory(const Backend& backend, const AttnParams& p, int64_t rows,
                                    int64_t kv_keys, int64_t kv_groups, int threads,
                                    bool hdf5_input, bool ring = false);

struct AvailableMemory {
  std::size_t bytes = 0;
  std::string source;  // where the figure comes from, for messages
};

// Memory this node can give the run: MINIATTN_MEMORY_LIMIT when set (bytes, with an optional
// K, M, G or T suffix in powers of 1024; for tests and for sharing a node), else the least of
// MemAvailable (/proc/meminfo) and what the cgroup v2 limit leaves (memory.max minus
// memory.current); nullopt when none is known. Throws miniattn::Error on a malformed
// MINIATTN_MEMORY_LIMIT.
std::optional<AvailableMemory> available_memory();

// "1.5 GiB", "730 MiB", "12 KiB", "100 B".
std::string format_bytes(double bytes);

}  // namespace miniattn
