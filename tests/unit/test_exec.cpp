// The Kokkos host layer the executors and the driver run on (kokkos_host.hpp): the parallel
// synthetic generator gives the serial generator's values for any split of rows, and the work
// items of a parallel_items loop each run exactly once, with all or with fewer of the threads.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <vector>

#include "miniattn/kokkos_host.hpp"

namespace miniattn {
namespace {

TEST(KokkosHost, GenerateRowsEqualsTheSerialGenerator) {
  const int64_t heads = 3, len = 301, d = 80;
  RowSet rows;  // ranges of several heads, some longer than a chunk, some cut mid-head
  rows.add({5, 190});
  rows.add({290, 350});
  rows.add({600, 903});
  for (Distribution dist : {Distribution::Normal, Distribution::Outliers, Distribution::KBias}) {
    std::vector<float> got(static_cast<std::size_t>(rows.size() * d)), want(got.size());
    generate_rows("test::generate", dist, 7, Tensor::K, heads, len, d, rows, got.data());
    float* out = want.data();
    for (const Range& r : rows.ranges) {
      synthetic_rows(dist, 7, Tensor::K, heads, len, d, r.begin, r.end, out);
      out += r.size() * d;
    }
    EXPECT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float)))
        << "distribution " << to_string(dist);
  }
}

TEST(KokkosHost, ParallelItemsRunsEveryItemOnce) {
  const int64_t n = 1000;
  for (int workers : {0, 1, host_threads(), host_threads() + 3}) {
    std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
    parallel_items("test::items", n, workers, [&](int64_t i) { hits[static_cast<std::size_t>(i)]++; });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<std::size_t>(i)].load(), 1) << "workers " << workers;
  }
}

TEST(KokkosHost, DescriptionNamesTheVersionAndTheHostSpace) {
  const std::string s = kokkos_description();
  EXPECT_NE(s.find("Kokkos "), std::string::npos) << s;
  EXPECT_NE(s.find(std::string("host space ") + HostExec::name()), std::string::npos) << s;
}

}  // namespace
}  // namespace miniattn
