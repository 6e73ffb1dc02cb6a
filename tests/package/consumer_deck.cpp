// Uses the app component of the installed package: a deck parsed, overridden and written back;
// and, where miniattn was built with it, the kokkos backend (its library and header), handed to
// the registry as src/main.cpp does.
#include <cstdio>
#include <string>

#include "miniattn/deck.hpp"
#include "miniattn/error.hpp"
#if MINIATTN_HAVE_KOKKOS_BACKEND
#include <Kokkos_Core.hpp>

#include "kernels/kokkos/kokkos_backend.hpp"
#include "miniattn/registry.hpp"
#endif

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
  bool kokkos_ok = true;
#if MINIATTN_HAVE_KOKKOS_BACKEND
  Kokkos::ScopeGuard kokkos;
  register_kokkos_backend();
  kokkos_ok = create_backend("kokkos")->name() == "kokkos";
  std::printf("kokkos backend on %s: %s\n", kokkos_execution_space_name(), kokkos_ok ? "registered" : "missing");
#endif
  return d.problem.heads == 16 && parse_deck(text, "again").problem.kv_heads == 4 && rejected && kokkos_ok ? 0 : 1;
}
