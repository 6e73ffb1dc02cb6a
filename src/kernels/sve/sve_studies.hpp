#pragma once

#include "miniattn/kernel.hpp"

namespace miniattn::sve {
// The seeds' kernel studies on SVE (miniattn-bench).
const KernelStudies* sve_studies();
}
