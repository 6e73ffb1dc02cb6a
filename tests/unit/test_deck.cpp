// The deck: defaults, overrides, to_toml round trips and the error messages users will read.
#include "miniattn/deck.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "miniattn/error.hpp"

namespace miniattn {
namespace {

// Every field of a section, enums by name, so that EXPECT_EQ compares and prints them all.
auto problem_of(const Deck& d) {
  const auto& p = d.problem;
  return std::make_tuple(p.batch, p.heads, p.kv_heads, p.seq_len, p.kv_len, p.head_dim, p.causal,
                         p.scale);
}
auto input_of(const Deck& d) {
  const auto& i = d.input;
  return std::make_tuple(std::string(to_string(i.source)), i.file, i.q, i.k, i.v, i.seed,
                         std::string(to_string(i.distribution)), std::string(to_string(i.layout)));
}
auto run_of(const Deck& d) {
  const auto& r = d.run;
  return std::make_tuple(r.backend, std::string(to_string(r.variant)),
                         std::string(to_string(r.pv_precision)), std::string(to_string(r.exp2)),
                         std::string(to_string(r.qk_scales)), r.smooth_k, r.tile_q, r.tile_kv,
                         r.threads, std::string(to_string(r.kv_mode)), r.repeat, r.warmup);
}
auto output_of(const Deck& d) {
  return std::make_tuple(d.output.file, d.output.write_lse, d.output.report);
}
auto verify_of(const Deck& d) {
  const auto& v = d.verify;
  return std::make_tuple(std::string(to_string(v.mode)), v.rows, v.max_rel_l2, v.min_cosine);
}

void expect_same(const Deck& a, const Deck& b) {
  EXPECT_EQ(problem_of(a), problem_of(b));
  EXPECT_EQ(input_of(a), input_of(b));
  EXPECT_EQ(run_of(a), run_of(b));
  EXPECT_EQ(output_of(a), output_of(b));
  EXPECT_EQ(verify_of(a), verify_of(b));
}

// DESIGN.md's deck, verbatim: every value in it is the documented default.
const char* const kDesignDeck = R"(
[problem]
batch = 1
heads = 8
kv_heads = 8            # < heads: GQA/MQA; heads % kv_heads == 0
seq_len = 4096          # Lq (required)
kv_len = 4096           # Lk, default seq_len
head_dim = 128          # required
causal = false          # bottom-right aligned
scale = 0.0             # 0 = 1/sqrt(head_dim)

[input]
source = "synthetic"    # synthetic | hdf5
file = ""               # required when source = "hdf5"
q = "Q"                 # dataset names in the file
k = "K"
v = "V"
seed = 42
distribution = "normal" # normal | outliers (FA3's N(0,1)+N(0,100)*Bernoulli(0.001)) | k_bias

[run]
backend = "auto"        # auto | reference | portable | kokkos | avx512 | avx2 | sve | cuda
variant = "fused"       # fused | two_pass | unfused
pv_precision = "fp32"   # fp32 | bf16 | int8
exp2 = "accurate"       # accurate | fast | fixed
qk_scales = "per_token" # per_token | per_block
smooth_k = true
tile_q = 0              # 0 = backend default
tile_kv = 0
threads = 0             # 0 = OMP_NUM_THREADS, else all cores of the rank
kv_mode = "replicated"  # replicated | ring
repeat = 3
warmup = 1

[output]
file = "miniattn_out.h5" # "" = do not write
write_lse = true
report = ""             # JSON report path, "" = none

[verify]
mode = "sampled"        # none | sampled | full
rows = 256              # sampled rows per (batch, head)
max_rel_l2 = 0.03
min_cosine = 0.9999
)";

// Every key set to something other than its default.
const char* const kFullDeck = R"(
[problem]
batch = 2
heads = 32
kv_heads = 4
seq_len = 8192
kv_len = 16384
head_dim = 256
causal = true
scale = 0.125

[input]
source = "hdf5"
file = "/scratch/qkv.h5"
q = "query"
k = "key"
v = "value"
seed = 7
distribution = "outliers"
layout = "blhd"

[run]
backend = "avx512"
variant = "two_pass"
pv_precision = "bf16"
exp2 = "fast"
qk_scales = "per_block"
smooth_k = false
tile_q = 128
tile_kv = 64
threads = 12
kv_mode = "ring"
repeat = 10
warmup = 2

[output]
file = "out.h5"
write_lse = false
report = "report.json"

[verify]
mode = "full"
rows = 17
max_rel_l2 = 0.01
min_cosine = 0.999
)";

