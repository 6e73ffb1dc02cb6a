#pragma once

#include <memory>

#include "miniattn/kernel.hpp"

namespace miniattn {
std::unique_ptr<Backend> make_avx512_backend();
}  // namespace miniattn
