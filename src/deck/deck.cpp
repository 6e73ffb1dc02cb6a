// The input deck. One table-driven schema (section, key, type, rule, accessors) serves parsing,
// --set overrides, validation and to_toml, so a new deck key is one line in build_schema().
// toml++ does all the TOML reading and string quoting; this file only maps values to the Deck.
#include "miniattn/deck.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <tuple>
#include <utility>
#include <variant>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "miniattn/error.hpp"

namespace miniattn {
namespace {

// ---- Enum names ---------------------------------------------------------------------------

template <class E>
using NameTable = std::vector<std::pair<std::string_view, E>>;

// constexpr, so to_string works even from another file's static initialisers.
template <class E, std::size_t N>
using Names = std::array<std::pair<std::string_view, E>, N>;

constexpr Names<InputSource, 2> kSources{
    {{"synthetic", InputSource::Synthetic}, {"hdf5", InputSource::Hdf5}}};
constexpr Names<KvMode, 2> kKvModes{{{"replicated", KvMode::Replicated}, {"ring", KvMode::Ring}}};
constexpr Names<VerifyMode, 3> kVerifyModes{
    {{"none", VerifyMode::None}, {"sampled", VerifyMode::Sampled}, {"full", VerifyMode::Full}}};

template <class Table, class E>
std::string_view name_of(const Table& table, E e) {
  for (const auto& [name, value] : table)
    if (value == e) return name;
  return "?";
}

// The run enums are named in problem/attn_params.cpp, the input ones beside synthetic data and
// HDF5 I/O; this lists the deck's spellings and checks them against those parsers once, so the
// two cannot drift apart silently.
template <class E>
NameTable<E> named(std::initializer_list<std::string_view> names,
                   std::optional<E> (*parse)(std::string_view)) {
  NameTable<E> table;
  for (std::string_view name : names) {
    const std::optional<E> e = parse(name);
    if (!e) throw std::logic_error(fmt::format("deck schema: \"{}\" is not a known name", name));
    table.emplace_back(name, *e);
  }
  return table;
}

// ---- Values and their TOML spelling -------------------------------------------------------

enum class Kind { Integer, Number, Boolean, String };
using Value = std::variant<int64_t, double, bool, std::string>;

// Shortest text that reads back to the same double (toml++ prints 17 digits: 0.03 would come
// out as 0.029999999999999999), with the fraction TOML needs to keep it a float.
std::string format_double(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[32];
  const auto result = std::to_chars(buf, buf + sizeof buf, x);
  std::string text(buf, result.ptr);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

// Strings through toml++'s formatter, so quoting and escapes are TOML's own.
std::string format_node(const toml::node& node) {
  if (const auto* f = node.as_floating_point()) return format_double(f->get());
  if (node.is_table()) return "{...}";
  std::ostringstream os;
  os << toml::toml_formatter{node, toml::format_flags::allow_unicode_strings};
  return os.str();
}

std::string format_value(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, double>) {
          return format_double(x);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return format_node(toml::value<std::string>(x));
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else {
          return std::to_string(x);
        }
      },
      v);
}

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

// The node as a value of the wanted kind; integers serve for floats (scale = 1), never the
// other way round (seq_len = 4096.0 is a mistake worth reporting).
std::optional<Value> convert(Kind kind, const toml::node& node) {
  switch (kind) {
    case Kind::Integer:
      if (const auto* i = node.as_integer()) return Value{i->get()};
      break;
    case Kind::Number:
      if (const auto* i = node.as_integer()) return Value{static_cast<double>(i->get())};
      if (const auto* f = node.as_floating_point()) return Value{f->get()};
      break;
    case Kind::Boolean:
      if (const auto* b = node.as_boolean()) return Value{b->get()};
      break;
    case Kind::String:
      if (const auto* s = node.as_string()) return Value{s->get()};
      break;
  }
  return std::nullopt;
}

// ---- Schema -------------------------------------------------------------------------------

struct Rule {
  std::string expect;                       // what a valid value is, as messages say it
  std::function<bool(const Value&)> ok;     // called with a value of the field's kind
  std::vector<std::string_view> choices;    // enum-like strings: the allowed names
};

struct Field {
  std::string_view section;
  std::string_view key;
  Kind kind;
  Rule rule;
  bool required;
  std::function<void(Deck&, const Value&)> set;
  std::function<Value(const Deck&)> get;
};

template <class S>
struct Section {
  std::string_view name;
  S Deck::*member;
};

constexpr bool kRequired = true;

// The TOML kind of a deck member, from its C++ type (seed is unsigned, still a TOML integer).
template <class T>
constexpr Kind kind_of() {
  if constexpr (std::is_same_v<T, bool>) return Kind::Boolean;
  else if constexpr (std::is_same_v<T, double>) return Kind::Number;
  else if constexpr (std::is_same_v<T, std::string>) return Kind::String;
  else return Kind::Integer;
}

template <class T>
T from_value(const Value& v) {
  if constexpr (kind_of<T>() == Kind::Integer) return static_cast<T>(std::get<int64_t>(v));
  else return std::get<T>(v);
}

template <class T>
Value to_value(const T& x) {
  if constexpr (kind_of<T>() == Kind::Integer) return Value{static_cast<int64_t>(x)};
  else return Value{x};
}

template <class S, class T>
Field field(Section<S> s, std::string_view key, T S::*m, Rule rule, bool required = false) {
  return {s.name, key, kind_of<T>(), std::move(rule), required,
          [s, m](Deck& d, const Value& v) { (d.*s.member).*m = from_value<T>(v); },
          [s, m](const Deck& d) { return to_value((d.*s.member).*m); }};
}

Rule one_of(std::vector<std::string_view> names) {
  std::string expect = "one of";
  for (std::size_t i = 0; i < names.size(); ++i)
    expect += fmt::format("{} \"{}\"", i == 0 ? "" : ",", names[i]);
  auto ok = [names](const Value& v) {
    return std::find(names.begin(), names.end(), std::get<std::string>(v)) != names.end();
  };
  return {std::move(expect), std::move(ok), std::move(names)};
}

// An enum member, spelled in the deck as one of the table's names.
template <class S, class E, class Table>
Field choice(Section<S> s, std::string_view key, E S::*m, const Table& names_of) {
  const NameTable<E> table(names_of.begin(), names_of.end());
  std::vector<std::string_view> names;
  for (const auto& entry : table) names.push_back(entry.first);
  auto set = [s, m, table](Deck& d, const Value& v) {
    for (const auto& [name, e] : table)
      if (name == std::get<std::string>(v)) (d.*s.member).*m = e;
  };
  auto get = [s, m, table](const Deck& d) {
    return Value{std::string(name_of(table, (d.*s.member).*m))};
  };
  return {s.name, key, Kind::String, one_of(std::move(names)), false, set, get};
}

Rule at_least(int64_t lo, std::string_view note = "") {
  return {fmt::format("an integer >= {}{}", lo, note),
          [lo](const Value& v) { return std::get<int64_t>(v) >= lo; }, {}};
}

Rule in_range(int64_t lo, int64_t hi, std::string_view note = "") {
  return {
      fmt::format("an integer in [{}, {}]{}", lo, hi, note),
      [lo, hi](const Value& v) { return std::get<int64_t>(v) >= lo && std::get<int64_t>(v) <= hi; },
      {}};
}

Rule multiple_of(int64_t step, int64_t hi) {
  return {fmt::format("a multiple of {} in [{}, {}]", step, step, hi),
          [step, hi](const Value& v) {
            const int64_t x = std::get<int64_t>(v);
            return x >= step && x <= hi && x % step == 0;
          },
          {}};
}

Rule real(std::string expect, std::function<bool(double)> ok) {
  return {std::move(expect),
          [ok = std::move(ok)](const Value& v) { return ok(std::get<double>(v)); },
          {}};
}

Rule any_boolean() { return {"true or false", [](const Value&) { return true; }, {}}; }

Rule any_string() { return {"a string", [](const Value&) { return true; }, {}}; }

Rule non_empty() {
  return {
      "a non-empty string", [](const Value& v) { return !std::get<std::string>(v).empty(); }, {}};
}

// Caps that catch typos (an extra zero) rather than real limits of the kernels.
constexpr int64_t kMaxHeadDim = 1024;
constexpr int64_t kMaxTile = 4096;

std::vector<Field> build_schema() {
  const Section<Deck::Problem> problem{"problem", &Deck::problem};
  const Section<Deck::Input> input{"input", &Deck::input};
  const Section<Deck::Run> run{"run", &Deck::run};
  const Section<Deck::Output> output{"output", &Deck::output};
  const Section<Deck::Verify> verify{"verify", &Deck::verify};
  using P = Deck::Problem;
  using I = Deck::Input;
  using R = Deck::Run;
  using O = Deck::Output;
  using V = Deck::Verify;
  return {
      field(problem, "batch", &P::batch, at_least(1)),
      field(problem, "heads", &P::heads, at_least(1)),
      field(problem, "kv_heads", &P::kv_heads, at_least(1)),
      field(problem, "seq_len", &P::seq_len, at_least(1), kRequired),
      field(problem, "kv_len", &P::kv_len, at_least(1, " (default: seq_len)")),
      field(problem, "head_dim", &P::head_dim, multiple_of(16, kMaxHeadDim), kRequired),
      field(problem, "causal", &P::causal, any_boolean()),
      field(problem, "scale", &P::scale,
            real("a finite number >= 0 and <= 1e30 (0 = 1/sqrt(head_dim))",
                 [](double x) { return x >= 0.0 && x <= kMaxScale; })),

      choice(input, "source", &I::source, kSources),
      field(input, "file", &I::file, any_string()),
      field(input, "q", &I::q, non_empty()),
      field(input, "k", &I::k, non_empty()),
      field(input, "v", &I::v, non_empty()),
      field(input, "seed", &I::seed, at_least(0)),
      choice(input, "distribution", &I::distribution,
             named({"normal", "outliers", "k_bias"}, parse_distribution)),
      choice(input, "layout", &I::layout, named({"bhld", "blhd"}, parse_tensor_layout)),

      // Whether a backend was compiled in is the registry's question, not the deck's.
      field(run, "backend", &R::backend,
            one_of({"auto", "reference", "portable", "kokkos", "avx512", "avx2", "sve", "cuda"})),
      choice(run, "variant", &R::variant, named({"fused", "two_pass", "unfused"}, parse_variant)),
      choice(run, "pv_precision", &R::pv_precision,
             named({"fp32", "bf16", "int8"}, parse_pv_precision)),
      choice(run, "exp2", &R::exp2, named({"accurate", "fast", "fixed"}, parse_exp2_kind)),
      choice(run, "qk_scales", &R::qk_scales, named({"per_token", "per_block"}, parse_qk_scales)),
      field(run, "smooth_k", &R::smooth_k, any_boolean()),
      choice(run, "rotate", &R::rotate, named({"none", "hadamard"}, parse_rotation)),
      field(run, "tile_q", &R::tile_q, in_range(0, kMaxTile, " (0 = backend default)")),
      field(run, "tile_kv", &R::tile_kv, in_range(0, kMaxTile, " (0 = backend default)")),
      field(run, "threads", &R::threads, at_least(0, " (0 = OMP_NUM_THREADS or all cores)")),
      choice(run, "kv_mode", &R::kv_mode, kKvModes),
      field(run, "ring_size", &R::ring_size, at_least(0, " (0 = one ring of all ranks)")),
      field(run, "repeat", &R::repeat, at_least(1)),
      field(run, "warmup", &R::warmup, at_least(0)),

      field(output, "file", &O::file, any_string()),
      field(output, "write_lse", &O::write_lse, any_boolean()),
      field(output, "report", &O::report, any_string()),

      choice(verify, "mode", &V::mode, kVerifyModes),
      field(verify, "rows", &V::rows, at_least(1)),
      field(verify, "max_rel_l2", &V::max_rel_l2,
            real("a finite number > 0", [](double x) { return std::isfinite(x) && x > 0.0; })),
      field(verify, "min_cosine", &V::min_cosine,
            real("a number in [-1, 1]", [](double x) { return x >= -1.0 && x <= 1.0; })),
      field(verify, "max_lse_abs", &V::max_lse_abs,
            real("a finite number > 0", [](double x) { return std::isfinite(x) && x > 0.0; })),
  };
}

const std::vector<Field>& schema() {
  static const std::vector<Field> fields = build_schema();
  return fields;
}

std::vector<std::string_view> section_names() {
  std::vector<std::string_view> names;
  for (const Field& f : schema())
    if (std::find(names.begin(), names.end(), f.section) == names.end()) names.push_back(f.section);
  return names;
}

bool is_section(std::string_view name) {
  const auto names = section_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::vector<std::string_view> keys_of(std::string_view section) {
  std::vector<std::string_view> keys;
  for (const Field& f : schema())
    if (f.section == section) keys.push_back(f.key);
  return keys;
}

std::optional<std::size_t> find_field(std::string_view section, std::string_view key) {
  const auto& fields = schema();
  for (std::size_t i = 0; i < fields.size(); ++i)
    if (fields[i].section == section && fields[i].key == key) return i;
  return std::nullopt;
}

// ---- "Did you mean" -------------------------------------------------------------------------

// Edit distance with adjacent transpositions (so "haeds" is one edit from "heads"), ignoring case.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1]))
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// The closest candidate when it is close enough to be a typo, not just another short word.
std::optional<std::string_view> closest(std::string_view word,
                                        const std::vector<std::string_view>& candidates) {
  std::optional<std::string_view> best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (std::string_view c : candidates) {
    const std::size_t dist = edit_distance(word, c);
    const std::size_t limit = std::max<std::size_t>(1, std::min<std::size_t>(3, c.size() / 3));
    if (dist <= limit && dist < c.size() && dist < best_distance) {
      best = c;
      best_distance = dist;
    }
  }
  return best;
}

std::string join(const std::vector<std::string_view>& items, std::string_view before = "",
                 std::string_view after = "") {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i)
    out += fmt::format("{}{}{}{}", i == 0 ? "" : ", ", before, items[i], after);
  return out;
}

// For a key that is not in `section`: a near spelling there, else the section that has it.
std::string key_hint(std::string_view section, std::string_view key) {
  if (auto near = closest(key, keys_of(section))) return fmt::format(" (did you mean {}?)", *near);
  for (std::string_view other : section_names())
    if (other != section && find_field(other, key))
      return fmt::format(" ({} belongs in [{}])", key, other);
  return "";
}

std::string unknown_key(std::string_view section, std::string_view key) {
  return fmt::format("unknown key{}; [{}] keys are {}", key_hint(section, key), section,
                     join(keys_of(section)));
}

std::string unknown_section(std::string_view name) {
  std::string hint;
  if (auto near = closest(name, section_names()))
    hint = fmt::format(" (did you mean [{}]?)", *near);
  return fmt::format("unknown section{}; expected one of {}", hint,
                     join(section_names(), "[", "]"));
}

// ---- Where values came from, and the errors about them ------------------------------------

struct Setting {
  const toml::node* node = nullptr;  // null: the default
  std::string origin;                // "deck.toml:12" or "--set problem.heads=6"
  int order = -1;                    // -1 default, 0 deck file, n: the n-th override
  int64_t line = 0;                  // deck line, for sorting errors
};

std::string describe(const Setting& s) { return s.node ? s.origin : "default"; }

struct Diagnostics {
  struct Entry {
    int order;
    int64_t line;
    std::string message;
  };
  std::vector<Entry> entries;

