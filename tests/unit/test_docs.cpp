// docs/deck.md against the deck schema: every key of every section, and its default, appears
// in the reference tables, and the tables name no key the schema lacks.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>

#include "miniattn/deck.hpp"

namespace miniattn {
namespace {

using Entries = std::map<std::pair<std::string, std::string>, std::string>;  // (section, key) -> default

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string unquote_code(std::string s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '`' && s.back() == '`') s = s.substr(1, s.size() - 2);
  return s;
}

// Rows "| `key` | default | ..." under "## [section]" headings.
Entries documented(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  Entries out;
  std::string line, section;
  while (std::getline(in, line)) {
    if (line.rfind("## [", 0) == 0) {
      section = line.substr(4, line.find(']') - 4);
    } else if (line.rfind("## ", 0) == 0) {
      section.clear();
    } else if (!section.empty() && line.rfind("| `", 0) == 0) {
      std::istringstream cells(line.substr(1));
      std::string key, def;
      std::getline(cells, key, '|');
      std::getline(cells, def, '|');
      out[{section, unquote_code(key)}] = unquote_code(def);
    }
  }
  return out;
}

// Every key with the schema's default, as to_toml writes them.
Entries schema_defaults() {
  const Deck d = parse_deck("[problem]\nseq_len = 1\nhead_dim = 16\n", "minimal.toml");
  std::istringstream in(to_toml(d));
  Entries out;
  std::string line, section;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.front() == '[') {
      section = line.substr(1, line.size() - 2);
      continue;
    }
    const auto eq = line.find(" = ");
    out[{section, line.substr(0, eq)}] = line.substr(eq + 3);
  }
  return out;
}

TEST(DeckDocs, EveryKeyAndDefaultMatchesTheSchema) {
  const Entries docs = documented(std::string(MINIATTN_SOURCE_DIR) + "/docs/deck.md");
  const Entries schema = schema_defaults();
  ASSERT_GT(schema.size(), 30u);
  for (const auto& [where, value] : schema) {
    const auto it = docs.find(where);
    if (it == docs.end()) {
      ADD_FAILURE() << "docs/deck.md does not document [" << where.first << "] " << where.second;
      continue;
    }
    // The keys without a default of their own: the minimal deck's values are not defaults.
    if (where.second == "seq_len" || where.second == "head_dim") {
      EXPECT_EQ(it->second, "required") << where.second;
    } else if (where.second == "kv_len") {
      EXPECT_EQ(it->second, "seq_len");
    } else {
      EXPECT_EQ(it->second, value) << "default of [" << where.first << "] " << where.second;
    }
  }
  for (const auto& [where, value] : docs)
    EXPECT_TRUE(schema.count(where)) << "docs/deck.md documents [" << where.first << "] "
                                     << where.second << ", which the deck does not have";
}

}  // namespace
}  // namespace miniattn
