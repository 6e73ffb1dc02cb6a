// miniattn-cuda-check [--quick] [--seed N]: the cuda backend against the CPU quantiser (bitwise)
// and the float64 reference on this machine's GPU. Exit 0 when every check passes, 1 when one
// fails, 3 when it cannot run (no device).
#include <cstdio>
#include <exception>

#include "tools/cuda_tools.hpp"
#include "miniattn/error.hpp"

int main(int argc, char** argv) {
  try {
    return miniattn::cuda::check_main(argc, argv, stdout) == 0 ? 0 : 1;
  } catch (const miniattn::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "miniattn-cuda-check: %s\n", e.what());
    return 3;
  }
}
