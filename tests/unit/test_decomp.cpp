#include <gtest/gtest.h>

#include <set>

#include "miniattn/decomp.hpp"

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

}  // namespace
}  // namespace miniattn
