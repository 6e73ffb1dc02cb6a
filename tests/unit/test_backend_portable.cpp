// The shared kernel test bodies on the portable backend, with its default tiles and two odd
// shapes (tiles that divide nothing, and one wider than every test sequence).
#include "kernel_test_params.hpp"

namespace miniattn::test {
INSTANTIATE_TEST_SUITE_P(Portable, BackendKernel,
                         ::testing::Values(BackendParam{"portable", {{37, 48}, {13, 300}}}));
}
