// Input: the rank's buffers, and Q, K and V in them, generated or read, then checked.
#include <cmath>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "driver/input_checks.hpp"
#include "driver/stages.hpp"
#include "miniattn/synthetic.hpp"

namespace miniattn {
namespace {

void generate(RunState& s) {
  const Deck::Input& in = s.deck.input;
  generate_rows("miniattn::generate_q", in.distribution, in.seed, Tensor::Q, s.p.heads, s.p.lq, s.p.d,
                s.slice.row_set, s.q.data());
  generate_rows("miniattn::generate_k", in.distribution, in.seed, Tensor::K, s.p.kv_heads, s.p.lk, s.p.d,
                s.slice.kv_set, s.k.data());
  generate_rows("miniattn::generate_v", in.distribution, in.seed, Tensor::V, s.p.kv_heads, s.p.lk, s.p.d,
                s.slice.kv_set, s.v.data());
}

// Scores and P.V sums of these inputs must stay in float32 range (docs/numerics.md).
void check_input_magnitudes(RunState& s) {
  s.magnitudes = check_magnitudes(s.comm, s.deck, s.p, s.q, s.k, s.v);
}

#if MINIATTN_HAVE_HDF5
void read_file(RunState& s) {
  all_or_none(s.comm, [&] {
    if (s.comm.root()) check_input_file_isolated(s.deck.input_spec());
  });
  all_or_none(s.comm, [&] {
    const Deck::Input& in = s.deck.input;
    H5Reader reader(s.comm, in.file);
    RowLayout q_file{s.p.batch, s.p.heads, s.p.lq, s.p.d};
    RowLayout kv_file{s.p.batch, s.p.kv_heads, s.p.lk, s.p.d};
    q_file.order = kv_file.order = in.layout;
    reader.read_rows(in.q, q_file, s.slice.row_set, s.q.data());
    reader.read_rows(in.k, kv_file, s.slice.kv_set, s.k.data());
    reader.read_rows(in.v, kv_file, s.slice.kv_set, s.v.data());
  });
}

// NaN or Inf in a file is reported with the dataset and the first offending index.
void check_finite(const RunState& s) {
  struct Tensor3 {
    const std::string* name;
    const HostView<float**>& data;
    const RowSet& rows;
    int64_t heads, len;
  };
  const AttnParams& p = s.p;
  const Tensor3 tensors[] = {
      {&s.deck.input.q, s.q, s.slice.row_set, p.heads, p.lq},
      {&s.deck.input.k, s.k, s.slice.kv_set, p.kv_heads, p.lk},
      {&s.deck.input.v, s.v, s.slice.kv_set, p.kv_heads, p.lk}};
  for (const Tensor3& t : tensors) {
    constexpr int64_t kNone = std::numeric_limits<int64_t>::max();
    // The first non-finite element of the rank's rows: local row * d + channel, times 2, plus 1
    // for Inf (0 for NaN); the smallest over threads.
    int64_t first = kNone;
    const HostView<float**> x = t.data;
    Kokkos::parallel_reduce(
        "miniattn::check_finite", static_items(static_cast<int64_t>(x.extent(0))),
        [=](int64_t r, int64_t& found) {
          for (int64_t c = 0; c < static_cast<int64_t>(x.extent(1)); ++c)
            if (!std::isfinite(x(r, c))) {
              found = std::min(found, ((r * p.d + c) << 1) | (std::isinf(x(r, c)) ? 1 : 0));
              return;
            }
        },
        Kokkos::Min<int64_t>(first));
    if (first != kNone) {  // as a global flat element index
      const int64_t e = first >> 1;
      first = ((t.rows.global(e / p.d) * p.d + e % p.d) << 1) | (first & 1);
    }
    first = s.comm.min(first);
    if (first == kNone) continue;
    const int64_t e = first >> 1;
    const int64_t col = e % p.d, row = e / p.d;
    const int64_t i = row % t.len, bh = row / t.len;
    // Every rank found the same index: agree on the error (rank 0's copy of it).
    raise_if_any(s.comm,
                 fmt::format("input file {}: dataset '{}' contains {} at (batch, head, row, "
                             "channel) = ({}, {}, {}, {}); inputs must be finite",
                             s.deck.input.file, *t.name, (first & 1) ? "Inf" : "NaN",
                             bh / t.heads, bh % t.heads, i, col),
                 ExitCode::BadInput);
  }
}
#endif

}  // namespace

void allocate_inputs(RunState& s) {
  const std::size_t d = static_cast<std::size_t>(s.p.d);
  const std::size_t rows = static_cast<std::size_t>(s.slice.row_set.size());
  const std::size_t keys = static_cast<std::size_t>(s.slice.kv_set.size());
  s.q = HostView<float**>("miniattn::q", rows, d);
  s.o = HostView<float**>("miniattn::o", rows, d);
  s.lse = HostView<float*>("miniattn::lse", rows);
  s.k = HostView<float**>("miniattn::k", keys, d);
  s.v = HostView<float**>("miniattn::v", keys, d);
  s.slice.q = s.q.data();
  s.slice.k = s.k.data();
  s.slice.v = s.v.data();
  s.slice.o = s.o.data();
  s.slice.lse = s.lse.data();
}

void read_inputs(RunState& s) {
  ScopedPhase timer(s.phases, Phase::Read);
  if (!s.hdf5_input()) {
    generate(s);
    check_input_magnitudes(s);
    return;
  }
#if MINIATTN_HAVE_HDF5
  read_file(s);
  check_finite(s);
  check_input_magnitudes(s);
#endif
}

}  // namespace miniattn
