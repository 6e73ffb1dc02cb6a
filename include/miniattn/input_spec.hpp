// What the I/O layer needs to know of an input: the dimension order of its tensors and, for an
// HDF5 input, the file, its datasets and the shape they must have. The deck fills these in
// (Deck::input_spec); io never sees the deck.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "miniattn/attn_params.hpp"

namespace miniattn {

// Order of the dimensions of an HDF5 input tensor: (batch, heads, len, dim), or (batch, len,
// heads, dim) as flash-attn and many PyTorch codes hold them. Buffers in memory are always bhld.
enum class TensorLayout { Bhld, Blhd };
std::string_view to_string(TensorLayout l);  // "bhld", "blhd"
std::optional<TensorLayout> parse_tensor_layout(std::string_view s);

// An HDF5 input file: Q (batch, heads, lq, d), K and V (batch, kv_heads, lk, d), in `layout`
// order. Messages about it name the deck's keys ([problem] heads, [input] layout, ...).
struct InputFileSpec {
  std::string file;
  std::string q = "Q";  // dataset names (paths inside groups allowed)
  std::string k = "K";
  std::string v = "V";
  TensorLayout layout = TensorLayout::Bhld;
  ProblemShape shape;  // batch, heads, kv_heads, lq, lk (> 0) and d are used
};

}  // namespace miniattn
