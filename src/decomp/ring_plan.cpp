#include "miniattn/ring_plan.hpp"

#include <algorithm>
#include <numeric>
#include <string>

#include "miniattn/error.hpp"

namespace miniattn {

RingPlan::RingPlan(const AttnParams& p, int nranks, int ring_size)
    : p_(p), nranks_(nranks), ring_size_(ring_size == 0 ? nranks : ring_size) {
  const std::string key = "[run] ring_size = " + std::to_string(ring_size);
  if (ring_size < 0 || ring_size_ > nranks || nranks % ring_size_ != 0)
    throw Error(key + " must divide the number of ranks (" + std::to_string(nranks) +
                "); 0 makes one ring of all ranks");
  const int64_t groups = p.batch * p.kv_heads;
  if (num_rings() > groups)
    throw Error(key + " makes " + std::to_string(num_rings()) + " rings of " +
                std::to_string(ring_size_) + " ranks, but there are only " +
                std::to_string(groups) + " KV heads (batch x kv_heads) to share among them; "
                "use ring_size >= " + std::to_string((nranks + groups - 1) / groups) +
                " (or 0 for one ring)");
  chunks_ = p.causal ? 2 * ring_size_ : ring_size_;
  // Whole K/V tiles keep the replicated mode's tiles; but when the keys make fewer than two
  // such pieces per chunk, whole tiles would leave ranks without keys (Lk = 230 with 256-key
  // tiles gave one rank every key), so chunks fall back to 64-key quantisation blocks and the
  // kernels see a short tile at each chunk's end.
  key_unit_ = std::lcm<int64_t>(kKeyQuantBlock, p.tile.kv);
  if ((p.lk + key_unit_ - 1) / key_unit_ < 2 * chunks_) key_unit_ = kKeyQuantBlock;
}

// Chunk c of `units` pieces of `unit` rows (the last piece may be short: len).
Range RingPlan::chunk(int64_t units, int64_t unit, int64_t len, int c) const {
  const int64_t b = units * c / chunks_, e = units * (c + 1) / chunks_;
  return {std::min(b * unit, len), std::min(e * unit, len)};
}

Range RingPlan::kv_groups(int ring) const {
  const int64_t groups = p_.batch * p_.kv_heads;
  return {groups * ring / num_rings(), groups * (ring + 1) / num_rings()};
}

namespace {
std::vector<int> chunk_ids(int ring_rank, int ring_size, bool causal) {
  if (!causal) return {ring_rank};
  return {ring_rank, 2 * ring_size - 1 - ring_rank};  // ascending: ring_rank < R <= the other
}
}  // namespace

std::vector<Range> RingPlan::key_chunks(int ring_rank) const {
  const int64_t units = (p_.lk + key_unit_ - 1) / key_unit_;
  std::vector<Range> out;
  for (int c : chunk_ids(ring_rank, ring_size_, p_.causal))
    out.push_back(chunk(units, key_unit_, p_.lk, c));
  return out;
}

std::vector<Range> RingPlan::query_chunks(int ring_rank) const {
  std::vector<Range> out;
  for (int c : chunk_ids(ring_rank, ring_size_, p_.causal))
    out.push_back(chunk(p_.q_tiles(), p_.tile.q, p_.lq, c));
  return out;
}

std::vector<WorkItem> RingPlan::items(int rank) const {
  const Range groups = kv_groups(ring_of(rank));
  const std::vector<Range> chunks = query_chunks(ring_rank(rank));
  std::vector<WorkItem> out;
  for (int64_t h = groups.begin * p_.group_size(); h < groups.end * p_.group_size(); ++h)
    for (const Range& c : chunks)
      for (int64_t row0 = c.begin; row0 < c.end; row0 += p_.tile.q) {
        WorkItem w;
        w.b = h / p_.heads;
        w.h = h % p_.heads;
        w.row0 = row0;
        w.rows = static_cast<int>(std::min<int64_t>(p_.tile.q, c.end - row0));
        out.push_back(w);
      }
  return out;
}

RowSet RingPlan::rows(int rank) const {
  const Range groups = kv_groups(ring_of(rank));
  RowSet s;
  for (int64_t bh = groups.begin * p_.group_size(); bh < groups.end * p_.group_size(); ++bh)
    for (const Range& c : query_chunks(ring_rank(rank)))
      s.add({bh * p_.lq + c.begin, bh * p_.lq + c.end});
  return s;
}

RowSet RingPlan::kv_rows(int rank) const {
  const Range groups = kv_groups(ring_of(rank));
  RowSet s;
  for (int64_t g = groups.begin; g < groups.end; ++g)
    for (const Range& c : key_chunks(ring_rank(rank))) s.add({g * p_.lk + c.begin, g * p_.lk + c.end});
  return s;
}

double RingPlan::rank_cost(int rank) const {
  double c = 0.0;
  for (const WorkItem& w : items(rank)) c += work_item_cost(p_, w);
  return c;
}

double RingPlan::predicted_imbalance() const {
  double mx = 0.0, sum = 0.0;
  for (int r = 0; r < nranks_; ++r) {
    const double c = rank_cost(r);
    mx = std::max(mx, c);
    sum += c;
  }
  return sum > 0.0 ? mx / (sum / nranks_) - 1.0 : 0.0;
}

}  // namespace miniattn
