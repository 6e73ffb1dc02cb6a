// libFuzzer target: the deck parser on arbitrary text with arbitrary --set overrides.
// Input: the TOML text, then (after a NUL byte) one override per line. Besides "no crash, no
// sanitizer report", it checks what the app relies on: every failure is a miniattn::Error with
// the bad-input exit code and a message; every accepted deck survives to_toml -> parse_deck
// unchanged (the app broadcasts decks that way) and its shape either builds AttnParams or is
// rejected with a miniattn::Error.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "miniattn/attn_params.hpp"
#include "miniattn/deck.hpp"
#include "miniattn/error.hpp"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_deck: %s\n%s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace miniattn;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string text = input.substr(0, nul);
  std::vector<std::string> overrides;
  if (nul != std::string::npos) {
    std::size_t pos = nul + 1;
    while (pos <= input.size() && overrides.size() < 16) {
      const std::size_t end = std::min(input.find('\n', pos), input.size());
      overrides.push_back(input.substr(pos, end - pos));
      pos = end + 1;
    }
  }

  Deck deck;
  try {
    deck = parse_deck(text, "fuzz.toml", overrides);
  } catch (const Error& e) {
    if (e.code() != ExitCode::BadInput || std::string(e.what()).empty())
      fail("a deck error without the bad-input code or a message", e.what());
    return 0;
  }

  const std::string effective = to_toml(deck);
  std::string again;
  try {
    again = to_toml(parse_deck(effective, "effective.toml"));
  } catch (const Error& e) {
    fail("to_toml of an accepted deck does not parse", effective + "\n---\n" + e.what());
  }
  if (again != effective) fail("to_toml -> parse_deck changed the deck", effective + "\n---\n" + again);

  try {
    const ProblemShape s = deck.shape();
    make_attn_params(s, deck.run.variant, deck.run.pv_precision, deck.run.exp2,
                     deck.run.qk_scales, deck.run.smooth_k, {64, 64});
  } catch (const Error&) {
  }
  return 0;
}
