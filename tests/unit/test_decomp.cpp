#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "miniattn/decomp.hpp"
#include "miniattn/error.hpp"
#include "miniattn/ring_plan.hpp"

namespace miniattn {
namespace {

AttnParams params(int64_t b, int64_t h, int64_t hkv, int64_t lq, int64_t lk, bool causal,
                  TileShape t) {
  return make_attn_params({b, h, hkv, lq, lk, 64, causal, 0.0}, Variant::Fused, PvPrecision::Fp32,
                          Exp2Kind::Accurate, QkScales::PerToken, true, t);
}

TEST(Decomp, RanksCoverEveryRowOnceInOrder) {
  for (bool causal : {false, true})
    for (int nranks : {1, 2, 3, 4, 7, 64}) {
      const AttnParams p = params(2, 6, 2, 333, 290, causal, {48, 64});
      const Decomposition d(p, nranks);
      int64_t next_item = 0, next_row = 0;
      for (int r = 0; r < nranks; ++r) {
        const Range items = d.rank_items(r), rows = d.rank_rows(r);
        EXPECT_EQ(items.begin, next_item);
        EXPECT_EQ(rows.begin, next_row);
        int64_t counted = 0;
        for (int64_t i = items.begin; i < items.end; ++i) counted += d.item(i).rows;
        EXPECT_EQ(counted, rows.size());
        next_item = items.end;
        next_row = rows.end;
      }
      EXPECT_EQ(next_item, d.num_items());
      EXPECT_EQ(next_row, p.batch * p.heads * p.lq);
    }
}

TEST(Decomp, ItemsAreQueryTilesWithRaggedTail) {
  const AttnParams p = params(1, 2, 1, 100, 100, false, {48, 64});
  const Decomposition d(p, 1);
  ASSERT_EQ(d.num_items(), 2 * 3);
  EXPECT_EQ(d.item(2).rows, 4);
  EXPECT_EQ(d.item(2).row0, 96);
  EXPECT_EQ(d.item(3).h, 1);
  EXPECT_EQ(d.item(3).row0, 0);
}

TEST(Decomp, KvGroupsAreTheHeadsTheItemsUse) {
  const AttnParams p = params(2, 8, 2, 64, 64, false, {64, 64});  // group of 4 query heads
  const Decomposition d(p, 4);
  for (int r = 0; r < 4; ++r) {
    const Range g = d.rank_kv_groups(r);
    std::set<int64_t> used;
    for (int64_t i = d.rank_items(r).begin; i < d.rank_items(r).end; ++i)
      used.insert(d.item(i).b * p.kv_heads + p.kv_head_of(d.item(i).h));
    ASSERT_FALSE(used.empty());
    EXPECT_EQ(*used.begin(), g.begin);
    EXPECT_EQ(*used.rbegin() + 1, g.end);
    EXPECT_EQ(static_cast<int64_t>(used.size()), g.size());
  }
  // 16 heads over 4 ranks: each rank gets exactly one whole GQA group, no K/V shared.
  for (int r = 0; r < 4; ++r) EXPECT_EQ(d.rank_kv_groups(r).size(), 1);
}

TEST(Decomp, CausalCostIsBalanced) {
  // Later query tiles see more keys; the cuts follow the cost, not the item count.
  const AttnParams p = params(1, 4, 4, 4096, 4096, true, {64, 64});
  for (int nranks : {2, 3, 4}) {
    const Decomposition d(p, nranks);
    EXPECT_LT(d.predicted_imbalance(), 0.02) << nranks << " ranks";
  }
  const Decomposition d2(p, 2);
  // Rank 0 gets more rows than rank 1 inside a head when the cut falls in one.
  EXPECT_NEAR(d2.rank_cost(0), d2.rank_cost(1), 0.02 * d2.rank_cost(0));
}

TEST(Decomp, GqaGroupsAreNotSplitWhenBalanceAllowsIt) {
  // 201 KV heads over 2 ranks: the cost cut falls in the middle of KV head 100, half a head
  // (0.5% of a rank's share) from a boundary: the cut moves there, no KV head is read twice.
  const AttnParams p = params(1, 402, 201, 256, 256, false, {64, 64});
  const Decomposition d(p, 2);
  EXPECT_EQ(d.rank_kv_groups(0).end, d.rank_kv_groups(1).begin);
  EXPECT_LT(d.predicted_imbalance(), 0.01);
  // 3 KV heads over 2 ranks: a boundary is a third of a share away; balance wins, the middle
  // head is split.
  const AttnParams q = params(1, 6, 3, 256, 256, false, {64, 64});
  const Decomposition e(q, 2);
  EXPECT_EQ(e.rank_kv_groups(0).end, e.rank_kv_groups(1).begin + 1);
  EXPECT_LT(e.predicted_imbalance(), 0.01);
}

TEST(Decomp, RowSetMapsBufferIndicesBothWays) {
  RowSet s;
  s.add({5, 8});
  s.add({8, 10});   // touches: merged
  s.add({20, 22});
  s.add({30, 30});  // empty: ignored
  ASSERT_EQ(s.ranges.size(), 2u);
  EXPECT_EQ(s.size(), 7);
  EXPECT_EQ(s.local(5), 0);
  EXPECT_EQ(s.local(9), 4);
  EXPECT_EQ(s.local(21), 6);
  EXPECT_EQ(s.local(10), -1);
  EXPECT_EQ(s.local(4), -1);
  for (int64_t i = 0; i < s.size(); ++i) EXPECT_EQ(s.local(s.global(i)), i);
}

TEST(Decomp, MoreRanksThanItemsLeavesSomeEmpty) {
  const AttnParams p = params(1, 1, 1, 10, 10, false, {64, 64});
  const Decomposition d(p, 4);
  int busy = 0;
  for (int r = 0; r < 4; ++r) {
    if (!d.rank_items(r).empty()) ++busy;
    if (d.rank_items(r).empty()) {
      EXPECT_TRUE(d.rank_rows(r).empty());
    }
  }
  EXPECT_EQ(busy, 1);
}

TEST(Decomp, UnmaskedScoresCountTheCausalTriangle) {
  EXPECT_EQ(params(1, 1, 1, 4, 6, true, {1, 1}).unmasked_scores(), 3 + 4 + 5 + 6);
  EXPECT_EQ(params(1, 1, 1, 6, 4, true, {1, 1}).unmasked_scores(), 0 + 0 + 1 + 2 + 3 + 4);
  EXPECT_EQ(params(2, 3, 1, 5, 7, false, {1, 1}).unmasked_scores(), 2 * 3 * 5 * 7);
}

// --- Ring mode's geometry (ring_plan.hpp): who holds which keys, who computes which rows ---

// Unmasked (query, key) pairs of query rows `q` (within a head) against keys `k`.
int64_t pairs(const AttnParams& p, Range q, Range k) {
  int64_t n = 0;
  for (int64_t i = q.begin; i < q.end; ++i)
    n += std::clamp<int64_t>(p.visible_keys(i) - k.begin, 0, k.size());
  return n;
}

TEST(RingPlan, EveryRowComputedOnceEveryKeyHeldOncePerRing) {
  for (bool causal : {false, true})
    for (auto [nranks, ring] : {std::pair{1, 0}, {2, 0}, {3, 0}, {4, 0}, {4, 2}, {6, 3}, {8, 2}}) {
      const AttnParams p = params(2, 8, 4, 333, 300, causal, {48, 32});
      const RingPlan plan(p, nranks, ring);
      std::vector<int> rows(static_cast<std::size_t>(p.batch * p.heads * p.lq), 0);
      std::vector<int> keys(static_cast<std::size_t>(p.batch * p.kv_heads * p.lk), 0);
      for (int r = 0; r < nranks; ++r) {
        const RowSet rs = plan.rows(r);
        int64_t item_rows = 0;
        for (const WorkItem& w : plan.items(r)) {
          item_rows += w.rows;
          // Query tiles are those of the replicated mode: whole tiles from row 0.
          EXPECT_EQ(w.row0 % p.tile.q, 0);
          EXPECT_EQ(w.rows, std::min<int64_t>(p.tile.q, p.lq - w.row0));
          // A rank computes only heads whose KV head its ring holds.
          const Range g = plan.kv_groups(plan.ring_of(r));
          const int64_t kvg = w.b * p.kv_heads + p.kv_head_of(w.h);
          EXPECT_TRUE(kvg >= g.begin && kvg < g.end);
          EXPECT_GE(rs.local((w.b * p.heads + w.h) * p.lq + w.row0), 0);
        }
        EXPECT_EQ(item_rows, rs.size());
        for (const Range& x : rs.ranges)
          for (int64_t i = x.begin; i < x.end; ++i) ++rows[static_cast<std::size_t>(i)];
        for (const Range& x : plan.kv_rows(r).ranges)
          for (int64_t i = x.begin; i < x.end; ++i) ++keys[static_cast<std::size_t>(i)];
        for (const Range& c : plan.key_chunks(plan.ring_rank(r))) {
          // Whole 64-key quantisation blocks and whole K/V tiles, aligned to key 0.
          EXPECT_EQ(c.begin % 64, 0);
          EXPECT_EQ(c.begin % p.tile.kv, 0);
          EXPECT_TRUE(c.end % 64 == 0 || c.end == p.lk);
        }
      }
      const int per_ring = 1;  // each ring holds its KV heads' keys exactly once
      EXPECT_TRUE(std::all_of(rows.begin(), rows.end(), [](int n) { return n == 1; }))
          << nranks << " ranks, ring " << ring;
      EXPECT_TRUE(std::all_of(keys.begin(), keys.end(), [&](int n) { return n == per_ring; }))
          << nranks << " ranks, ring " << ring;
    }
}

TEST(RingPlan, GqaGroupsStayInOneRing) {
  const AttnParams p = params(1, 32, 4, 256, 256, false, {64, 64});
  const RingPlan plan(p, 8, 2);  // 4 rings of 2 ranks, one KV head each
  EXPECT_EQ(plan.num_rings(), 4);
  for (int r = 0; r < 8; ++r) {
    EXPECT_EQ(plan.kv_groups(plan.ring_of(r)).size(), 1);
    for (const WorkItem& w : plan.items(r)) EXPECT_EQ(p.kv_head_of(w.h), plan.ring_of(r));
  }
}

TEST(RingPlan, CausalZigZagBalancesRanksAndRingSteps) {
  for (int ring : {2, 4, 8}) {
    const AttnParams p = params(1, 4, 4, 8192, 8192, true, {64, 64});
    const RingPlan plan(p, ring, 0);
    EXPECT_LT(plan.predicted_imbalance(), 0.03) << ring << " ranks";
    // Every (query shard, key shard) pair holds the same work, so no ring step waits on a
    // neighbour that got a heavier block: within a few tiles' worth of rows.
    std::vector<int64_t> work;
    for (int j = 0; j < ring; ++j)
      for (int k = 0; k < ring; ++k) {
        int64_t w = 0;
        for (const Range& q : plan.query_chunks(j))
          for (const Range& c : plan.key_chunks(k)) w += pairs(p, q, c);
        work.push_back(w);
      }
    const auto [lo, hi] = std::minmax_element(work.begin(), work.end());
    EXPECT_LT(static_cast<double>(*hi - *lo) / static_cast<double>(*hi), 0.02) << ring << " ranks";
  }
  // A contiguous split (no zig-zag) would be far from balanced: the last rank sees every key.
  const AttnParams p = params(1, 4, 4, 8192, 8192, true, {64, 64});
  const RingPlan plan(p, 4, 0);
  EXPECT_EQ(plan.query_chunks(0).size(), 2u);
  EXPECT_EQ(plan.query_chunks(0)[1].end, p.lq);  // rank 0 also holds the last chunk
}

TEST(RingPlan, KvCacheCausalIsBalancedToo) {
  // Lq < Lk, bottom-right mask: the cost of a row is still linear in its position.
  const AttnParams p = params(2, 8, 8, 1536, 2048, true, {64, 64});
  EXPECT_LT(RingPlan(p, 4, 0).predicted_imbalance(), 0.03);
}

TEST(RingPlan, RejectsRingSizesThatDoNotFit) {
  const AttnParams p = params(1, 4, 2, 256, 256, true, {64, 64});
  EXPECT_THROW(RingPlan(p, 4, 3), Error);   // does not divide 4
  EXPECT_THROW(RingPlan(p, 4, 8), Error);   // larger than the rank count
  EXPECT_THROW(RingPlan(p, 4, -1), Error);
  try {
    RingPlan(p, 4, 1);  // 4 rings, 2 KV heads
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ring_size >= 2"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(RingPlan(p, 4, 2));
}

TEST(RingPlan, MoreChunksThanTilesLeavesSomeRanksIdle) {
  // 4 query tiles, 2 key blocks, 8 zig-zag chunks: empty chunks are legal, coverage holds.
  const AttnParams p = params(1, 1, 1, 190, 100, true, {48, 64});
  const RingPlan plan(p, 4, 0);
  int64_t rows = 0, keys = 0;
  for (int r = 0; r < 4; ++r) {
    rows += plan.rows(r).size();
    keys += plan.kv_rows(r).size();
  }
  EXPECT_EQ(rows, 190);
  EXPECT_EQ(keys, 100);
}

TEST(RingPlan, TilesLargerThanAShareFallBackTo64KeyChunks) {
  // Lk = 230 with 256-key tiles is one whole tile: chunks of whole tiles would give one rank
  // every key. Under two tiles per chunk, chunks are 64-key blocks and every rank holds keys.
  const AttnParams p = params(2, 4, 2, 190, 230, false, {64, 256});
  const RingPlan plan(p, 2, 0);
  for (int r = 0; r < 2; ++r) {
    EXPECT_GT(plan.kv_rows(r).size(), 0) << "rank " << r;
    for (const Range& c : plan.key_chunks(r)) EXPECT_EQ(c.begin % 64, 0);
  }
  EXPECT_EQ(plan.kv_rows(0).size() + plan.kv_rows(1).size(), 4 * 230);  // B x Hkv heads
  // With enough keys, chunks stay whole tiles (the replicated mode's tiles).
  const AttnParams big = params(1, 4, 2, 4096, 4096, true, {64, 256});
  const RingPlan whole(big, 2, 0);
  for (int r = 0; r < 2; ++r)
    for (const Range& c : whole.key_chunks(r)) EXPECT_EQ(c.begin % 256, 0);
}

}  // namespace
}  // namespace miniattn
