#include "driver/driver.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "driver/kokkos_session.hpp"
#include "driver/progress.hpp"
#include "driver/run.hpp"
#include "miniattn/build_info.hpp"
#include "miniattn/comm.hpp"
#include "miniattn/cpu_features.hpp"
#include "miniattn/deck.hpp"
#include "miniattn/kokkos_host.hpp"
#include "miniattn/registry.hpp"
#include "miniattn/timers.hpp"

#if MINIATTN_HAVE_KOKKOS_BACKEND
#include "kernels/kokkos/kokkos_backend.hpp"
#endif

namespace miniattn {
namespace {

struct CommandLine {
  std::string deck_path;
  std::vector<std::string> sets;
  std::string backend;
  bool list_backends = false, print_deck = false, version = false, quiet = false, verbose = false;
  std::vector<std::string> kokkos_args;  // --kokkos-* options, for Kokkos when the run starts
};

void add_options(CLI::App& app, CommandLine& c) {
  app.add_option("deck", c.deck_path, "Input deck (TOML); see inputs/ and docs/")->type_name("DECK.toml");
  app.add_option("--set", c.sets, "Override a deck value, e.g. --set problem.seq_len=8192 (repeatable)")
      ->type_name("SECTION.KEY=VALUE")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--backend", c.backend, "Backend to run (same as --set run.backend=NAME)")
      ->type_name("NAME");
  app.add_flag("--list-backends", c.list_backends, "List the backends built in and what this CPU runs");
  app.add_flag("--print-deck", c.print_deck, "Print the effective deck (defaults and overrides applied)");
  app.add_flag("--version", c.version, "Print the version and build facts");
  auto* quiet_flag = app.add_flag("--quiet", c.quiet, "Print only the summary line, warnings and errors");
  app.add_flag("--verbose", c.verbose,
               "Progress on stderr even when it is not a terminal, and more detail")
      ->excludes(quiet_flag);
}

void print_backends() {
  const CpuFeatures& f = cpu_features();
  fmt::print("CPU: {} ({}) [{}]\n", f.model.empty() ? "unknown" : f.model, f.arch, f.summary());
  fmt::print("{:<10} {:<9} {:<10} {:>8}  {}\n", "backend", "compiled", "supported", "priority",
             "detail");
  for (const BackendInfo& b : backend_infos())
    fmt::print("{:<10} {:<9} {:<10} {:>8}  {}{}\n", b.name, b.compiled ? "yes" : "no",
               b.supported ? "yes" : "no", b.priority, b.detail,
               b.compiled ? "" : fmt::format(" (enable with {})", b.enable));
  fmt::print("auto -> {}\n", auto_backend_name());
}

// The deck (rank 0 reads and validates it; the others parse the effective deck it sends), then
// the run, or the deck printed with --print-deck.
int run_command(const CommandLine& c, const Comm& comm) {
  try {
    if (c.deck_path.empty())
      throw Error("no deck given; usage: miniattn DECK.toml [--set section.key=value ...] "
                  "(see --help)");
    std::vector<std::string> sets = c.sets;
    if (!c.backend.empty()) sets.push_back("run.backend=" + c.backend);
    std::string text;
    all_or_none(comm, [&] {
      if (comm.root()) text = to_toml(parse_deck_file(c.deck_path, sets));
    });
    comm.broadcast(text, 0);
    const Deck deck = parse_deck(text, c.deck_path);
    if (c.print_deck) {
      if (comm.root()) fmt::print("{}", text);
      return 0;
    }
    // Kokkos starts with the deck's threads, and ends (its Views gone) before MPI does.
    const KokkosSession kokkos(comm, requested_threads(deck.run.threads), c.kokkos_args, c.verbose);
    return run_deck(deck, c.deck_path, comm);
  } catch (const Error& e) {
    if (comm.root()) {
      fmt::print(stderr, "miniattn: error: {}\n", e.what());
      std::fflush(stderr);
    }
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    // Not agreed between ranks: end every rank rather than leave some waiting.
    fmt::print(stderr, "miniattn: rank {}: internal error: {}\n", comm.rank(), e.what());
    std::fflush(stderr);
    comm.abort(static_cast<int>(ExitCode::RuntimeFailure));
  }
}

}  // namespace

int run_app(int argc, char** argv) {
  const Comm comm = Comm::world();
  use_kokkos_regions();
#if MINIATTN_HAVE_KOKKOS_BACKEND
  register_kokkos_backend();  // usable once Kokkos runs (the registry asks)
#endif
  CLI::App app{"miniattn: multi-head attention mini-app (INT8 GEMMs, exp2 softmax, fused kernels)",
               "miniattn"};
  CommandLine c;
  add_options(app, c);
  // Kokkos' own options (--kokkos-num-threads=N, --kokkos-tools-library=..., ...) go to Kokkos.
  std::vector<char*> args{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]).rfind("--kokkos-", 0) == 0) c.kokkos_args.emplace_back(argv[i]);
    else args.push_back(argv[i]);
  }
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::ParseError& e) {
    // Every rank parsed the same argv; only rank 0 speaks.
    if (e.get_exit_code() == 0) {  // --help
      if (comm.root()) app.exit(e);
      return 0;
    }
    if (comm.root()) {
      fmt::print(stderr, "miniattn: error: {}\nRun with --help for more information.\n", e.what());
      std::fflush(stderr);
    }
    return static_cast<int>(ExitCode::BadInput);
  }

  set_verbosity(c.quiet ? Verbosity::Quiet : c.verbose ? Verbosity::Verbose : Verbosity::Normal);
  if (c.version) {
    if (comm.root())
      fmt::print("miniattn {} (git {}, {}, {}, {}; {})\n", build::kVersion, build::kGitHash,
                 build::kCompiler, build::kBuildType, build::kSystem, kokkos_description());
    return 0;
  }
  if (c.list_backends) {
    // Kokkos running, so that the kokkos backend can say what it runs on.
    const KokkosSession kokkos(comm, requested_threads(0), c.kokkos_args, c.verbose);
    if (comm.root()) print_backends();
    return 0;
  }
  return run_command(c, comm);
}

}  // namespace miniattn
