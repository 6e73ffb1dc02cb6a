// A minimal Kokkos Tools library (the C interface that space-time-stack and kernel-timer also
// implement): it records every profiling region a process pushes and pops, with its nesting
// depth, and every parallel_for / parallel_reduce kernel it launches, by name, with the depth of
// regions it runs in, and writes them at finalisation to $MINIATTN_REGION_LOG.<rank>. The test loads it
// into miniattn through KOKKOS_TOOLS_LIBS (Kokkos >= 3.5 / 4.x) and KOKKOS_PROFILE_LIBRARY
// (Kokkos 3.x), exactly as a user loads the real tools.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

std::vector<std::string> g_events;
int g_depth = 0;
int g_unbalanced_pops = 0;

}  // namespace

extern "C" void kokkosp_init_library(const int, const uint64_t, const uint32_t, void*) {}

extern "C" void kokkosp_push_profile_region(const char* name) {
  g_events.push_back("push " + std::to_string(g_depth) + " " + name);
  ++g_depth;
}

extern "C" void kokkosp_pop_profile_region() {
  if (g_depth == 0) {
    ++g_unbalanced_pops;
    return;
  }
  --g_depth;
  g_events.push_back("pop " + std::to_string(g_depth));
}

// Kernels: "kernel <depth> <for|reduce> <name>" at their start. Launched from the main thread
// only (nested launches are not used), so no lock.
extern "C" void kokkosp_begin_parallel_for(const char* name, const uint32_t, uint64_t* id) {
  g_events.push_back("kernel " + std::to_string(g_depth) + " for " + name);
  *id = g_events.size();
}
extern "C" void kokkosp_end_parallel_for(const uint64_t) {}
extern "C" void kokkosp_begin_parallel_reduce(const char* name, const uint32_t, uint64_t* id) {
  g_events.push_back("kernel " + std::to_string(g_depth) + " reduce " + name);
  *id = g_events.size();
}
extern "C" void kokkosp_end_parallel_reduce(const uint64_t) {}

extern "C" void kokkosp_finalize_library() {
  const char* base = std::getenv("MINIATTN_REGION_LOG");
  if (!base || !*base) return;
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  if (!rank) rank = std::getenv("PMI_RANK");
  const std::string path = std::string(base) + "." + (rank ? rank : "0");
  if (std::FILE* f = std::fopen(path.c_str(), "w")) {
    for (const std::string& e : g_events) std::fprintf(f, "%s\n", e.c_str());
    std::fprintf(f, "end depth %d unbalanced_pops %d\n", g_depth, g_unbalanced_pops);
    std::fclose(f);
  }
}