  void add(const Setting& at, const std::string& message) {
    entries.push_back({at.order, at.line, at.origin + ": " + message});
  }

  // All errors at once, in deck order then override order, so one run shows every problem.
  void throw_if_any() {
    if (entries.empty()) return;
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return std::tie(a.order, a.line) < std::tie(b.order, b.line);
    });
    std::string all;
    for (const Entry& e : entries) all += (all.empty() ? "" : "\n") + e.message;
    throw Error(all);
  }
};

std::string where_in(const std::string& source, const toml::node& node) {
  return fmt::format("{}:{}", source, node.source().begin.line);
}

Setting from_file(const std::string& source, const toml::node& node) {
  return {&node, where_in(source, node), 0, static_cast<int64_t>(node.source().begin.line)};
}

void collect_file(const toml::table& root, const std::string& source,
                  std::vector<Setting>& settings, Diagnostics& diag) {
  for (const auto& [name_key, node] : root) {
    const std::string_view name = name_key.str();
    const Setting at = from_file(source, node);
    const toml::table* table = node.as_table();
    if (!table) {
      std::string hint;
      for (std::string_view section : section_names())
        if (find_field(section, name))
          hint = fmt::format(" (did you mean [{}] {}?)", section, name);
      if (is_section(name))
        diag.add(at, fmt::format("{} = {}: expected a section [{}], found {}", name,
                                 format_node(node), name, type_name(node)));
      else
        diag.add(at, fmt::format("{} = {}: a key outside any section{}; expected sections {}", name,
                                 format_node(node), hint, join(section_names(), "[", "]")));
      continue;
    }
    if (!is_section(name)) {
      diag.add(at, fmt::format("[{}]: {}", name, unknown_section(name)));
      continue;
    }
    for (const auto& [key, value] : *table) {
      const auto field = find_field(name, key.str());
      if (!field) {
        diag.add(from_file(source, value),
                 fmt::format("[{}] {} = {}: {}", name, key.str(), format_node(value),
                             unknown_key(name, key.str())));
        continue;
      }
      settings[*field] = from_file(source, value);
    }
  }
}

