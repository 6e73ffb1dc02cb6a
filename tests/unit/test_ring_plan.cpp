// Ring mode's geometry: who holds which keys and computes which query rows (ring_plan.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "miniattn/error.hpp"
#include "miniattn/ring_plan.hpp"

namespace miniattn {
namespace {

AttnParams params(int64_t b, int64_t h, int64_t hkv, int64_t lq, int64_t lk, bool causal,
                  TileShape t) {
  return make_attn_params({b, h, hkv, lq, lk, 64, causal, 0.0}, Variant::Fused, PvPrecision::Fp32,
                          Exp2Kind::Accurate, QkScales::PerToken, true, t);
}

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

}  // namespace
}  // namespace miniattn
