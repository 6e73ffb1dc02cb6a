#pragma once

#include <memory>

#include "miniattn/kernel.hpp"

namespace miniattn {
// The Arm SVE backend (A64FX). Call only where cpu_features().sve: its code uses SVE.
std::unique_ptr<Backend> make_sve_backend();
}
