#include "miniattn/kokkos_host.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace miniattn {

std::string kokkos_description() {
  const int v = KOKKOS_VERSION;  // major * 10000 + minor * 100 + patch
  std::string spaces;
  auto add = [&spaces](const char* name) { spaces += (spaces.empty() ? "" : ", ") + std::string(name); };
#ifdef KOKKOS_ENABLE_OPENMP
  add("OpenMP");
#endif
#ifdef KOKKOS_ENABLE_THREADS
  add("Threads");
#endif
#ifdef KOKKOS_ENABLE_HPX
  add("HPX");
#endif
#ifdef KOKKOS_ENABLE_SERIAL
  add("Serial");
#endif
#ifdef KOKKOS_ENABLE_CUDA
  add("Cuda");
#endif
#ifdef KOKKOS_ENABLE_HIP
  add("HIP");
#endif
#ifdef KOKKOS_ENABLE_SYCL
  add("SYCL");
#endif
  return "Kokkos " + std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
         std::to_string(v % 100) + " (" + spaces + "), host space " + HostExec::name();
}

void generate_rows(const char* label, Distribution dist, uint64_t seed, Tensor t, int64_t heads,
                   int64_t len, int d, const RowSet& rows, float* out) {
  // Chunks of up to 64 rows that do not cross a range: (first global row, first local row, rows).
  struct Chunk {
    int64_t global, local, n;
  };
  constexpr int64_t kRows = 64;
  std::vector<Chunk> chunks;
  int64_t local = 0;
  for (const Range& r : rows.ranges)
    for (int64_t g = r.begin; g < r.end; g += kRows) {
      const int64_t n = std::min(kRows, r.end - g);
      chunks.push_back({g, local, n});
      local += n;
    }
  Kokkos::parallel_for(label, dynamic_items(static_cast<int64_t>(chunks.size())), [&](int64_t i) {
    const Chunk& c = chunks[i];
    synthetic_rows(dist, seed, t, heads, len, d, c.global, c.global + c.n, out + c.local * d);
  });
}

}  // namespace miniattn
