// Synthetic Q/K/V from a counter-based generator: every element is a pure function of
// (seed, tensor, global element index), so the data is the same whatever the rank count and
// whichever rows a rank generates.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace miniattn {

// The values' distribution (deck key [input] distribution).
enum class Distribution { Normal, Outliers, KBias };
std::string_view to_string(Distribution d);  // "normal", "outliers", "k_bias"
std::optional<Distribution> parse_distribution(std::string_view s);

enum class Tensor : uint32_t { Q = 1, K = 2, V = 3 };

// Rows [row_begin, row_end) of the flattened (batch * heads * len, d) matrix of one tensor
// (Q: heads = H, len = Lq; K and V: heads = Hkv, len = Lk), written to out (row stride d), on
// the calling thread (generate_rows, kokkos_host.hpp, spreads a row set over the host threads).
//   normal:   N(0, 1) for every tensor.
//   outliers: N(0, 1) + N(0, 10^2) * Bernoulli(0.001), for every tensor (FlashAttention-3's
//             outlier test distribution).
//   k_bias:   Q and V N(0, 1); K = N(0, 1) + b[batch, kv head, channel], b ~ N(0, 5^2): the
//             per-channel offset of K that smoothing removes (SageAttention).
void synthetic_rows(Distribution dist, uint64_t seed, Tensor t, int64_t heads, int64_t len, int d,
                    int64_t row_begin, int64_t row_end, float* out);

}  // namespace miniattn
