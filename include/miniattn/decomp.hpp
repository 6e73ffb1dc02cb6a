// Work decomposition. A work item is one query tile of one (batch, head). Items are numbered
// in (batch, kv head, head in group, tile) order, which is plain (batch, head, tile) order
// because query head h uses KV head h / group: the heads that share a KV head are adjacent, and
// a rank's items are one contiguous range of query rows of the flattened (B*H*Lq, D) matrix.
// Ranges are cut where the cumulative cost (unmasked keys, whole tiles) crosses k/P of the total;
// a cut moves to the nearest KV-group boundary when that costs less than 1% of a rank's share,
// so that two ranks read and quantise the same K/V head only when balance needs it.
#pragma once

#include <cstdint>
#include <vector>

#include "miniattn/attn_params.hpp"

namespace miniattn {

struct WorkItem {
  int64_t b = 0;
  int64_t h = 0;
  int64_t row0 = 0;  // first query row within the head
  int rows = 0;
};

struct Range {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
  bool empty() const { return end <= begin; }
};

// Rows of a flattened row space that a rank holds: ascending, disjoint, non-empty ranges,
// stored back to back in the rank's buffers in this order (one range in replicated mode; the
// zig-zag chunks of every head in ring mode).
struct RowSet {
  std::vector<Range> ranges;

  RowSet() = default;
  explicit RowSet(Range r) { add(r); }
  // Appends r (ascending order), merging it with the last range when they touch.
  void add(Range r);
  int64_t size() const;
  // Index in the rank's buffers of global row g, or -1 when the rank does not hold it.
  int64_t local(int64_t g) const;
  // Global row at index i of the rank's buffers (i < size()).
  int64_t global(int64_t i) const;
};

// Predicted cost of computing one work item against all the keys it sees.
double work_item_cost(const AttnParams& p, const WorkItem& w);

class Decomposition {
 public:
  Decomposition(const AttnParams& p, int nranks);

  int64_t num_items() const { return num_items_; }
  WorkItem item(int64_t index) const;
  // Predicted cost of an item: rows times the keys of the K/V tiles it computes (causal tiles
  // past the diagonal are skipped, partially masked ones cost in full), plus a per-row constant
  // for quantisation and the final normalisation.
  double item_cost(int64_t index) const;

  int nranks() const { return static_cast<int>(cuts_.size()) - 1; }
  Range rank_items(int rank) const { return {cuts_[rank], cuts_[rank + 1]}; }
  // Query rows of the flattened (B*H*Lq) row space that the rank computes.
  Range rank_rows(int rank) const;
  // Flattened (b * kv_heads + kvh) indices of the KV heads the rank's items use: contiguous.
  Range rank_kv_groups(int rank) const;
  double rank_cost(int rank) const;
  // max over ranks of predicted cost / mean - 1.
  double predicted_imbalance() const;

 private:
  AttnParams p_;
  int64_t num_items_ = 0;
  std::vector<int64_t> cuts_;  // nranks + 1 item indices
  std::vector<double> prefix_;  // prefix cost, num_items + 1
};

}  // namespace miniattn