const char* const kMinimalDeck = "[problem]\nseq_len = 4096\nhead_dim = 128\n";

// The message of the miniattn::Error that parse_deck throws ("" and a failure if none).
std::string deck_error(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse_deck(text, "deck.toml", overrides);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::BadInput);
    return e.what();
  }
  ADD_FAILURE() << "no error for deck:\n" << text;
  return "";
}

TEST(Deck, MinimalDeckGetsTheDesignDefaults) {
  const Deck minimal = parse_deck(kMinimalDeck, "min.toml");
  expect_same(minimal, parse_deck(kDesignDeck, "design.toml"));
  // And the header's defaults are the same ones (apart from the required keys).
  Deck want;
  want.problem.seq_len = 4096;
  want.problem.kv_len = 4096;
  want.problem.head_dim = 128;
  expect_same(minimal, want);
}

TEST(Deck, FullDeck) {
  const Deck d = parse_deck(kFullDeck, "full.toml");
  EXPECT_EQ(problem_of(d), std::make_tuple(int64_t{2}, int64_t{32}, int64_t{4}, int64_t{8192},
                                           int64_t{16384}, int64_t{256}, true, 0.125));
  EXPECT_EQ(input_of(d),
            std::make_tuple(std::string("hdf5"), std::string("/scratch/qkv.h5"),
                            std::string("query"), std::string("key"), std::string("value"),
                            uint64_t{7}, std::string("outliers"), std::string("blhd")));
  EXPECT_EQ(run_of(d), std::make_tuple(std::string("avx512"), std::string("two_pass"),
                                       std::string("bf16"), std::string("fast"),
                                       std::string("per_block"), false, int64_t{128}, int64_t{64},
                                       int64_t{12}, std::string("ring"), int64_t{10}, int64_t{2}));
  EXPECT_EQ(output_of(d),
            std::make_tuple(std::string("out.h5"), false, std::string("report.json")));
  EXPECT_EQ(verify_of(d), std::make_tuple(std::string("full"), int64_t{17}, 0.01, 0.999));
  EXPECT_EQ(d.run.variant, Variant::TwoPass);
  EXPECT_EQ(d.input.distribution, Distribution::Outliers);
  EXPECT_EQ(d.input.layout, TensorLayout::Blhd);
}

