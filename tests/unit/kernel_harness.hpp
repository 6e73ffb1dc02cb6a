// Test harness: whole small problems run through one backend serially (quantise, pack, attend
// every tile, finalise), and the float64 references to hold them against.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "miniattn/attn_params.hpp"
#include "miniattn/synthetic.hpp"
#include "miniattn/kernel.hpp"
#include "kernels/reference/reference_backend.hpp"
#include "miniattn/verify.hpp"

namespace miniattn::test {

// Seed for fresh random inputs: MINIATTN_TEST_SEED if set, else a new one per process
// (printed by every failing assertion through SCOPED_TRACE(seed_note())).
uint64_t test_seed();
std::string seed_note();

struct Problem {
  AttnParams p;
  std::vector<float> q;  // B x H x Lq x D
  std::vector<float> k;  // B x Hkv x Lk x D
  std::vector<float> v;
};

struct Output {
  std::vector<float> o;    // B x H x Lq x D
  std::vector<float> lse;  // B x H x Lq
};

struct RefOutput {
  std::vector<double> o;
  std::vector<double> lse;
};

Problem make_problem(const ProblemShape& shape, Variant variant, PvPrecision pv, Exp2Kind exp2,
                     QkScales scales, bool smooth_k, TileShape tile, uint64_t seed,
                     Distribution dist = Distribution::Normal);

// The backend's output for the whole problem. kv_split > 1 feeds each KV head in that many
// blocks, merged through the row state, as the ring mode does.
Output run_backend(const Backend& be, const Problem& pr, int kv_split = 1);

// int32 scores of one query tile (b, h, rows [row0, row0 + rows)) against every key.
std::vector<int32_t> tile_scores(const Backend& be, const Problem& pr, int64_t b, int64_t h,
                                 int64_t row0, int rows);

RefOutput reference(const Problem& pr);

// The float64 reference of what the int8 pipeline actually multiplies (quant::dequantise_problem:
// q8 * q_scale, k8 * k_scale (smoothed, rotated where rotation is on), V as the P.V sees it),
// with the smoothing's LSE term added back as the executors do: the pipeline's O and LSE up to
// exp2 and P rounding.
RefOutput dequantised_reference(const Problem& pr);

// Error of out against ref over all rows (O), and max |LSE - ref| over rows that saw a key.
ErrorStats compare(const std::vector<float>& out, const std::vector<double>& ref);
double lse_max_abs(const std::vector<float>& out, const std::vector<double>& ref);

std::string describe(const ProblemShape& s);

}  // namespace miniattn::test
