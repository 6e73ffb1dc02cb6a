// The input deck: TOML (the schema of DESIGN.md) plus --set overrides, validated into one plain
// struct. Unknown keys, wrong types and out-of-range values are errors that name the key, the
// value, what was expected and, where there is one, the deck line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "miniattn/attn_params.hpp"
#include "miniattn/input_spec.hpp"
#include "miniattn/synthetic.hpp"

namespace miniattn {

enum class InputSource { Synthetic, Hdf5 };
enum class KvMode { Replicated, Ring };
enum class VerifyMode { None, Sampled, Full };

struct Deck {
  struct Problem {
    int64_t batch = 1;
    int64_t heads = 8;
    int64_t kv_heads = 8;
    int64_t seq_len = 0;  // required
    int64_t kv_len = 0;   // default seq_len
    int64_t head_dim = 0; // required
    bool causal = false;
    double scale = 0.0;   // 0 = 1/sqrt(head_dim)
  } problem;

  struct Input {
    InputSource source = InputSource::Synthetic;
    std::string file;  // required when source = hdf5
    std::string q = "Q";
    std::string k = "K";
    std::string v = "V";
    uint64_t seed = 42;
    Distribution distribution = Distribution::Normal;
    TensorLayout layout = TensorLayout::Bhld;
  } input;

  struct Run {
    std::string backend = "auto";
    Variant variant = Variant::Fused;
    PvPrecision pv_precision = PvPrecision::Fp32;
    Exp2Kind exp2 = Exp2Kind::Accurate;
    QkScales qk_scales = QkScales::PerToken;
    bool smooth_k = true;
    Rotation rotate = Rotation::Hadamard;  // chosen from docs/numerics.md's accuracy table
    int64_t tile_q = 0;  // 0 = backend default
    int64_t tile_kv = 0;
    int64_t threads = 0;  // 0 = OMP_NUM_THREADS, else all cores of the rank
    KvMode kv_mode = KvMode::Replicated;
    int64_t ring_size = 0;  // kv_mode = "ring": ranks per ring (a divisor of -np), 0 = all
    int64_t repeat = 3;
    int64_t warmup = 1;
  } run;

  struct Output {
    std::string file = "miniattn_out.h5";  // "" = do not write
    bool write_lse = true;
    std::string report;  // JSON report path, "" = none
  } output;

  struct Verify {
    VerifyMode mode = VerifyMode::Sampled;
    int64_t rows = 256;  // sampled rows per (batch, head)
    double max_rel_l2 = 0.03;
    double min_cosine = 0.9999;
    double max_lse_abs = 0.25;  // largest |LSE - reference| (natural log)
  } verify;

  ProblemShape shape() const;
  // [input] file, q, k, v and layout with shape(): what the HDF5 input check reads.
  InputFileSpec input_spec() const;
};

// Parses TOML text (source_name is used in messages, e.g. the file path), applies overrides
// ("section.key=value", the value read as TOML, or as a bare string when it is not valid TOML)
// in order, validates, and returns the effective deck. Throws miniattn::Error (ExitCode::BadInput).
Deck parse_deck(const std::string& toml_text, const std::string& source_name,
                const std::vector<std::string>& overrides = {});
// Reads the file, then as parse_deck. A missing or unreadable file is an error naming it.
Deck parse_deck_file(const std::string& path, const std::vector<std::string>& overrides = {});

// The effective deck as TOML text: every key, defaults included. parse_deck(to_toml(d)) == d.
std::string to_toml(const Deck& deck);

std::string_view to_string(InputSource s);
std::string_view to_string(KvMode m);
std::string_view to_string(VerifyMode m);

}  // namespace miniattn
