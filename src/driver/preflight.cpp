#include "driver/preflight.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "miniattn/error.hpp"
#include "miniattn/output_paths.hpp"

namespace miniattn {
namespace {

struct NodeShare {
  std::size_t bytes = 0;  // the sum over the ranks of this node
  int ranks = 1;
  std::string host;
};

NodeShare node_share(const Comm& comm, std::size_t mine) {
  NodeShare s;
  s.bytes = mine;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) s.host = host;
  const Comm node = comm.split_node();
  s.bytes = static_cast<std::size_t>(node.sum(static_cast<uint64_t>(mine)));
  s.ranks = node.size();
  return s;
}

// What to change, the largest part of the rank's memory first.
std::string fit_hints(const Deck& deck, const MemoryEstimate& m) {
  const std::string kv =
      m.ring ? std::string("run more ranks per ring ([run] ring_size) to shrink each K/V shard, "
                           "or lower [problem] kv_len")
             : std::string("lower [problem] kv_len (every rank holds whole K/V heads), or set "
                           "[run] kv_mode = \"ring\" to shard K/V over the ranks");
  const std::string q = "lower [problem] seq_len, batch or heads, or run more ranks on more nodes";
  std::string scratch = "lower [run] threads, tile_q or tile_kv";
  if (deck.run.variant == Variant::Unfused)
    scratch += ", or set [run] variant = \"fused\" (unfused keeps the scores of every key)";
  const std::size_t kv_bytes = m.kv + m.packed;
  const std::size_t q_bytes = m.q + m.o_lse;
  const std::size_t thread_bytes = m.per_thread * static_cast<std::size_t>(m.threads);
  if (thread_bytes >= kv_bytes && thread_bytes >= q_bytes) return scratch + "; or " + q;
  if (kv_bytes >= q_bytes) return kv + "; or " + q;
  return q + "; or " + kv;
}

std::string not_enough_memory(const Comm& comm, const Deck& deck, const AttnParams& p,
                              int64_t groups, const MemoryEstimate& m, const NodeShare& node,
                              const AvailableMemory& avail) {
  std::string io;
  if (m.io_staging > 0) io = fmt::format(", HDF5 read staging {}", format_bytes(m.io_staging));
  return fmt::format(
      "not enough memory: the {} rank(s) on node {} need {}, and {} is available ({}). Rank {} "
      "alone needs {}: Q {}, O and LSE {}, K and V {} ({} KV head(s) x kv_len {} x head_dim {}), "
      "quantised copies {}, packed K/V {}, scratch {} x {} thread(s){}. To fit: {}",
      node.ranks, node.host.empty() ? "?" : node.host, format_bytes(node.bytes),
      format_bytes(avail.bytes), avail.source, comm.rank(), format_bytes(m.total()),
      format_bytes(m.q), format_bytes(m.o_lse), format_bytes(m.kv), groups, p.lk, p.d,
      format_bytes(m.quantised), format_bytes(m.packed), format_bytes(m.per_thread), m.threads,
      io, fit_hints(deck, m));
}

}  // namespace

MemoryEstimate preflight(const Comm& comm, const Deck& deck, const Backend& backend,
                         const AttnParams& p, const RankSlice& slice, int threads, bool ring) {
  const int64_t groups = slice.groups.size();
  const MemoryEstimate mine =
      estimate_rank_memory(backend, p, slice.row_set.size(), slice.kv_set.size(), groups, threads,
                           deck.input.source == InputSource::Hdf5, ring);
  const NodeShare node = node_share(comm, mine.total());
  all_or_none(comm, [&] {
    const std::optional<AvailableMemory> avail = available_memory();
    if (avail && node.bytes > avail->bytes)
      throw Error(not_enough_memory(comm, deck, p, groups, mine, node, *avail));
  });
  return mine;
}

void check_output_paths(const Comm& comm, const Deck& deck, const std::string& deck_path) {
  all_or_none(comm, [&] {
    if (!comm.root()) return;
    std::vector<NamedPath> inputs{{"the deck", deck_path}};
    if (deck.input.source == InputSource::Hdf5) inputs.push_back({"[input] file", deck.input.file});
    const std::vector<NamedPath> outputs{{"[output] file", deck.output.file},
                                         {"[output] report", deck.output.report}};
    if (std::string why = output_path_problem(outputs, inputs); !why.empty()) throw Error(why);
    // The report is written at the very end: find out now whether it can be.
    if (deck.output.report.empty()) return;
    if (std::string why = temporary_creation_problem(deck.output.report); !why.empty())
      throw Error(fmt::format("[output] report = \"{}\": cannot write the JSON report ({})",
                              deck.output.report, why));
  });
}

}  // namespace miniattn
