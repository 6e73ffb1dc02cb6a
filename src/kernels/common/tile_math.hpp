// Helpers every CPU kernel shares: the causal geometry of a (query tile, key tile) pair and a
// bump allocator for per-thread scratch, so that sizing and carving use one code path.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "miniattn/kernel.hpp"

namespace miniattn::tile {

// One past the last key (global index) that any row of the tile sees within the block.
inline int64_t kv_end(const AttnParams& p, const QTile& q, const KvBlock& kv) {
  return std::min(kv.key0 + kv.n, p.visible_keys(q.row0 + q.rows - 1));
}

// Keys of [j0, j0 + nc) that query row `row` sees: the first visible_in_tile(...) of them.
inline int visible_in_tile(const AttnParams& p, int64_t row, int64_t j0, int nc) {
  return static_cast<int>(std::clamp<int64_t>(p.visible_keys(row) - j0, 0, nc));
}

// True when some row of the tile does not see every key of [j0, j0 + nc).
inline bool needs_mask(const AttnParams& p, const QTile& q, int64_t j0, int nc) {
  return p.causal && j0 + nc > p.visible_keys(q.row0);
}

// The int8 P blocks (kPBlock keys aligned to key 0) that cut the keys [j0, j0 + nc) of a tile:
// f(c0, c1, b) for the tile's columns [c0, c1) of its b-th block.
template <class F>
inline void for_each_p_block(int64_t j0, int nc, F&& f) {
  int b = 0;
  for (int c0 = 0; c0 < nc; ++b) {
    const int c1 = static_cast<int>(std::min<int64_t>(nc, ((j0 + c0) / kPBlock + 1) * kPBlock - j0));
    f(c0, c1, b);
    c0 = c1;
  }
}

// Most P blocks a run of n keys can touch (one partial block at each end).
inline int max_p_blocks(int64_t n) { return static_cast<int>(n / kPBlock + 2); }

// Carves 64-byte aligned arrays out of a scratch block. With base == nullptr it only counts,
// so one layout function gives both the size (scratch_bytes) and the pointers (attend).
class Arena {
 public:
  explicit Arena(std::byte* base) : base_(base) {}
  template <class T>
  T* take(std::size_t n) {
    offset_ = (offset_ + 63) & ~std::size_t{63};
    T* p = base_ ? reinterpret_cast<T*>(base_ + offset_) : nullptr;
    offset_ += n * sizeof(T);
    return p;
  }
  std::size_t used() const { return (offset_ + 63) & ~std::size_t{63}; }

 private:
  std::byte* base_;
  std::size_t offset_ = 0;
};

}  // namespace miniattn::tile
