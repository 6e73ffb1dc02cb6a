// Work decomposition. A work item is one query tile of one (batch, head). Items are numbered
// in (batch, kv head, head in group, tile) order, which is plain (batch, head, tile) order
// because query head h uses KV head h / group: the heads that share a KV head are adjacent, and
// a rank's items are one contiguous range of query rows of the flattened (B*H*Lq, D) matrix.
// Ranges are cut where the cumulative cost (unmasked keys, whole tiles) crosses k/P of the total.
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
