#include "miniattn/decomp.hpp"

#include <algorithm>
#include <cmath>

namespace miniattn {
namespace {
// Per-row work outside the key loop (quantising the row, normalising O), in key equivalents.
constexpr double kRowOverheadKeys = 16.0;
}  // namespace

Decomposition::Decomposition(const AttnParams& p, int nranks) : p_(p) {
  num_items_ = p.batch * p.heads * p.q_tiles();
  prefix_.assign(static_cast<std::size_t>(num_items_) + 1, 0.0);
  for (int64_t i = 0; i < num_items_; ++i) prefix_[i + 1] = prefix_[i] + item_cost(i);

  // Cut where the prefix cost is closest to k/P of the total.
  cuts_.assign(static_cast<std::size_t>(nranks) + 1, 0);
  const double total = prefix_.back();
  for (int r = 1; r < nranks; ++r) {
    const double target = total * r / nranks;
    auto it = std::lower_bound(prefix_.begin() + cuts_[r - 1], prefix_.end(), target);
    int64_t i = it - prefix_.begin();
    if (i > cuts_[r - 1] && target - prefix_[i - 1] < prefix_[std::min(i, num_items_)] - target) --i;
    cuts_[r] = std::min(i, num_items_);
  }
  cuts_[nranks] = num_items_;
}

WorkItem Decomposition::item(int64_t index) const {
  const int64_t tiles = p_.q_tiles();
  const int64_t bh = index / tiles;
  const int64_t t = index % tiles;
  WorkItem w;
  w.b = bh / p_.heads;
  w.h = bh % p_.heads;
  w.row0 = t * p_.tile.q;
  w.rows = static_cast<int>(std::min<int64_t>(p_.tile.q, p_.lq - w.row0));
  return w;
}

double Decomposition::item_cost(int64_t index) const {
  const WorkItem w = item(index);
  const int64_t seen = p_.visible_keys(w.row0 + w.rows - 1);
  const int64_t tiles = (seen + p_.tile.kv - 1) / p_.tile.kv;
  const double keys = static_cast<double>(std::min<int64_t>(tiles * p_.tile.kv, p_.lk));
  return w.rows * (keys + kRowOverheadKeys);
}

Range Decomposition::rank_rows(int rank) const {
  const Range items = rank_items(rank);
  auto row_of = [this](int64_t index) {
    const WorkItem w = item(index);
    return (w.b * p_.heads + w.h) * p_.lq + w.row0;
  };
  if (items.empty()) {
    const int64_t at = items.begin < num_items_ ? row_of(items.begin) : p_.batch * p_.heads * p_.lq;
    return {at, at};
  }
  const WorkItem last = item(items.end - 1);
  return {row_of(items.begin), row_of(items.end - 1) + last.rows};
}

Range Decomposition::rank_kv_groups(int rank) const {
  const Range items = rank_items(rank);
  if (items.empty()) return {0, 0};
  auto group_of = [this](int64_t index) {
    const WorkItem w = item(index);
    return w.b * p_.kv_heads + p_.kv_head_of(w.h);
  };
  return {group_of(items.begin), group_of(items.end - 1) + 1};
}

double Decomposition::rank_cost(int rank) const {
  return prefix_[cuts_[rank + 1]] - prefix_[cuts_[rank]];
}

double Decomposition::predicted_imbalance() const {
  const int n = nranks();
  double mx = 0.0;
  for (int r = 0; r < n; ++r) mx = std::max(mx, rank_cost(r));
  const double mean = prefix_.back() / n;
  return mean > 0.0 ? mx / mean - 1.0 : 0.0;
}

}  // namespace miniattn
