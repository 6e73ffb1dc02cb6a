// miniattn-gen DECK.toml [--set section.key=value ...] [-o OUT.h5] [--dtype float32|float16]
// Writes the synthetic Q, K and V of a deck to an HDF5 input file: exactly the values the app
// generates itself for that deck, so a run on the float32 file equals the synthetic run bit for
// bit. The file holds them in the deck's [input] layout (bhld or blhd), so the deck reads it
// back. Runs on any number of ranks, each generating and writing a contiguous share of the rows.
// Exit 0 on success, 2 on bad input (deck, options, output path), 3 on an I/O failure. The file
// is written under a temporary name and renamed into place at the end: on any failure no output
// file is left behind and an existing one is untouched. An output path that is the deck, a
// symbolic link or an existing non-regular file is refused.
#include <mpi.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "miniattn/build_info.hpp"
#include "miniattn/comm.hpp"
#include "miniattn/deck.hpp"
#include "miniattn/error.hpp"
#include "miniattn/hdf5_io.hpp"
#include "miniattn/output_paths.hpp"
#include "miniattn/synthetic.hpp"

namespace miniattn {
namespace {

constexpr const char* kTool = "miniattn-gen";

struct TensorSpec {
  std::string name;  // dataset name, from the deck's [input] section
  Tensor tensor;
  RowLayout layout;
};

std::string shape_text(const RowLayout& l) {
  if (l.order == TensorLayout::Blhd)
    return fmt::format("({}, {}, {}, {}) blhd", l.batch, l.len, l.heads, l.d);
  return fmt::format("({}, {}, {}, {})", l.batch, l.heads, l.len, l.d);
}

// Rank r's contiguous share of n rows.
Range share(int64_t n, const Comm& comm) {
  return {n * comm.rank() / comm.size(), n * (comm.rank() + 1) / comm.size()};
}

// The deck, parsed on rank 0 and handed to the others as its effective TOML text, so that a
// deck error is reported once and every rank stops together.
Deck agreed_deck(const Comm& comm, const std::string& path, const std::vector<std::string>& sets) {
  Deck deck;
  std::string text;
  std::string err;
  ExitCode code = ExitCode::Ok;
  if (comm.root()) {
    try {
      deck = parse_deck_file(path, sets);
      text = to_toml(deck);
    } catch (const Error& e) {
      err = e.what();
      code = e.code();
    }
  }
  raise_if_any(comm, err, code);
  comm.broadcast(text, 0);
  if (!comm.root()) deck = parse_deck(text, path);
  return deck;
}

int generate(const Comm& comm, const std::string& deck_path, const std::vector<std::string>& sets,
             std::string out_path, const std::string& dtype_name) {
  const Deck deck = agreed_deck(comm, deck_path, sets);
  const bool out_from_option = !out_path.empty();
  if (out_path.empty()) out_path = deck.input.file;
  if (out_path.empty())
    throw Error("no output file: pass -o OUT.h5 or set [input] file in the deck", ExitCode::BadInput);
  // The file is renamed over out_path at the end: refuse to replace the deck or a device.
  std::string err;
  if (comm.root())
    err = output_path_problem({{out_from_option ? "-o" : "[input] file", out_path}},
                              {{"the deck", deck_path}});
  raise_if_any(comm, err, ExitCode::BadInput);
  const FileDtype dtype = dtype_name == "float16" ? FileDtype::Float16 : FileDtype::Float32;
  const Deck::Input& in = deck.input;
  if (in.q == in.k || in.q == in.v || in.k == in.v)
    throw Error(fmt::format("[input] q = \"{}\", k = \"{}\", v = \"{}\": the three datasets need "
                            "different names", in.q, in.k, in.v),
                ExitCode::BadInput);

  const auto& p = deck.problem;
  const int64_t lk = p.kv_len > 0 ? p.kv_len : p.seq_len;
  const int d = static_cast<int>(p.head_dim);
  const TensorLayout order = deck.input.layout;
  const std::vector<TensorSpec> specs = {
      {deck.input.q, Tensor::Q, RowLayout{p.batch, p.heads, p.seq_len, d, order}},
      {deck.input.k, Tensor::K, RowLayout{p.batch, p.kv_heads, lk, d, order}},
      {deck.input.v, Tensor::V, RowLayout{p.batch, p.kv_heads, lk, d, order}},
  };

  comm.barrier();
  const double t0 = MPI_Wtime();
  H5Writer writer(comm, out_path);  // removes its temporary file if anything below throws

  std::vector<float> buf;
  int64_t elements = 0;
  for (const TensorSpec& s : specs) {
    const Range rows = share(s.layout.rows(), comm);
    all_or_none(comm, [&] {
      buf.resize(static_cast<std::size_t>(rows.size()) * static_cast<std::size_t>(d));
      synthetic_rows(deck.input.distribution, deck.input.seed, s.tensor, s.layout.heads,
                     s.layout.len, d, rows.begin, rows.end, buf.data());
    });
    writer.write_rows(s.name, s.layout, rows, buf.data(), dtype);
    elements += s.layout.rows() * d;
  }
  writer.write_attributes(
      "/", {{"generator", std::string(kTool)},
            {"version", std::string(build::kVersion)},
            {"git_hash", std::string(build::kGitHash)},
            {"seed", static_cast<int64_t>(deck.input.seed)},
            {"distribution", std::string(to_string(deck.input.distribution))},
            {"dtype", dtype_name},
            {"layout", std::string(to_string(order))},
            {"deck", to_toml(deck)}});
  writer.commit();
  const double seconds = comm.max(MPI_Wtime() - t0);

  if (comm.root()) {
    const double mb = static_cast<double>(elements) * (dtype == FileDtype::Float16 ? 2 : 4) / 1e6;
    fmt::print("{}: wrote {}: {} {}, {} {}, {} {} {}, {} seed {}, {} rank{}, {:.3f} s, {:.1f} MB/s\n",
               kTool, out_path, specs[0].name, shape_text(specs[0].layout), specs[1].name,
               shape_text(specs[1].layout), specs[2].name, shape_text(specs[2].layout), dtype_name,
               to_string(deck.input.distribution), deck.input.seed, comm.size(),
               comm.size() == 1 ? "" : "s", seconds, seconds > 0 ? mb / seconds : 0.0);
    std::fflush(stdout);
  }
  return 0;
}

int run(int argc, char** argv) {
  const Comm comm = Comm::world();
  CLI::App app{"miniattn-gen: write the synthetic Q, K and V of a deck to an HDF5 input file", kTool};
  std::string deck_path, out_path, dtype = "float32";
  std::vector<std::string> sets;
  app.add_option("DECK", deck_path, "Input deck (TOML); [problem] gives the shapes, [input] the "
                                    "seed, distribution, dataset names and layout")
      ->required();
  app.add_option("--set", sets, "Override a deck key: section.key=value (repeatable)")
      ->allow_extra_args(false);
  app.add_option("-o,--output", out_path, "Output file (default: the deck's [input] file)");
  app.add_option("--dtype", dtype, "Element type in the file")
      ->check(CLI::IsMember({"float32", "float16"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    if (comm.root()) app.exit(e);
    return 0;
  } catch (const CLI::CallForAllHelp& e) {
    if (comm.root()) app.exit(e);
    return 0;
  } catch (const CLI::ParseError& e) {
    if (comm.root())
      fmt::print(stderr, "{}: error: {}\nRun with --help for more information.\n", kTool, e.what());
    return static_cast<int>(ExitCode::BadInput);
  }

  try {
    return generate(comm, deck_path, sets, out_path, dtype);
  } catch (const Error& e) {
    // Every rank holds the same error (raise_if_any); rank 0 reports it.
    if (comm.root()) fmt::print(stderr, "{}: error: {}\n", kTool, e.what());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    // Not agreed between ranks: the others may be waiting in a collective call.
    fmt::print(stderr, "{}: error on rank {}: {}\n", kTool, comm.rank(), e.what());
    comm.abort(static_cast<int>(ExitCode::RuntimeFailure));
  }
}

}  // namespace
}  // namespace miniattn

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  const int code = miniattn::run(argc, argv);
  MPI_Finalize();
  return code;
}
