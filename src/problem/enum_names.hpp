// Enum <-> name tables as constexpr arrays, so that to_string works even from another file's
// static initialisers.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace miniattn::enum_names {

template <class E, std::size_t N>
using Table = std::array<std::pair<std::string_view, E>, N>;

template <class E, std::size_t N>
std::string_view name(const Table<E, N>& table, E e) {
  for (const auto& [n, v] : table)
    if (v == e) return n;
  return "?";
}

template <class E, std::size_t N>
std::optional<E> value(const Table<E, N>& table, std::string_view s) {
  for (const auto& [n, v] : table)
    if (n == s) return v;
  return std::nullopt;
}

}  // namespace miniattn::enum_names