TEST(Deck, EveryEnumNameParses) {
  const auto run_deck = [](const std::string& key, const std::string& value) {
    return parse_deck(kMinimalDeck, "x", {"run." + key + "=" + value});
  };
  for (const char* v : {"fused", "two_pass", "unfused"})
    EXPECT_EQ(to_string(run_deck("variant", v).run.variant), v);
  for (const char* v : {"fp32", "bf16", "int8"})
    EXPECT_EQ(to_string(run_deck("pv_precision", v).run.pv_precision), v);
  for (const char* v : {"accurate", "fast", "fixed"})
    EXPECT_EQ(to_string(run_deck("exp2", v).run.exp2), v);
  for (const char* v : {"per_token", "per_block"})
    EXPECT_EQ(to_string(run_deck("qk_scales", v).run.qk_scales), v);
  for (const char* v : {"replicated", "ring"})
    EXPECT_EQ(to_string(run_deck("kv_mode", v).run.kv_mode), v);
  for (const char* v : {"auto", "reference", "portable", "kokkos", "avx512", "avx2", "sve", "cuda"})
    EXPECT_EQ(run_deck("backend", v).run.backend, v);
  for (const char* v : {"normal", "outliers", "k_bias"})
    EXPECT_EQ(to_string(parse_deck(kMinimalDeck, "x", {std::string("input.distribution=") + v})
                            .input.distribution),
              v);
  for (const char* v : {"bhld", "blhd"})
    EXPECT_EQ(
        to_string(parse_deck(kMinimalDeck, "x", {std::string("input.layout=") + v}).input.layout),
        v);
  for (const char* v : {"none", "sampled", "full"})
    EXPECT_EQ(
        to_string(parse_deck(kMinimalDeck, "x", {std::string("verify.mode=") + v}).verify.mode), v);
  EXPECT_EQ(to_string(InputSource::Synthetic), "synthetic");
  EXPECT_EQ(to_string(InputSource::Hdf5), "hdf5");
  EXPECT_EQ(to_string(Distribution::KBias), "k_bias");
  EXPECT_EQ(to_string(KvMode::Ring), "ring");
  EXPECT_EQ(to_string(VerifyMode::None), "none");
}

TEST(Deck, KvLenDefaultsToSeqLen) {
  const Deck d = parse_deck("[problem]\nseq_len = 1000\nhead_dim = 64\n", "x");
  EXPECT_EQ(d.problem.kv_len, 1000);
  EXPECT_EQ(parse_deck(kMinimalDeck, "x", {"problem.seq_len=77"}).problem.kv_len, 77);
  EXPECT_EQ(parse_deck(kMinimalDeck, "x", {"problem.kv_len=500"}).problem.kv_len, 500);
}

TEST(Deck, ShapeComesFromTheProblemSection) {
  const ProblemShape s = parse_deck(kFullDeck, "x").shape();
  EXPECT_EQ(std::make_tuple(s.batch, s.heads, s.kv_heads, s.lq, s.lk, s.d, s.causal, s.scale),
            std::make_tuple(int64_t{2}, int64_t{32}, int64_t{4}, int64_t{8192}, int64_t{16384}, 256,
                            true, 0.125));
  Deck unresolved;  // built in code, kv_len left at 0: the shape still means kv_len = seq_len
  unresolved.problem.seq_len = 300;
  unresolved.problem.head_dim = 64;
  EXPECT_EQ(unresolved.shape().lk, 300);
}

TEST(Deck, OverridesReadTomlValuesAndBareStrings) {
  const Deck d = parse_deck(kMinimalDeck, "x",
                            {"problem.batch=4", "problem.causal=true", "problem.scale=0.25",
                             "verify.min_cosine=1", "run.backend=portable", "input.file=\"a b.h5\"",
                             "input.source=hdf5", "output.file=/tmp/o=1.h5", "output.report=",
                             "run.smooth_k = false", " run.tile_q = 1_024 ", "input.seed=0x10"});
  EXPECT_EQ(d.problem.batch, 4);
  EXPECT_TRUE(d.problem.causal);
  EXPECT_EQ(d.problem.scale, 0.25);
  EXPECT_EQ(d.verify.min_cosine, 1.0);  // an integer is fine for a float key
  EXPECT_EQ(d.run.backend, "portable");
  EXPECT_EQ(d.input.file, "a b.h5");
  EXPECT_EQ(d.input.source, InputSource::Hdf5);
  EXPECT_EQ(d.output.file, "/tmp/o=1.h5");  // split at the first '=' only
  EXPECT_EQ(d.output.report, "");           // an empty value is the empty string
  EXPECT_FALSE(d.run.smooth_k);
  EXPECT_EQ(d.run.tile_q, 1024);
  EXPECT_EQ(d.input.seed, 16u);
}

