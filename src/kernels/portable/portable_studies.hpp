// The portable backend's kernel studies (miniattn-bench); kernels/studies.cpp finds them by name.
#pragma once

#include "kernels/studies.hpp"

namespace miniattn {
const KernelStudies* portable_studies();
}  // namespace miniattn
