// Uses the app component of the installed package: a deck parsed, overridden and written back.
#include <cstdio>
#include <string>

#include "miniattn/deck.hpp"
#include "miniattn/error.hpp"

int main() {
  using namespace miniattn;
  const Deck d = parse_deck("[problem]\nseq_len = 512\nhead_dim = 128\n", "consumer.toml",
                            {"problem.heads=16", "problem.kv_heads=4"});
  const std::string text = to_toml(d);
  bool rejected = false;
  try {
    parse_deck(text, "again", {"problem.colour=1"});
  } catch (const Error& e) {
    rejected = std::string(e.what()).find("unknown key") != std::string::npos;
  }
  std::printf("%s", text.c_str());
  return d.problem.heads == 16 && parse_deck(text, "again").problem.kv_heads == 4 && rejected ? 0 : 1;
}
