// libFuzzer target: the HDF5 input path on arbitrary file bytes. The bytes are written to a
// temporary file, checked with check_input_file against a small fixed deck (B=1, H=2, Hkv=1,
// Lq=4, Lk=5, D=16, datasets Q, K, V) and, when the check accepts the file, read as the app
// reads it: collectively with H5Reader (one MPI rank), float16 widened, then serially with
// read_dataset. Every rejection must be a miniattn::Error with a message; nothing may crash,
// hang or read out of bounds in this process (check_input_file_isolated takes the crashes of
// the HDF5 library itself, which the fuzzer found, into a child process).
// Seeds: tests/fuzz/h5_input (tests/fuzz/make_h5_seeds.py, plus the inputs that crashed).
#include <mpi.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "miniattn/comm.hpp"
#include "miniattn/deck.hpp"
#include "miniattn/error.hpp"
#include "miniattn/hdf5_io.hpp"

namespace {

std::string g_path;

miniattn::Deck fuzz_deck() {
  return miniattn::parse_deck(
      "[problem]\nbatch = 1\nheads = 2\nkv_heads = 1\nseq_len = 4\nkv_len = 5\nhead_dim = 16\n"
      "[input]\nsource = \"hdf5\"\n",
      "fuzz_h5_input", {"input.file=" + g_path});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  MPI_Init(argc, argv);
  const char* dir = std::getenv("TMPDIR");
  g_path = std::string(dir && *dir ? dir : "/tmp") + "/fuzz_h5_input_" + std::to_string(::getpid()) + ".h5";
  std::atexit([] { std::remove(g_path.c_str()); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace miniattn;
  {
    std::FILE* f = std::fopen(g_path.c_str(), "wb");
    if (!f) std::abort();
    if (size && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
  }
  static const InputFileSpec in = fuzz_deck().input_spec();
  // As the app does: first in a child process, which contains what HDF5 itself cannot
  // survive (a crash or a hang inside the library on a corrupt file); then, for files that
  // pass, the same check in this process (for coverage) and the readers, which must not fail
  // in any way the isolated check did not foresee.
  try {
    check_input_file_isolated(in, 10.0);
  } catch (const Error& e) {
    if (std::string(e.what()).empty()) std::abort();
    return 0;
  }
  try {
    check_input_file(in);
  } catch (const Error& e) {
    std::fprintf(stderr, "fuzz_h5_input: the isolated check passed, the in-process one failed: %s\n", e.what());
    std::abort();
  }
  static const Comm comm = Comm::world();
  const RowLayout q{1, 2, 4, 16}, kv{1, 1, 5, 16};
  std::vector<float> qv(q.rows() * 16), kvv(kv.rows() * 16);
  try {
    H5Reader reader(comm, g_path);
    reader.read_rows("Q", q, {0, q.rows()}, qv.data());
    reader.read_rows("K", kv, {1, kv.rows()}, kvv.data());
    reader.read_rows("V", kv, {0, 2}, kvv.data());
  } catch (const Error& e) {
    if (std::string(e.what()).empty()) std::abort();
  }
  for (const char* name : {"Q", "K", "V"}) {
    try {
      const DatasetData d = read_dataset(g_path, name);
      std::size_t n = 1;
      for (int64_t x : d.dims) n *= static_cast<std::size_t>(x);
      if (n != d.values.size()) std::abort();
    } catch (const Error& e) {
      if (std::string(e.what()).empty()) std::abort();
    }
  }
  return 0;
}