TEST(Deck, OverridesWinInOrderAndAreValidatedWithTheFile) {
  const std::string deck = "[problem]\nseq_len = 64\nhead_dim = 64\nheads = 6\nkv_heads = 4\n";
  // Invalid as written; the override makes the effective deck valid.
  const Deck fixed = parse_deck(deck, "x", {"problem.kv_heads=2"});
  EXPECT_EQ(fixed.problem.heads, 6);
  EXPECT_EQ(fixed.problem.kv_heads, 2);
  // The later override wins, over the file and over the earlier override.
  const Deck later = parse_deck(deck, "x", {"problem.kv_heads=3", "problem.seq_len=10",
                                            "problem.seq_len=20", "problem.kv_heads=1"});
  EXPECT_EQ(later.problem.seq_len, 20);
  EXPECT_EQ(later.problem.kv_heads, 1);
  // A file value is kept where no override touches it.
  EXPECT_EQ(later.problem.head_dim, 64);
}

TEST(Deck, ToTomlRoundTrips) {
  for (const char* text : {kMinimalDeck, kFullDeck, kDesignDeck}) {
    const Deck d = parse_deck(text, "x");
    const std::string emitted = to_toml(d);
    SCOPED_TRACE(emitted);
    expect_same(parse_deck(emitted, "emitted"), d);
    EXPECT_EQ(to_toml(parse_deck(emitted, "emitted")), emitted);
  }
}

TEST(Deck, ToTomlRoundTripsHardStringsAndDoubles) {
  Deck d;
  d.problem.seq_len = 5;
  d.problem.head_dim = 1024;
  d.problem.scale = 1.0 / 3.0;
  d.verify.max_rel_l2 = 1e-5;
  d.verify.min_cosine = -0.1;
  d.input.q = "say \"hi\"\\ # not a comment = x";
  d.input.k = "tab\there\nnewline \x01 ctrl";
  d.input.v = "üñí ☃ 'single'";
  d.output.file = "C:\\path\\out.h5";
  d.output.report = "";
  d.input.seed = 9223372036854775807ull;  // the largest seed TOML can hold
  for (double x : {0.1, 1.0 / 3.0, 1e22, 5e-324, DBL_MAX, 3.0, 123456789.125, kMaxScale}) {
    d.problem.scale = std::min(x, kMaxScale);  // the largest scale the deck takes
    d.verify.max_rel_l2 = x;
    const std::string emitted = to_toml(d);
    SCOPED_TRACE(emitted);
    const Deck back = parse_deck(emitted, "emitted");
    expect_same(back, [&] {
      Deck resolved = d;
      resolved.problem.kv_len = resolved.problem.seq_len;  // to_toml writes the resolved kv_len
      return resolved;
    }());
  }
  // Short forms, not 17 digits.
  EXPECT_NE(to_toml(parse_deck(kMinimalDeck, "x")).find("max_rel_l2 = 0.03\n"), std::string::npos);
}

TEST(Deck, Utf8OverridesSurviveTheRoundTrip) {
  const std::string path = "/donn\xc3\xa9" "es/\xe2\x98\x83/\xf0\x9f\x98\x80.h5";  // données/☃/😀.h5
  const Deck d = parse_deck(kMinimalDeck, "x", {"input.file=" + path});
  EXPECT_EQ(d.input.file, path);
  EXPECT_EQ(parse_deck(to_toml(d), "again").input.file, path);
}

