// Numerical edge cases of the pieces every backend shares.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/common/quantize.hpp"

namespace miniattn::test {

TEST(Numerics, SubnormalRowsQuantiseWithoutOverflow) {
  // amax = 2^-130 (subnormal): 127 / amax overflows float. Exact halves round to even.
  const float a = std::ldexp(1.0f, -130);
  const std::vector<float> x = {a, a / 2, 0.0f, -a, -a / 4, a / 128};
  const std::vector<int8_t> want = {127, 64, 0, -127, -32, 1};
  std::vector<int8_t> q8(x.size());
  float scale = 0.0f;
  quant::quantize_q_tile(QkScales::PerToken, x.data(), 1, static_cast<int>(x.size()), q8.data(), &scale);
  EXPECT_EQ(q8, want);
  EXPECT_EQ(scale, a / 127.0f);
  quant::quantize_k(QkScales::PerBlock, x.data(), 1, static_cast<int>(x.size()), nullptr, q8.data(), &scale);
  EXPECT_EQ(q8, want);

  // V per channel: one column of subnormals next to a normal one.
  const std::vector<float> v = {a, 1.0f, a / 2, -0.5f, -a, 0.25f};
  std::vector<int8_t> v8(v.size());
  std::vector<float> vs(2);
  quant::quantize_v_per_channel(v.data(), 3, 2, v8.data(), vs.data());
  EXPECT_EQ(v8, (std::vector<int8_t>{127, 127, 64, -64, -127, 32}));
}

}  // namespace miniattn::test
