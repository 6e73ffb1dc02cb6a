// The up-front memory estimate equals what the run then allocates (CpuExecutor's own count plus
// the driver's arrays), for every backend, precision, variant, thread count and rank split;
// and MINIATTN_MEMORY_LIMIT is read as documented.
#include "driver/memory_estimate.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

#include "exec/cpu_executor.hpp"
#include "miniattn/decomp.hpp"
#include "miniattn/error.hpp"
#include "miniattn/registry.hpp"

#include "miniattn/kokkos_host.hpp"

namespace miniattn {
namespace {


TEST(MemoryEstimate, EqualsWhatTheExecutorAllocates) {
  const ProblemShape shapes[] = {{2, 4, 2, 190, 230, 64, true, 0.0},
                                 {1, 3, 1, 77, 500, 256, false, 0.0},
                                 {1, 1, 1, 5, 3, 16, false, 0.0}};
  for (const BackendInfo& info : backend_infos()) {
    // The CPU backends this CPU runs (avx512 and avx2 keep no unpacked V: they quantise into
    // their packed layout); the kokkos and cuda backends have executors of their own.
    if (!info.compiled || !info.supported || info.name == "kokkos" || info.name == "cuda") continue;
    const char* name = info.name.c_str();
    const std::unique_ptr<Backend> be = create_backend(name);
    for (const ProblemShape& s : shapes)
      for (PvPrecision pv : {PvPrecision::Fp32, PvPrecision::Bf16, PvPrecision::Int8})
        for (Variant v : {Variant::Fused, Variant::Unfused})
          for (int ranks : {1, 3})
            for (int threads : {1, 4}) {
              const AttnParams p = make_attn_params(s, v, pv, Exp2Kind::Accurate,
                                                    QkScales::PerToken, true,
                                                    be->default_tiles(s.d, pv));
              const Decomposition dec(p, ranks);
              for (int r = 0; r < ranks; ++r) {
                const RankSlice slice = replicated_slice(p, dec, r);
                // Per-thread buffers come for every thread of Kokkos' host space (a UniqueToken
                // slot each), whatever number of them runs the kernels.
                const CpuExecutor exec(*be, p, dec, slice, threads);
                const MemoryEstimate m = estimate_rank_memory(
                    *be, p, slice.row_set.size(), slice.kv_set.size(), slice.groups.size(),
                    host_threads(), false);
                SCOPED_TRACE(::testing::Message() << name << " pv " << to_string(pv) << " "
                                                  << to_string(v) << " rank " << r << "/" << ranks
                                                  << " threads " << threads << " D " << s.d);
                EXPECT_EQ(m.executor(), exec.bytes_allocated());
                const std::size_t rows = slice.rows.size(), keys = slice.groups.size() * p.lk;
                EXPECT_EQ(m.q + m.o_lse + m.kv, (2 * rows * s.d + rows + 2 * keys * s.d) * 4);
                EXPECT_EQ(m.io_staging, 0u);
                EXPECT_EQ(m.total(), m.q + m.o_lse + m.kv + exec.bytes_allocated());
              }
            }
  }
}

TEST(MemoryEstimate, Hdf5InputAddsTheFloat64StagingOfOneRead) {
  const std::unique_ptr<Backend> be = create_backend("portable");
  const AttnParams p = make_attn_params({1, 2, 2, 100, 300, 64, false, 0.0}, Variant::Fused,
                                        PvPrecision::Fp32, Exp2Kind::Accurate, QkScales::PerToken,
                                        true, be->default_tiles(64, PvPrecision::Fp32));
  // The largest of the three reads: K or V of two heads, 600 rows of 64 values staged as double
  // (the widest input dtype, float64).
  EXPECT_EQ(estimate_rank_memory(*be, p, 200, 600, 2, 1, true).io_staging, 600u * 64 * 8);
}

class MemoryLimitEnv : public ::testing::Test {
 protected:
  void TearDown() override { unsetenv("MINIATTN_MEMORY_LIMIT"); }
};

TEST_F(MemoryLimitEnv, SizesWithBinarySuffixes) {
  const std::pair<const char*, std::size_t> cases[] = {
      {"4096", 4096},        {"64K", 64u << 10},   {"3M", 3u << 20},
      {"2G", 2ull << 30},    {"1T", 1ull << 40},   {"5GiB", 5ull << 30},
      {"7m", 7u << 20},      {"12KB", 12u << 10}};
  for (const auto& [text, bytes] : cases) {
    setenv("MINIATTN_MEMORY_LIMIT", text, 1);
    const auto a = available_memory();
    ASSERT_TRUE(a.has_value()) << text;
    EXPECT_EQ(a->bytes, bytes) << text;
    EXPECT_NE(a->source.find("MINIATTN_MEMORY_LIMIT"), std::string::npos);
  }
}

TEST_F(MemoryLimitEnv, MalformedLimitIsAnErrorNamingIt) {
  for (const char* text : {"lots", "12X", "-5", "1.5G", "99999999999999999999"}) {
    setenv("MINIATTN_MEMORY_LIMIT", text, 1);
    try {
      available_memory();
      ADD_FAILURE() << text << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("MINIATTN_MEMORY_LIMIT="), std::string::npos);
    }
  }
}

TEST_F(MemoryLimitEnv, WithoutALimitTheMachineIsAsked) {
  unsetenv("MINIATTN_MEMORY_LIMIT");
  const auto a = available_memory();
#if defined(__linux__)
  ASSERT_TRUE(a.has_value());
  EXPECT_GT(a->bytes, std::size_t{1} << 20);
#endif
}

TEST(MemoryEstimate, FormatsBytes) {
  EXPECT_EQ(format_bytes(100), "100 B");
  EXPECT_EQ(format_bytes(12 * 1024), "12 KiB");
  EXPECT_EQ(format_bytes(1.5 * 1024 * 1024 * 1024), "1.5 GiB");
}

}  // namespace
}  // namespace miniattn