TEST(Deck, ToTomlWritesEveryKeyInSchemaOrder) {
  const std::string text = to_toml(parse_deck(kMinimalDeck, "x"));
  std::size_t at = 0;
  for (const char* line :
       {"[problem]\n", "batch = 1\n", "heads = 8\n", "kv_heads = 8\n", "seq_len = 4096\n",
        "kv_len = 4096\n", "head_dim = 128\n", "causal = false\n", "scale = 0.0\n", "[input]\n",
        "source = \"synthetic\"\n", "file = \"\"\n", "q = \"Q\"\n", "k = \"K\"\n", "v = \"V\"\n",
        "seed = 42\n", "distribution = \"normal\"\n", "layout = \"bhld\"\n", "[run]\n",
        "backend = \"auto\"\n", "variant = \"fused\"\n", "pv_precision = \"fp32\"\n",
        "exp2 = \"accurate\"\n", "qk_scales = \"per_token\"\n", "smooth_k = true\n", "tile_q = 0\n",
        "tile_kv = 0\n", "threads = 0\n", "kv_mode = \"replicated\"\n", "repeat = 3\n", "warmup = 1\n",
        "[output]\n", "file = \"miniattn_out.h5\"\n", "write_lse = true\n", "report = \"\"\n",
        "[verify]\n", "mode = \"sampled\"\n", "rows = 256\n", "max_rel_l2 = 0.03\n",
        "min_cosine = 0.9999\n"}) {
    const std::size_t found = text.find(line, at);
    ASSERT_NE(found, std::string::npos) << "missing or out of order: " << line << "in\n" << text;
    at = found + 1;
  }
}

