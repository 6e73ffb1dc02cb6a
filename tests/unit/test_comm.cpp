// Comm's operations on however many ranks mpiexec starts (tests/mpi runs 1 and 3): every rank
// runs every collective whatever an earlier check found (EXPECT, never ASSERT, before one), so a
// failure is reported instead of a hang.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "miniattn/comm.hpp"

namespace miniattn {
namespace {

const Comm& world() {
  static const Comm c = Comm::world();
  return c;
}

TEST(Comm, SplitGroupsRanksByColourInKeyOrder) {
  const Comm& w = world();
  // Colour by parity; the key reverses the world order.
  const Comm c = w.split(w.rank() % 2, w.size() - w.rank());
  int same = 0, after = 0, top = w.rank();
  for (int r = w.rank() % 2; r < w.size(); r += 2) {
    ++same;
    if (r > w.rank()) ++after;
    top = std::max(top, r);
  }
  EXPECT_EQ(c.size(), same);
  EXPECT_EQ(c.rank(), after);
  EXPECT_EQ(c.sum(int64_t{1}), same);
  EXPECT_EQ(c.max(static_cast<int64_t>(w.rank())), top);
  const Comm node = w.split_node();
  EXPECT_EQ(static_cast<int>(node.sum(uint64_t{1})), node.size());
  EXPECT_LE(node.size(), w.size());
}

TEST(Comm, ElementWiseReductionsInPlace) {
  const Comm& w = world();
  std::vector<float> v = {static_cast<float>(w.rank()), -static_cast<float>(w.rank()), 2.5f};
  w.max_inplace(v.data(), static_cast<int>(v.size()));
  EXPECT_EQ(v, (std::vector<float>{static_cast<float>(w.size() - 1), 0.0f, 2.5f}));
  std::vector<double> s = {1.0, static_cast<double>(w.rank())};
  w.sum_inplace(s.data(), 2);
  EXPECT_EQ(s, (std::vector<double>{static_cast<double>(w.size()), w.size() * (w.size() - 1) / 2.0}));
}

TEST(Comm, AllgatherAndAllgathervPlaceEveryRanksValues) {
  const Comm& w = world();
  const std::vector<int> counts = w.allgather(w.rank() + 1);  // rank r gives r + 1 values
  std::vector<int> want_counts(static_cast<std::size_t>(w.size()));
  std::vector<int> displs(want_counts.size());
  int total = 0;
  for (int r = 0; r < w.size(); ++r) {
    want_counts[r] = r + 1;
    displs[r] = total + r;  // a gap of r values before rank r's: displacements are honoured
    total += 2 * r + 1;
  }
  EXPECT_EQ(counts, want_counts);
  std::vector<int64_t> mine(static_cast<std::size_t>(w.rank() + 1));
  std::vector<float> mine_f(mine.size());
  for (std::size_t i = 0; i < mine.size(); ++i) {
    mine[i] = (int64_t{1} << 40) * w.rank() + static_cast<int64_t>(i);
    mine_f[i] = 0.5f * static_cast<float>(mine[i] & 0xffff);
  }
  std::vector<int64_t> all(static_cast<std::size_t>(total), -1);
  std::vector<float> all_f(all.size(), -1.0f);
  w.allgatherv(mine.data(), w.rank() + 1, all.data(), want_counts, displs);
  w.allgatherv(mine_f.data(), w.rank() + 1, all_f.data(), want_counts, displs);
  for (int r = 0; r < w.size(); ++r)
    for (int i = 0; i < r + 1; ++i) {
      EXPECT_EQ(all[displs[r] + i], (int64_t{1} << 40) * r + i) << "rank " << r << " value " << i;
      EXPECT_EQ(all_f[displs[r] + i], 0.5f * static_cast<float>(i)) << "rank " << r;
    }
}

// Records (count, sum, max) merged over ranks.
void merge_stats(const double* in, double* inout, int64_t records, int len) {
  for (int64_t i = 0; i < records; ++i) {
    inout[i * len] += in[i * len];
    inout[i * len + 1] += in[i * len + 1];
    inout[i * len + 2] = std::max(inout[i * len + 2], in[i * len + 2]);
  }
}

TEST(Comm, ReduceScatterRecordsMergesAndHandsOutTheRanksShares) {
  const Comm& w = world();
  std::vector<int> counts(static_cast<std::size_t>(w.size()));
  int total = 0;
  for (int r = 0; r < w.size(); ++r) total += counts[r] = r + 2;
  std::vector<double> send(static_cast<std::size_t>(total) * 3);
  for (int j = 0; j < total; ++j) {
    send[j * 3] = 1.0;
    send[j * 3 + 1] = j + 0.25 * w.rank();
    send[j * 3 + 2] = j * w.rank();
  }
  std::vector<double> recv(static_cast<std::size_t>(counts[w.rank()]) * 3, -1.0);
  w.reduce_scatter_records(send.data(), recv.data(), counts, 3, merge_stats);
  int first = 0;
  for (int r = 0; r < w.rank(); ++r) first += counts[r];
  const double n = w.size(), rank_sum = w.size() * (w.size() - 1) / 2.0;
  for (int i = 0; i < counts[w.rank()]; ++i) {
    const int j = first + i;
    EXPECT_EQ(recv[i * 3], n) << "record " << j;
    EXPECT_EQ(recv[i * 3 + 1], n * j + 0.25 * rank_sum) << "record " << j;
    EXPECT_EQ(recv[i * 3 + 2], static_cast<double>(j) * (w.size() - 1)) << "record " << j;
  }
}

TEST(Comm, NonBlockingRingTransferCompletesThroughTestAndWait) {
  const Comm& w = world();
  Comm::Requests none;
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(none.test());
  none.wait();
  if (w.size() < 2) GTEST_SKIP() << "one rank: no peer to send to";
  const int next = (w.rank() + 1) % w.size(), prev = (w.rank() + w.size() - 1) % w.size();
  // Two sizes of message, one of them empty (posts nothing).
  for (std::size_t bytes : {std::size_t{0}, std::size_t{3} << 20}) {
    std::vector<unsigned char> out(bytes), in(bytes, 0);
    for (std::size_t i = 0; i < bytes; ++i) out[i] = static_cast<unsigned char>(i * 7 + w.rank());
    Comm::Requests reqs;
    w.irecv_bytes(in.data(), bytes, prev, 5, reqs);
    w.isend_bytes(out.data(), bytes, next, 5, reqs);
    EXPECT_EQ(reqs.empty(), bytes == 0);
    for (int polls = 0; polls < 1000 && !reqs.test(); ++polls) {
    }
    reqs.wait();
    EXPECT_TRUE(reqs.test());
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < bytes; ++i)
      wrong += in[i] != static_cast<unsigned char>(i * 7 + prev);
    EXPECT_EQ(wrong, 0u) << bytes << " bytes from rank " << prev;
    w.barrier();
  }
}

}  // namespace
}  // namespace miniattn
