// The shared kernel test bodies on the sve backend, with its default tiles and odd shapes whose
// key tiles start inside a vector strip and inside a udot quad / bfdot pair; then what only the
// sve backend claims. Where it is not compiled in (x86 builds) or the CPU has no SVE, every
// test here is skipped with the reason. CI runs them under qemu-user (scripts/ci/sve.sh).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "kernel_test_params.hpp"
#include "kernels/common/exp2.hpp"
#include "kernels/studies.hpp"
#include "miniattn/cpu_features.hpp"
#include "miniattn/error.hpp"
#include "miniattn/registry.hpp"

namespace miniattn::test {

INSTANTIATE_TEST_SUITE_P(Sve, BackendKernel,
                         ::testing::Values(BackendParam{"sve", {{37, 48}, {13, 300}, {5, 19}}}));

namespace {

BackendInfo sve_info() {
  for (const BackendInfo& i : backend_infos())
    if (i.name == "sve") return i;
  ADD_FAILURE() << "no sve entry in the registry";
  return {};
}

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

}  // namespace

// CI's emulated runs say which vector length qemu was given (0: a CPU without SVE); the probe
// (HWCAP_SVE, PR_SVE_GET_VL) must report it.
TEST(SveBackend, ProbeReportsTheVectorLength) {
  const char* want = std::getenv("MINIATTN_EXPECT_SVE_BITS");
  if (!want || !*want) GTEST_SKIP() << "MINIATTN_EXPECT_SVE_BITS not set";
  const int bits_wanted = std::atoi(want);
  EXPECT_EQ(cpu_features().sve, bits_wanted > 0) << cpu_features().summary();
  EXPECT_EQ(cpu_features().sve_bits, bits_wanted) << cpu_features().summary();
}

TEST(SveBackend, AutoPicksItOnlyWhereTheCpuHasSve) {
  const BackendInfo info = sve_info();
  if (!info.compiled) GTEST_SKIP() << "sve not compiled in: " << info.enable;
  EXPECT_EQ(info.priority, 35);
  if (info.supported) {
    ASSERT_TRUE(cpu_features().sve);
    int auto_priority = 0;
    for (const BackendInfo& i : backend_infos())
      if (i.name == auto_backend_name()) auto_priority = i.priority;
    EXPECT_GE(auto_priority, info.priority) << "auto = " << auto_backend_name();
    EXPECT_EQ(create_backend("sve")->name(), "sve");
  } else {
    EXPECT_FALSE(cpu_features().sve);
    EXPECT_NE(auto_backend_name(), "sve");
    EXPECT_THROW(create_backend("sve"), Error);
  }
}

// bf16 P.V runs on bfdot where the CPU has SVE BF16: that path packs V in key pairs next to
// K, so the packed block grows; the widening path (A64FX) reads the bf16 V where it is.
TEST(SveBackend, Bf16PvUsesBfdotWhereTheCpuHasIt) {
  const BackendInfo info = sve_info();
  if (!info.supported) GTEST_SKIP() << "sve: " << info.detail;
  const char* want = std::getenv("MINIATTN_EXPECT_SVE_BF16");
  if (!want || !*want) GTEST_SKIP() << "MINIATTN_EXPECT_SVE_BF16 not set";
  EXPECT_EQ(cpu_features().sve_bf16, std::atoi(want) != 0) << cpu_features().summary();
  const auto be = create_backend("sve");
  const ProblemShape s{1, 1, 1, 8, 100, 64, false, 0.0};
  const auto params = [&](PvPrecision pv) {
    return make_attn_params(s, Variant::Fused, pv, Exp2Kind::Accurate, QkScales::PerToken, true,
                            be->default_tiles(s.d, pv));
  };
  const std::size_t fp32 = be->packed_kv_bytes(params(PvPrecision::Fp32), s.lk);
  const std::size_t bf16 = be->packed_kv_bytes(params(PvPrecision::Bf16), s.lk);
  EXPECT_EQ(bf16 >= fp32 + static_cast<std::size_t>(s.lk * s.d * 2), cpu_features().sve_bf16)
      << "packed bytes: fp32 " << fp32 << ", bf16 " << bf16;
}

// fexpa reproduces the fast form's table exactly, the integer fixed form is the same integer
// arithmetic, and fexpa plus a cubic term stays inside the accurate form's 2-ulp bound, over the
// whole domain the softmax uses (every 2^-14 of [-126, 0.5]) and the special values.
TEST(SveBackend, Exp2FormsMatchTheScalarForms) {
  const BackendInfo info = sve_info();
  if (!info.supported) GTEST_SKIP() << "sve: " << info.detail;
  const KernelStudies* st = kernel_studies("sve");
  ASSERT_NE(st, nullptr);
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {-inf, -1000.0f, -125.5f, -125.0001f, -125.0f, -0.0f, 0.0f, 1e-6f, 0.5f};
  for (double v = -126.0; v <= 0.5; v += 1.0 / 16384) x.push_back(static_cast<float>(v));
  std::vector<float> y(x.size());
  const int64_t n = static_cast<int64_t>(x.size());

  st->exp2_row(Exp2Kind::Fast, x.data(), y.data(), n);
  for (std::size_t i = 0; i < x.size(); ++i)
    ASSERT_EQ(bits(y[i]), bits(exp2::exp2_fast(x[i]))) << "fast, x = " << x[i];

  st->exp2_row(Exp2Kind::Fixed, x.data(), y.data(), n);
  for (std::size_t i = 0; i < x.size(); ++i)
    ASSERT_EQ(bits(y[i]), bits(exp2::exp2_fixed(x[i]))) << "fixed, x = " << x[i];

  st->exp2_row(Exp2Kind::Accurate, x.data(), y.data(), n);
  double worst = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!(x[i] >= exp2::kExp2Floor)) {
      ASSERT_EQ(y[i], 0.0f) << "accurate, x = " << x[i];
      continue;
    }
    const double exact = std::exp2(static_cast<double>(std::min(x[i], 0.0f)));
    const double rel = std::fabs(y[i] / exact - 1.0);
    worst = std::max(worst, rel);
    ASSERT_TRUE(std::isnormal(y[i])) << "accurate, x = " << x[i];
    ASSERT_LE(rel, 2.4e-7) << "accurate, x = " << x[i];  // the scalar form's bound (test_exp2)
  }
  std::printf("  sve exp2 accurate (fexpa + cubic): max relative error %.3e\n", worst);
}

}  // namespace miniattn::test
