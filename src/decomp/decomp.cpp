#include "miniattn/decomp.hpp"

#include <algorithm>
#include <cmath>

namespace miniattn {
namespace {
// Per-row work outside the key loop (quantising the row, normalising O), in key equivalents.
constexpr double kRowOverheadKeys = 16.0;
// A cut moves to a KV-group boundary when that changes a rank's cost by at most this fraction
// of the mean rank cost (well inside the 3% balance the decomposition aims at).
constexpr double kGroupSnap = 0.01;
}  // namespace

void RowSet::add(Range r) {
  if (r.empty()) return;
  if (!ranges.empty() && ranges.back().end == r.begin) {
    ranges.back().end = r.end;
    return;
  }
  ranges.push_back(r);
}

int64_t RowSet::size() const {
  int64_t n = 0;
  for (const Range& r : ranges) n += r.size();
  return n;
}

int64_t RowSet::local(int64_t g) const {
  int64_t base = 0;
  for (const Range& r : ranges) {
    if (g < r.begin) return -1;
    if (g < r.end) return base + g - r.begin;
    base += r.size();
  }
  return -1;
}

int64_t RowSet::global(int64_t i) const {
  for (const Range& r : ranges) {
    if (i < r.size()) return r.begin + i;
    i -= r.size();
  }
  return -1;
}

double work_item_cost(const AttnParams& p, const WorkItem& w) {
  const int64_t seen = p.visible_keys(w.row0 + w.rows - 1);
  const int64_t tiles = (seen + p.tile.kv - 1) / p.tile.kv;
  const double keys = static_cast<double>(std::min<int64_t>(tiles * p.tile.kv, p.lk));
  return w.rows * (keys + kRowOverheadKeys);
}

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
    i = std::min(i, num_items_);
    // The nearest KV-group boundary (items of one KV head are adjacent), if it is cheap enough.
    const int64_t group_items = p.group_size() * p.q_tiles();
    const int64_t below = i / group_items * group_items;
    const int64_t above = std::min(below + group_items, num_items_);
    const double slack = kGroupSnap * total / nranks;
    int64_t best = i;
    double best_miss = slack;
    for (int64_t b : {below, above}) {
      const double miss = std::abs(prefix_[b] - target);
      if (b >= cuts_[r - 1] && miss <= best_miss) {
        best = b;
        best_miss = miss;
      }
    }
    cuts_[r] = best;
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

double Decomposition::item_cost(int64_t index) const { return work_item_cost(p_, item(index)); }

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
