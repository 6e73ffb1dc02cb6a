#include "miniattn/input_spec.hpp"

#include <array>
#include <utility>

namespace miniattn {
namespace {

// constexpr, so to_string works even from another file's static initialisers.
constexpr std::array<std::pair<std::string_view, TensorLayout>, 2> kLayouts{
    {{"bhld", TensorLayout::Bhld}, {"blhd", TensorLayout::Blhd}}};

}  // namespace

std::string_view to_string(TensorLayout l) {
  for (const auto& [name, value] : kLayouts)
    if (value == l) return name;
  return "?";
}

std::optional<TensorLayout> parse_tensor_layout(std::string_view s) {
  for (const auto& [name, value] : kLayouts)
    if (name == s) return value;
  return std::nullopt;
}

}  // namespace miniattn
