// The shared kernel test bodies on the avx512 backend (skipped with the reason on CPUs without
// AVX-512 VNNI), with odd tiles: rows that fill no lane group, keys in blocks of 4 with tails.
#include "kernel_test_params.hpp"

namespace miniattn::test {
INSTANTIATE_TEST_SUITE_P(Avx512, BackendKernel,
                         ::testing::Values(BackendParam{"avx512", {{37, 48}, {13, 300}, {100, 20}}}));
}