std::string trim(std::string_view s) {
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

// TOML text is UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    uint32_t cp = 0, min = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      n = 1, cp = b & 0x1F, min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
      n = 2, cp = b & 0x0F, min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
      n = 3, cp = b & 0x07, min = 0x10000;
    } else {
      return false;
    }
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

// The value of "section.key=value" as TOML, or as a bare string when it is not TOML, so that
// --set run.backend=portable and --set input.file=/data/qkv.h5 need no shell-proof quotes.
toml::table parse_override_value(const std::string& value) {
  try {
    toml::table t = toml::parse(std::string_view("v = " + value));
    if (t.size() == 1 && t.contains("v")) return t;
  } catch (const toml::parse_error&) {
  }
  toml::table t;
  t.insert("v", trim(value));
  return t;
}

void collect_override(const std::string& text, int order, std::deque<toml::table>& values,
                      std::vector<Setting>& settings, Diagnostics& diag) {
  const Setting at{nullptr, "--set " + text, order, 0};
  const std::size_t eq = text.find('=');
  const std::string path = trim(std::string_view(text).substr(0, eq));
  const std::size_t dot = path.find('.');
  const std::string section = trim(std::string_view(path).substr(0, dot));
  const std::string key =
      dot == std::string::npos ? "" : trim(std::string_view(path).substr(dot + 1));
  if (eq == std::string::npos || section.empty() || key.empty()) {
    std::string hint;
    for (std::string_view s : section_names())
      if (dot == std::string::npos && find_field(s, path))
        hint = fmt::format(" (did you mean {}.{}?)", s, trim(text));
    diag.add(at, fmt::format(
                     "malformed override{}: expected section.key=value, e.g. problem.seq_len=4096",
                     hint));
    return;
  }
  if (!is_section(section)) {
    diag.add(at, fmt::format("[{}]: {}", section, unknown_section(section)));
    return;
  }
  const auto field = find_field(section, key);
  if (!field) {
    diag.add(at, fmt::format("[{}] {}: {}", section, key, unknown_key(section, key)));
    return;
  }
  // A value that is not UTF-8 (a Latin-1 path, say) cannot be a TOML string: it would not
  // survive the trip through to_toml to the other ranks unchanged.
  if (!valid_utf8(text.substr(eq + 1))) {
    diag.add(at, fmt::format("[{}] {}: the value is not valid UTF-8; deck values are TOML text, "
                             "which must be UTF-8",
                             section, key));
    return;
  }
  values.push_back(parse_override_value(text.substr(eq + 1)));
  settings[*field] = {values.back().get("v"), at.origin, order, 0};
}