TEST(Deck, FileMissingOrPresent) {
  const std::string missing = ::testing::TempDir() + "no_such_deck_dir/deck.toml";
  try {
    parse_deck_file(missing);
    FAIL() << "no error for a missing deck file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::BadInput);
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }

  const std::string path = ::testing::TempDir() + "miniattn_test_deck.toml";
  {
    std::ofstream(path) << kMinimalDeck << "causal = true\n";
  }
  const Deck d = parse_deck_file(path, {"problem.batch=3"});
  EXPECT_TRUE(d.problem.causal);
  EXPECT_EQ(d.problem.batch, 3);
  {
    std::ofstream(path) << kMinimalDeck << "causal = maybe\n";
  }
  try {
    parse_deck_file(path);
    FAIL() << "no error for a bad deck file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":4:"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

TEST(Deck, ReportsEveryErrorAtOnceInDeckOrder) {
  // The schema checks problem before run and overrides with their keys; the message must not.
  const std::string msg = deck_error("[run]\nrepeat = 0\n[problem]\nseq_len = 0\nhead_dim = 40\n",
                                     {"problem.batch=0"});
  const std::vector<std::string> in_order = {
      "deck.toml:2: [run] repeat = 0", "deck.toml:4: [problem] seq_len = 0",
      "deck.toml:5: [problem] head_dim = 40", "--set problem.batch=0: [problem] batch = 0"};
  std::size_t at = 0;
  for (const std::string& s : in_order) {
    const std::size_t found = msg.find(s);
    ASSERT_NE(found, std::string::npos) << s << " not in:\n" << msg;
    EXPECT_GE(found, at) << s << " out of order in:\n" << msg;
    at = found;
  }
}

// ---- Bad decks: the message must say where, which key, what value and what was expected. ----

struct BadDeck {
  const char* name;
  std::string deck;  // appended to a valid [problem] header unless it starts with '!'
  std::vector<std::string> overrides;
  std::vector<std::string> expected;  // substrings of the message
  std::vector<std::string> not_expected = {};
};

std::ostream& operator<<(std::ostream& os, const BadDeck& b) { return os << b.name; }

// Line 1 [problem], 2 seq_len, 3 head_dim; a case's own lines start at 4.
const std::string kHead = "[problem]\nseq_len = 256\nhead_dim = 64\n";

class BadDecks : public ::testing::TestWithParam<BadDeck> {};

TEST_P(BadDecks, MessageNamesTheProblem) {
  const BadDeck& c = GetParam();
  const std::string text = !c.deck.empty() && c.deck[0] == '!' ? c.deck.substr(1) : kHead + c.deck;
  const std::string msg = deck_error(text, c.overrides);
  for (const std::string& s : c.expected)
    EXPECT_NE(msg.find(s), std::string::npos) << "expected \"" << s << "\" in:\n" << msg;
  for (const std::string& s : c.not_expected)
    EXPECT_EQ(msg.find(s), std::string::npos) << "did not expect \"" << s << "\" in:\n" << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Deck, BadDecks,
    ::testing::Values(
        BadDeck{"unknown_key",
                "seqlen = 9\n",
                {},
                {"deck.toml:4: [problem] seqlen = 9: unknown key", "did you mean seq_len?",
                 "batch, heads, kv_heads, seq_len, kv_len, head_dim, causal, scale"}},
        BadDeck{"key_in_wrong_section",
                "[run]\nseed = 3\n",
                {},
                {"deck.toml:5: [run] seed = 3: unknown key", "seed belongs in [input]"}},
        BadDeck{"unknown_section",
                "[problme]\nbatch = 2\n",
                {},
                {"deck.toml:4: [problme]: unknown section", "did you mean [problem]?",
                 "[problem], [input], [run], [output], [verify]"}},
        BadDeck{"sub_table",
                "[run.extra]\nx = 1\n",
                {},
                {"deck.toml:4: [run] extra = {...}: unknown key"}},
        BadDeck{"top_level_key",
                "!seq_len = 8\n[problem]\nhead_dim = 64\n",
                {},
                {"deck.toml:1: seq_len = 8: a key outside any section",
                 "did you mean [problem] seq_len?"}},
        BadDeck{"section_not_a_table",
                "!problem = 5\n",
                {},
                {"deck.toml:1: problem = 5: expected a section [problem], found an integer"}},
        BadDeck{"float_for_integer",
                "batch = 2.5\n",
                {},
                {"deck.toml:4: [problem] batch = 2.5: expected an integer >= 1, found a float"}},
        BadDeck{"string_for_integer",
                "heads = \"8\"\n",
                {},
                {"deck.toml:4: [problem] heads = \"8\": expected an integer >= 1, found a string"}},
        BadDeck{
            "string_for_boolean",
            "causal = \"yes\"\n",
            {},
            {"deck.toml:4: [problem] causal = \"yes\": expected true or false, found a string"}},
        BadDeck{"integer_for_string",
                "[run]\nbackend = 3\n",
                {},
                {"deck.toml:5: [run] backend = 3: expected one of \"auto\"", "found an integer"}},
        BadDeck{"string_for_float",
                "scale = \"big\"\n",
                {},
                {"deck.toml:4: [problem] scale = \"big\": expected a finite number >= 0",
                 "found a string"}},
        BadDeck{"array_for_integer",
                "batch = [1, 2]\n",
                {},
                {"deck.toml:4: [problem] batch = [ 1, 2 ]:", "found an array"}},
        BadDeck{"heads_not_multiple",
                "heads = 6\nkv_heads = 4\n",
                {},
                {"deck.toml:4: [problem] heads = 6: expected a multiple of kv_heads = 4 "
                 "(deck.toml:5)"}},
        BadDeck{"kv_heads_not_divisor_default_heads",
                "kv_heads = 3\n",
                {},
                {"deck.toml:4: [problem] kv_heads = 3: expected a divisor of heads = 8 (default)"}},
        BadDeck{"head_dim_not_multiple_of_16",
                "![problem]\nseq_len = 1\nhead_dim = 56\n",
                {},
                {"deck.toml:3: [problem] head_dim = 56: expected a multiple of 16 in [16, 1024]"}},
        BadDeck{
            "head_dim_too_large",
            "![problem]\nseq_len = 1\nhead_dim = 2048\n",
            {},
            {"deck.toml:3: [problem] head_dim = 2048: expected a multiple of 16 in [16, 1024]"}},
        BadDeck{"seq_len_zero",
                "![problem]\nseq_len = 0\nhead_dim = 64\n",
                {},
                {"deck.toml:2: [problem] seq_len = 0: expected an integer >= 1"}},
        BadDeck{"missing_seq_len",
                "![problem]\nhead_dim = 64\n",
                {},
                {"deck.toml: [problem] seq_len is required: expected an integer >= 1"}},
        BadDeck{"missing_head_dim",
                "![problem]\nseq_len = 64\n",
                {},
                {"deck.toml: [problem] head_dim is required"}},
        BadDeck{"empty_deck", "!", {}, {"seq_len is required", "head_dim is required"}},
        BadDeck{"negative_scale",
                "scale = -0.5\n",
                {},
                {"deck.toml:4: [problem] scale = -0.5: expected a finite number >= 0"}},
        BadDeck{"infinite_scale", "scale = inf\n", {}, {"deck.toml:4: [problem] scale = inf:"}},
        // Found by fuzz_deck: a bare-string override with bytes that are not UTF-8 came back
        // from to_toml as other characters, so the other ranks ran with another value.
        BadDeck{"override_not_utf8",
                "",
                {"input.file=/data/\xff\xfeqkv.h5", "input.q=\xc3\x28", "input.k=\xed\xa0\x80",
                 "input.v=\xf0\x82\x82\xac"},
                {"--set input.file=/data/", ": [input] file: the value is not valid UTF-8",
                 "[input] q: the value is not valid UTF-8", "[input] k: the value is not valid UTF-8",
                 "[input] v: the value is not valid UTF-8"}},
        BadDeck{"huge_scale",
                "scale = 1e300\n",
                {},
                {"deck.toml:4: [problem] scale = 1e+300: expected a finite number >= 0 and <= 1e30"}},
        BadDeck{"kv_len_zero",
                "kv_len = 0\n",
                {},
                {"deck.toml:4: [problem] kv_len = 0: expected an integer >= 1"}},
        BadDeck{"batch_zero", "batch = 0\n", {}, {"deck.toml:4: [problem] batch = 0:"}},
        BadDeck{"bad_variant",
                "[run]\nvariant = \"fsued\"\n",
                {},
                {"deck.toml:5: [run] variant = \"fsued\": expected one of \"fused\", \"two_pass\", "
                 "\"unfused\" (did you mean \"fused\"?)"}},
        BadDeck{"bad_backend",
                "[run]\nbackend = \"gpu\"\n",
                {},
                {"deck.toml:5: [run] backend = \"gpu\": expected one of \"auto\", \"reference\", "
                 "\"portable\", \"kokkos\", \"avx512\", \"avx2\", \"sve\", \"cuda\""}},
        BadDeck{"bad_distribution",
                "[input]\ndistribution = \"uniform\"\n",
                {},
                {"[input] distribution = \"uniform\": expected one of \"normal\", \"outliers\", "
                 "\"k_bias\""}},
        BadDeck{"bad_layout",
                "[input]\nlayout = \"bshd\"\n",
                {},
                {"deck.toml:5: [input] layout = \"bshd\": expected one of \"bhld\", \"blhd\""}},
        BadDeck{"bad_verify_mode",
                "[verify]\nmode = \"all\"\n",
                {},
                {"deck.toml:5: [verify] mode = \"all\": expected one of \"none\", \"sampled\", "
                 "\"full\""}},
        BadDeck{"bad_kv_mode", "[run]\nkv_mode = \"rings\"\n", {}, {"did you mean \"ring\"?"}},
        BadDeck{"syntax_error", "batch = 1\nheads = \n", {}, {"deck.toml:5:", "TOML syntax error"}},
        BadDeck{
            "duplicate_key", "batch = 1\nbatch = 2\n", {}, {"deck.toml:5:", "TOML syntax error"}},
        BadDeck{"hdf5_without_file",
                "[input]\nsource = \"hdf5\"\n",
                {},
                {"deck.toml:5: [input] source = \"hdf5\": expected [input] file"}},
        BadDeck{
            "hdf5_with_empty_file",
            "[input]\nsource = \"hdf5\"\nfile = \"\"\n",
            {},
            {"deck.toml:6: [input] file = \"\": expected the HDF5 input path", "(deck.toml:5)"}},
        BadDeck{"empty_dataset_name",
                "[input]\nk = \"\"\n",
                {},
                {"deck.toml:5: [input] k = \"\": expected a non-empty string"}},
        BadDeck{"negative_seed",
                "[input]\nseed = -1\n",
                {},
                {"deck.toml:5: [input] seed = -1: expected an integer >= 0"}},
        BadDeck{"tile_too_large",
                "[run]\ntile_kv = 5000\n",
                {},
                {"deck.toml:5: [run] tile_kv = 5000: expected an integer in [0, 4096]"}},
        BadDeck{"negative_threads",
                "[run]\nthreads = -2\n",
                {},
                {"[run] threads = -2: expected an integer >= 0"}},
        BadDeck{"repeat_zero",
                "[run]\nrepeat = 0\n",
                {},
                {"[run] repeat = 0: expected an integer >= 1"}},
        BadDeck{"negative_warmup", "[run]\nwarmup = -1\n", {}, {"[run] warmup = -1:"}},
        BadDeck{"rows_zero",
                "[verify]\nrows = 0\n",
                {},
                {"[verify] rows = 0: expected an integer >= 1"}},
        BadDeck{"max_rel_l2_zero",
                "[verify]\nmax_rel_l2 = 0\n",
                {},
                {"[verify] max_rel_l2 = 0: expected a finite number > 0"}},
        BadDeck{"min_cosine_above_one",
                "[verify]\nmin_cosine = 1.5\n",
                {},
                {"deck.toml:5: [verify] min_cosine = 1.5: expected a number in [-1, 1]"}},
        BadDeck{"set_without_equals",
                "",
                {"problem.seq_len"},
                {"--set problem.seq_len: malformed override: expected section.key=value"}},
        BadDeck{"set_without_section",
                "",
                {"seq_len=8"},
                {"--set seq_len=8: malformed override", "did you mean problem.seq_len=8?"}},
        BadDeck{"set_empty_section", "", {".seq_len=8"}, {"--set .seq_len=8: malformed override"}},
        BadDeck{"set_empty_key", "", {"problem.=8"}, {"--set problem.=8: malformed override"}},
        BadDeck{"set_empty", "", {""}, {"--set : malformed override"}},
        BadDeck{"set_unknown_key",
                "",
                {"problem.seqlen=8"},
                {"--set problem.seqlen=8: [problem] seqlen: unknown key (did you mean seq_len?)"}},
        BadDeck{"set_unknown_section",
                "",
                {"problm.seq_len=8"},
                {"--set problm.seq_len=8: [problm]: unknown section (did you mean [problem]?)"}},
        BadDeck{
            "set_string_for_integer",
            "",
            {"problem.seq_len=abc"},
            {"--set problem.seq_len=abc: [problem] seq_len = \"abc\": expected an integer >= 1, "
             "found a string"}},
        BadDeck{
            "set_bad_enum",
            "",
            {"run.backend=avx512f"},
            {"--set run.backend=avx512f: [run] backend = \"avx512f\"", "did you mean \"avx512\"?"}},
        BadDeck{"set_number_for_string",
                "",
                {"input.q=1"},
                {"--set input.q=1: [input] q = 1: expected a non-empty string, found an integer",
                 "quote"}},
        BadDeck{
            "set_blamed_not_the_file",
            "heads = 8\n",
            {"problem.heads=6", "problem.kv_heads=4"},
            {"--set problem.kv_heads=4: [problem] kv_heads = 4: expected a divisor of heads = 6 "
             "(--set problem.heads=6)"},
            {"deck.toml:4"}},
        BadDeck{"set_heads_against_file_kv_heads",
                "kv_heads = 4\n",
                {"problem.heads=6"},
                {"--set problem.heads=6: [problem] heads = 6: expected a multiple of kv_heads = 4 "
                 "(deck.toml:4)"}}),
    [](const ::testing::TestParamInfo<BadDeck>& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace miniattn
