#include "kernels/reference/reference_backend.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/common/tile_math.hpp"
#include "miniattn/clock.hpp"

namespace miniattn {
namespace {

constexpr double kLog2e = 1.4426950408889634;

// Softmax-weighted sum of V for one row over keys [0, n) (relative to k, v), in double.
// Returns the row maximum of the scaled scores (natural-log units) and the sum of exp(s - max).
void one_row(const AttnParams& p, const float* q, const float* k, const float* v, int64_t n,
             double* scores, double* o, double& max_out, double& sum_out) {
  const int d = p.d;
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < n; ++j) {
    double s = 0.0;
    for (int c = 0; c < d; ++c) s += static_cast<double>(q[c]) * static_cast<double>(k[j * d + c]);
    scores[j] = s * p.scale;
    mx = std::max(mx, scores[j]);
  }
  std::fill(o, o + d, 0.0);
  double sum = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    const double e = std::exp(scores[j] - mx);
    sum += e;
    for (int c = 0; c < d; ++c) o[c] += e * static_cast<double>(v[j * d + c]);
  }
  if (sum > 0.0)
    for (int c = 0; c < d; ++c) o[c] /= sum;
  max_out = mx;
  sum_out = sum;
}

class ReferenceBackend final : public Backend {
 public:
  std::string_view name() const override { return "reference"; }
  bool quantized() const override { return false; }
  TileShape default_tiles(int, PvPrecision) const override { return {16, 256}; }

  std::size_t scratch_bytes(const AttnParams& p, int64_t n) const override {
    tile::Arena arena(nullptr);
    carve(arena, p, p.tile.q, n);
    return arena.used();
  }

  void attend(const AttnParams& p, const QTile& q, const KvBlock& kv, const RowState& st,
              std::byte* scratch, TileCycles& cyc) const override {
    const uint64_t c0 = cycle_now();
    tile::Arena arena(scratch);
    const Scratch s = carve(arena, p, q.rows, kv.n);
    const int d = p.d;
    reset_row_state(s.block, q.rows, d);
    for (int r = 0; r < q.rows; ++r) {
      const int64_t n = std::clamp<int64_t>(p.visible_keys(q.row0 + r) - kv.key0, 0, kv.n);
      if (n == 0) continue;
      double mx, sum;
      one_row(p, q.q + static_cast<int64_t>(r) * d, kv.k, kv.v, n, s.scores, s.o, mx, sum);
      s.block.m[r] = static_cast<float>(mx * kLog2e);
      // The float state is relative to the rounded maximum: l = sum of 2^(s*log2e - m).
      const double shift = std::exp2(mx * kLog2e - static_cast<double>(s.block.m[r]));
      s.block.l[r] = static_cast<float>(sum * shift);
      for (int c = 0; c < d; ++c)
        s.block.acc[static_cast<int64_t>(r) * d + c] = static_cast<float>(s.o[c] * sum * shift);
    }
    merge_row_state(st, s.block, q.rows, d);
    cyc.qk += cycle_now() - c0;  // the reference is not split into phases
  }

 private:
  struct Scratch {
    double* scores;
    double* o;
    RowState block;
  };
  static Scratch carve(tile::Arena& arena, const AttnParams& p, int rows, int64_t n) {
    Scratch s;
    s.scores = arena.take<double>(static_cast<std::size_t>(std::max<int64_t>(n, 1)));
    s.o = arena.take<double>(p.d);
    s.block.m = arena.take<float>(rows);
    s.block.l = arena.take<float>(rows);
    s.block.acc = arena.take<float>(static_cast<std::size_t>(rows) * p.d);
    return s;
  }
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend() { return std::make_unique<ReferenceBackend>(); }

void reference_rows(const AttnParams& p, const float* q, const int64_t* row, int rows,
                    const float* k, const float* v, int64_t n_keys, double* o, double* lse) {
  std::vector<double> scores(static_cast<std::size_t>(std::max<int64_t>(n_keys, 1)));
  for (int r = 0; r < rows; ++r) {
    const int64_t n = std::min(p.visible_keys(row[r]), n_keys);
    double* orow = o + static_cast<int64_t>(r) * p.d;
    if (n <= 0) {
      std::fill(orow, orow + p.d, 0.0);
      lse[r] = -std::numeric_limits<double>::infinity();
      continue;
    }
    double mx, sum;
    one_row(p, q + static_cast<int64_t>(r) * p.d, k, v, n, scores.data(), orow, mx, sum);
    lse[r] = mx + std::log(sum);
  }
}

}  // namespace miniattn