// Type and range of one value; sets it in the deck when both are right.
void apply(const Field& f, const Setting& s, const std::string& source, Deck& deck,
           Diagnostics& diag) {
  if (!s.node) {
    if (f.required)
      diag.add({nullptr, source, 0, std::numeric_limits<int64_t>::max()},
               fmt::format("[{}] {} is required: expected {}", f.section, f.key, f.rule.expect));
    return;
  }
  const std::string subject = fmt::format("[{}] {} = {}", f.section, f.key, format_node(*s.node));
  const std::optional<Value> value = convert(f.kind, *s.node);
  if (!value) {
    std::string hint;
    if (f.kind == Kind::String && s.order > 0)
      hint = fmt::format(" (quote the value to pass it as a string: '{}.{}=\"...\"')", f.section,
                         f.key);
    diag.add(s, fmt::format("{}: expected {}, found {}{}", subject, f.rule.expect,
                            type_name(*s.node), hint));
    return;
  }
  if (!f.rule.ok(*value)) {
    std::string hint;
    if (!f.rule.choices.empty())
      if (auto near = closest(std::get<std::string>(*value), f.rule.choices))
        hint = fmt::format(" (did you mean \"{}\"?)", *near);
    diag.add(s, fmt::format("{}: expected {}{}", subject, f.rule.expect, hint));
    return;
  }
  f.set(deck, *value);
}

