// miniattn-bench-cuda: throughput of the cuda backend's fused kernel (see cuda_tools.hpp for
// the options). Exit 0 on success, 2 on bad arguments, 3 when it cannot run (no device).
#include <cstdio>
#include <exception>

#include "tools/cuda_tools.hpp"
#include "miniattn/error.hpp"

int main(int argc, char** argv) {
  try {
    return miniattn::cuda::bench_main(argc, argv, stdout);
  } catch (const miniattn::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "miniattn-bench-cuda: %s\n", e.what());
    return 3;
  }
}
