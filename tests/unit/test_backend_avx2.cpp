// The shared kernel test bodies on the avx2 backend (skipped with the reason on CPUs without
// AVX2 + FMA), with odd tiles: 1 to 4 lane groups, ragged blocks, key tiles with tails.
#include "kernel_test_params.hpp"

namespace miniattn::test {
INSTANTIATE_TEST_SUITE_P(Avx2, BackendKernel,
                         ::testing::Values(BackendParam{"avx2", {{37, 48}, {13, 300}, {100, 20}, {5, 18}}}));
}