// Rules that tie keys together, once every key on its own is valid.
void check_together(const Deck& deck, const std::vector<Setting>& settings, Diagnostics& diag) {
  const auto setting = [&](std::string_view section, std::string_view key) -> const Setting& {
    return settings[*find_field(section, key)];
  };

  const Deck::Problem& p = deck.problem;
  if (p.heads % p.kv_heads != 0) {
    // Blame the value set last: that is the one the user just changed.
    const Setting& heads = setting("problem", "heads");
    const Setting& kv_heads = setting("problem", "kv_heads");
    if (kv_heads.order > heads.order)
      diag.add(kv_heads,
               fmt::format("[problem] kv_heads = {}: expected a divisor of heads = {} ({})",
                           p.kv_heads, p.heads, describe(heads)));
    else
      diag.add(heads, fmt::format("[problem] heads = {}: expected a multiple of kv_heads = {} ({})",
                                  p.heads, p.kv_heads, describe(kv_heads)));
  }

  if (deck.input.source == InputSource::Hdf5 && deck.input.file.empty()) {
    const Setting& source = setting("input", "source");
    const Setting& file = setting("input", "file");
    if (file.node)
      diag.add(file,
               fmt::format(
                   "[input] file = \"\": expected the HDF5 input path, as source = \"hdf5\" ({})",
                   describe(source)));
    else
      diag.add(source,
               "[input] source = \"hdf5\": expected [input] file, the HDF5 input path, which is "
               "missing");
  }
}

}  // namespace

