#include "miniattn/input_spec.hpp"

#include "problem/enum_names.hpp"

namespace miniattn {
namespace {

constexpr enum_names::Table<TensorLayout, 2> kLayouts{
    {{"bhld", TensorLayout::Bhld}, {"blhd", TensorLayout::Blhd}}};

}  // namespace

std::string_view to_string(TensorLayout l) { return enum_names::name(kLayouts, l); }
std::optional<TensorLayout> parse_tensor_layout(std::string_view s) {
  return enum_names::value(kLayouts, s);
}

}  // namespace miniattn