std::string_view to_string(InputSource s) { return name_of(kSources, s); }
std::string_view to_string(KvMode m) { return name_of(kKvModes, m); }
std::string_view to_string(VerifyMode m) { return name_of(kVerifyModes, m); }

ProblemShape Deck::shape() const {
  ProblemShape s;
  s.batch = problem.batch;
  s.heads = problem.heads;
  s.kv_heads = problem.kv_heads;
  s.lq = problem.seq_len;
  s.lk = problem.kv_len > 0 ? problem.kv_len : problem.seq_len;
  s.d = static_cast<int>(problem.head_dim);
  s.causal = problem.causal;
  s.scale = problem.scale;
  return s;
}

InputFileSpec Deck::input_spec() const {
  InputFileSpec in;
  in.file = input.file;
  in.q = input.q;
  in.k = input.k;
  in.v = input.v;
  in.layout = input.layout;
  in.shape = shape();
  return in;
}

Deck parse_deck(const std::string& toml_text, const std::string& source_name,
                const std::vector<std::string>& overrides) {
  const std::string source = source_name.empty() ? "<deck>" : source_name;
  toml::table root;
  try {
    root = toml::parse(std::string_view(toml_text), std::string_view(source));
  } catch (const toml::parse_error& e) {
    throw Error(fmt::format("{}:{}:{}: TOML syntax error: {}", source, e.source().begin.line,
                            e.source().begin.column, e.description()));
  }

  const auto& fields = schema();
  std::vector<Setting> settings(fields.size());
  Diagnostics diag;
  collect_file(root, source, settings, diag);
  std::deque<toml::table> override_values;  // a deque keeps the nodes settings point at in place
  for (std::size_t i = 0; i < overrides.size(); ++i)
    collect_override(overrides[i], static_cast<int>(i) + 1, override_values, settings, diag);

  Deck deck;
  for (std::size_t i = 0; i < fields.size(); ++i) apply(fields[i], settings[i], source, deck, diag);
  if (diag.entries.empty()) check_together(deck, settings, diag);
  diag.throw_if_any();

  if (deck.problem.kv_len == 0) deck.problem.kv_len = deck.problem.seq_len;
  return deck;
}

Deck parse_deck_file(const std::string& path, const std::vector<std::string>& overrides) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(fmt::format("cannot read deck file {}: it is a directory", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot read deck file {}: {}", path, std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error(fmt::format("cannot read deck file {}: read error", path));
  return parse_deck(text.str(), path, overrides);
}

std::string to_toml(const Deck& deck) {
  Deck resolved = deck;
  if (resolved.problem.kv_len == 0) resolved.problem.kv_len = resolved.problem.seq_len;
  std::string out;
  std::string_view section;
  for (const Field& f : schema()) {
    if (f.section != section) {
      section = f.section;
      out += fmt::format("{}[{}]\n", out.empty() ? "" : "\n", section);
    }
    out += fmt::format("{} = {}\n", f.key, format_value(f.get(resolved)));
  }
  return out;
}

}  // namespace miniattn
