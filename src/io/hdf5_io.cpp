// HDF5 input and output. Parallel access goes through the MPI-IO driver with collective
// transfers; every collective step ends with raise_if_any, so a failure on one rank becomes the
// same miniattn::Error on all ranks instead of a hang in the next collective call.
//
// float16 is IEEE binary16 laid out as h5py stores numpy.float16 (a 2-byte float type derived
// from IEEE single). HDF5 1.10 has no native half type and converts to it in slow, bit-by-bit
// software that rounds ties away from zero, so the half <-> float conversion is done here
// (round to nearest even) and HDF5 only moves the 2-byte values, which also keeps the transfer
// collective (HDF5 falls back to independent I/O when it has to convert types). float64 is
// read as double and narrowed here for the same reason, and so that a value beyond float32's
// range is an error naming it rather than an Inf.
//
// A blhd dataset, (batch, len, heads, dim), is selected with the same boxes as a bhld one, its
// len and heads dimensions swapped; HDF5 then moves the rows in the file's order, (batch, len,
// heads), so they go through a staging buffer and are put into (batch, heads, len) order here.
#include "miniattn/hdf5_io.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include "comm/mpi_comm.hpp"
#include "miniattn/output_paths.hpp"

#if !MINIATTN_HAVE_MPI
#error "hdf5_io.cpp needs MPI (parallel HDF5)"
#endif

namespace miniattn {
namespace {

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

// Our messages replace HDF5's error-stack dump.
void quiet_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// The innermost message on HDF5's error stack (e.g. the errno text of a failed open), to
// append to a message of ours after a failed HDF5 call.
std::string hdf5_detail() {
  std::string last;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
        if (e->desc && *e->desc) *static_cast<std::string*>(data) = e->desc;
        return 0;
      },
      &last);
  return last.empty() ? std::string() : " (HDF5: " + last + ")";
}

// Owns one hid_t.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, -1)), close_(o.close_) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, -1);
      close_ = o.close_;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  herr_t reset() {
    herr_t st = 0;
    if (id_ >= 0 && close_) st = close_(id_);
    id_ = -1;
    return st;
  }

 private:
  hid_t id_ = -1;
  Closer close_ = nullptr;
};

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string shape_text(const std::vector<int64_t>& dims) {
  std::ostringstream os;
  os << '(';
  for (std::size_t i = 0; i < dims.size(); ++i) os << (i ? ", " : "") << dims[i];
  os << (dims.size() == 1 ? ",)" : ")");
  return os.str();
}

std::string errno_text(int err) { return std::strerror(err); }

// "" when path names a readable regular file, else what is wrong with it.
std::string unreadable_reason(const std::string& path) {
  if (path.empty()) return "no file name given";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "cannot open (" + errno_text(errno) + ")";
  if (S_ISDIR(st.st_mode)) return "cannot open (it is a directory)";
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return "cannot open (" + errno_text(errno) + ")";
  ::close(fd);
  return "";
}

// HDF5's format signature, at offset 0 or after a user block of 512, 1024, 2048, ... bytes.
// Checked here rather than with H5Fis_hdf5, which takes a file lock that some parallel file
// systems refuse (and would then report a good file as "not HDF5").
bool is_hdf5(const std::string& path) {
  static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  f.seekg(0, std::ios::end);
  const std::streamoff size = f.tellg();
  for (std::streamoff off = 0; off + 8 <= size; off = off == 0 ? 512 : 2 * off) {
    char buf[8];
    f.seekg(off);
    if (!f.read(buf, 8)) return false;
    if (std::memcmp(buf, kSignature, 8) == 0) return true;
  }
  return false;
}

// Whether every component of a (possibly nested) object path exists.
bool path_exists(hid_t loc, const std::string& path) {
  if (path.empty() || path == "/") return true;
  std::size_t pos = path[0] == '/' ? 1 : 0;
  while (pos <= path.size()) {
    std::size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    if (next > pos) {
      const std::string prefix = path.substr(0, next);
      if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    pos = next + 1;
  }
  return true;
}

// Paths of the datasets in a file, for "dataset missing" messages.
std::vector<std::string> list_datasets(hid_t file) {
  std::vector<std::string> names;
#if H5_VERSION_GE(1, 12, 0)
  using LinkInfo = H5L_info2_t;
#define MINIATTN_H5LVISIT H5Lvisit2
#else
  using LinkInfo = H5L_info_t;
#define MINIATTN_H5LVISIT H5Lvisit
#endif
  MINIATTN_H5LVISIT(
      file, H5_INDEX_NAME, H5_ITER_INC,
      [](hid_t group, const char* name, const LinkInfo*, void* data) -> herr_t {
        const hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
        if (obj >= 0) {
          if (H5Iget_type(obj) == H5I_DATASET)
            static_cast<std::vector<std::string>*>(data)->push_back(name);
          H5Oclose(obj);
        }
        return 0;
      },
      &names);
#undef MINIATTN_H5LVISIT
  return names;
}

std::string datasets_present(hid_t file) {
  const std::vector<std::string> names = list_datasets(file);
  if (names.empty()) return "the file has no datasets";
  std::string s = "datasets present: ";
  const std::size_t shown = std::min<std::size_t>(names.size(), 20);
  for (std::size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + quoted(names[i]);
  if (shown < names.size()) s += ", ... (" + std::to_string(names.size()) + " in all)";
  return s;
}

std::vector<int64_t> dataset_dims(hid_t dset) {
  Handle space(H5Dget_space(dset), H5Sclose);
  if (!space.valid()) return {};
  const int nd = H5Sget_simple_extent_ndims(space.get());
  if (nd <= 0) return {};
  std::vector<hsize_t> d(static_cast<std::size_t>(nd));
  H5Sget_simple_extent_dims(space.get(), d.data(), nullptr);
  return std::vector<int64_t>(d.begin(), d.end());
}

// ---------------------------------------------------------------------------------------------
// Float types
// ---------------------------------------------------------------------------------------------

struct FloatFields {
  size_t spos, epos, esize, mpos, msize, ebias, size;
};
constexpr FloatFields kHalfFields{15, 10, 5, 0, 10, 15, 2};
constexpr FloatFields kSingleFields{31, 23, 8, 0, 23, 127, 4};
constexpr FloatFields kDoubleFields{63, 52, 11, 0, 52, 1023, 8};

bool has_fields(hid_t t, const FloatFields& f) {
  if (H5Tget_class(t) != H5T_FLOAT || H5Tget_size(t) != f.size) return false;
  size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
  if (H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize) < 0) return false;
  return spos == f.spos && epos == f.epos && esize == f.esize && mpos == f.mpos &&
         msize == f.msize && H5Tget_ebias(t) == f.ebias && H5Tget_norm(t) == H5T_NORM_IMPLIED;
}

bool is_ieee_half(hid_t t) { return has_fields(t, kHalfFields); }
bool is_ieee_single(hid_t t) { return has_fields(t, kSingleFields); }
bool is_ieee_double(hid_t t) { return has_fields(t, kDoubleFields); }

// IEEE binary16, derived from a 4-byte IEEE type of the wanted byte order the way h5py defines
// numpy.float16, so h5py reads it back as float16.
Handle make_half_type(hid_t ieee_single) {
  Handle t(H5Tcopy(ieee_single), H5Tclose);
  if (!t.valid() || H5Tset_fields(t.get(), 15, 10, 5, 0, 10) < 0 || H5Tset_size(t.get(), 2) < 0 ||
      H5Tset_ebias(t.get(), 15) < 0)
    return Handle();
  return t;
}

// numpy-style name of a file type, for messages.
std::string dtype_name(hid_t t) {
  const size_t bits = H5Tget_size(t) * 8;
  switch (H5Tget_class(t)) {
    case H5T_INTEGER:
      return (H5Tget_sign(t) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
    case H5T_FLOAT:
      if (is_ieee_half(t)) return "float16";
      if (is_ieee_single(t)) return "float32";
      if (is_ieee_double(t)) return "float64";
      return "a non-IEEE " + std::to_string(bits) + "-bit float";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound (" + std::to_string(bits) + " bits)";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_BITFIELD: return "bitfield";
    case H5T_OPAQUE: return "opaque";
    case H5T_VLEN: return "variable-length";
    case H5T_REFERENCE: return "reference";
    default: return "an unknown type";
  }
}

// Round to nearest, ties to even; overflow to infinity; NaN stays NaN.
uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) {  // inf, NaN (kept quiet, top payload bits kept)
    return ax == 0x7f800000u ? (sign | 0x7c00u)
                             : static_cast<uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  }
  if (ax >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520: rounds past the largest half
  if (ax >= 0x38800000u) {                       // normal half (>= 2^-14)
    const uint32_t rounded = ax + 0xfffu + ((ax >> 13) & 1u);
    return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
  }
  // Subnormal half: the value in units of 2^-24, rounded to nearest even.
  const uint32_t e = ax >> 23;
  const uint32_t shift = 126u - e;  // >= 14
  if (shift > 24) return sign;      // below half the smallest subnormal (or float subnormal)
  const uint32_t m = (ax & 0x7fffffu) | 0x800000u;
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) ++q;
  return static_cast<uint16_t>(sign | q);
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t e = (h >> 10) & 0x1fu;
  uint32_t m = h & 0x3ffu;
  uint32_t x;
  if (e == 0x1f) {
    x = sign | 0x7f800000u | (m << 13);
  } else if (e != 0) {
    x = sign | ((e + 112u) << 23) | (m << 13);
  } else if (m == 0) {
    x = sign;
  } else {  // subnormal: normalise
    e = 113;
    while (!(m & 0x400u)) {
      m <<= 1;
      --e;
    }
    x = sign | (e << 23) | ((m & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

void widen_halves(const uint16_t* in, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = half_to_float(in[i]);
}

// The element types an input dataset may have; each is moved as itself (HDF5 converts at most
// the byte order) and converted to float here.
enum class FileElem { Float32, Float16, Float64 };
constexpr const char* kInputDtypes = "float32, float16 or float64";

std::size_t elem_bytes(FileElem e) {
  return e == FileElem::Float16 ? 2 : e == FileElem::Float64 ? 8 : 4;
}

Handle memory_type(FileElem e) {
  switch (e) {
    case FileElem::Float16: return make_half_type(H5T_NATIVE_FLOAT);
    case FileElem::Float64: return Handle(H5Tcopy(H5T_NATIVE_DOUBLE), H5Tclose);
    case FileElem::Float32: break;
  }
  return Handle(H5Tcopy(H5T_NATIVE_FLOAT), H5Tclose);
}

// A float64 value beyond float32's range: its flat element index in (batch, heads, len, dim)
// order (max when there is none) and the value.
struct Overflow {
  int64_t element;
  double value;
};

// Rows of one transfer as HDF5 moved them, in the file's type and order, on their way to the
// rank's float rows.
class Staging {
 public:
  void* reserve(FileElem e, std::size_t n) {
    switch (e) {
      case FileElem::Float16: halves_.resize(n); return halves_.data();
      case FileElem::Float64: doubles_.resize(n); return doubles_.data();
      case FileElem::Float32: break;
    }
    floats_.resize(n);
    return floats_.data();
  }

  // Converts the staged rows to float into out, row j of the transfer to buffer row order[j]
  // (j itself when order is empty); part names the rows' global indices.
  Overflow unpack(FileElem e, const std::vector<int64_t>& order, const RowSet& part,
                  std::size_t row_elems, float* out) const {
    Overflow first{std::numeric_limits<int64_t>::max(), 0.0};
    auto scatter = [&](const auto* in, auto convert) {
      for (int64_t j = 0; j < part.size(); ++j) {
        const int64_t i = order.empty() ? j : order[static_cast<std::size_t>(j)];
        float* o = out + static_cast<std::size_t>(i) * row_elems;
        const auto* r = in + static_cast<std::size_t>(j) * row_elems;
        for (std::size_t c = 0; c < row_elems; ++c) o[c] = convert(r[c], i, c);
      }
    };
    switch (e) {
      case FileElem::Float16:
        scatter(halves_.data(), [](uint16_t h, int64_t, std::size_t) { return half_to_float(h); });
        break;
      case FileElem::Float32:
        scatter(floats_.data(), [](float f, int64_t, std::size_t) { return f; });
        break;
      case FileElem::Float64:
        scatter(doubles_.data(), [&](double x, int64_t i, std::size_t c) {
          const float f = static_cast<float>(x);
          if (std::isinf(f) && std::isfinite(x)) {
            const int64_t g = part.global(i) * static_cast<int64_t>(row_elems) + static_cast<int64_t>(c);
            if (g < first.element) first = {g, x};
          }
          return f;
        });
        break;
    }
    return first;
  }

 private:
  std::vector<uint16_t> halves_;
  std::vector<float> floats_;
  std::vector<double> doubles_;
};

// ---------------------------------------------------------------------------------------------
// Row selections
// ---------------------------------------------------------------------------------------------

// Rows [begin, end) of the flattened (B*H*L) space as at most five hyperslab blocks in row
// order: partial first head, whole heads to the end of its batch, whole batches, whole heads
// of the last batch, partial last head.
struct Block {
  hsize_t start[4] = {0, 0, 0, 0};
  hsize_t count[4] = {1, 1, 1, 1};
};

std::vector<Block> row_blocks(const RowLayout& l, Range rows) {
  std::vector<Block> blocks;
  const int64_t L = l.len, H = l.heads, HL = l.heads * l.len;
  int64_t r = rows.begin;
  while (r < rows.end) {
    const int64_t left = rows.end - r;
    const int64_t pos = r % L, bh = r / L, h = bh % H, b = bh / H;
    Block blk;
    blk.start[0] = static_cast<hsize_t>(b);
    blk.start[1] = static_cast<hsize_t>(h);
    blk.start[2] = static_cast<hsize_t>(pos);
    int64_t n = 0;
    if (pos != 0 || left < L) {
      n = std::min(L - pos, left);
      blk.count[2] = static_cast<hsize_t>(n);
    } else if (h != 0 || left < HL) {
      const int64_t nh = std::min(H - h, left / L);
      blk.count[1] = static_cast<hsize_t>(nh);
      blk.count[2] = static_cast<hsize_t>(L);
      n = nh * L;
    } else {
      const int64_t nb = left / HL;
      blk.count[0] = static_cast<hsize_t>(nb);
      blk.count[1] = static_cast<hsize_t>(H);
      blk.count[2] = static_cast<hsize_t>(L);
      n = nb * HL;
    }
    if (l.d > 0) blk.count[3] = static_cast<hsize_t>(l.d);
    blocks.push_back(blk);
    r += n;
  }
  return blocks;
}

bool select_rows(hid_t space, const RowLayout& l, const RowSet& rows) {
  if (rows.ranges.empty()) return H5Sselect_none(space) >= 0;
  bool first = true;
  for (const Range& r : rows.ranges)
    for (Block b : row_blocks(l, r)) {
      if (l.order == TensorLayout::Blhd) {  // a (b, h, l) box is a (b, l, h) box of the file
        std::swap(b.start[1], b.start[2]);
        std::swap(b.count[1], b.count[2]);
      }
      if (H5Sselect_hyperslab(space, first ? H5S_SELECT_SET : H5S_SELECT_OR, b.start, nullptr,
                              b.count, nullptr) < 0)
        return false;
      first = false;
    }
  return true;
}

// The dataset's dimensions, in the file's order.
std::vector<hsize_t> layout_dims(const RowLayout& l) {
  std::vector<hsize_t> d = {static_cast<hsize_t>(l.batch), static_cast<hsize_t>(l.heads),
                            static_cast<hsize_t>(l.len)};
  if (l.order == TensorLayout::Blhd) std::swap(d[1], d[2]);
  if (l.d > 0) d.push_back(static_cast<hsize_t>(l.d));
  return d;
}

// For each row of a transfer in the order HDF5 moves it (the file's row-major order), its
// index in the rank's buffer of rows. Empty when the two orders agree (bhld).
std::vector<int64_t> file_order(const RowLayout& l, const RowSet& rows) {
  if (l.order == TensorLayout::Bhld) return {};
  std::vector<std::pair<int64_t, int64_t>> keyed;  // (row index in the file, index in buffer)
  keyed.reserve(static_cast<std::size_t>(rows.size()));
  int64_t i = 0;
  for (const Range& r : rows.ranges)
    for (int64_t g = r.begin; g < r.end; ++g, ++i) {
      const int64_t pos = g % l.len, bh = g / l.len, h = bh % l.heads, b = bh / l.heads;
      keyed.emplace_back((b * l.len + pos) * l.heads + h, i);
    }
  std::sort(keyed.begin(), keyed.end());
  std::vector<int64_t> order(keyed.size());
  for (std::size_t j = 0; j < keyed.size(); ++j) order[j] = keyed[j].second;
  return order;
}

// "(batch, heads, len, dim)" or "(batch, len, heads, dim)", for messages.
std::string order_text(const RowLayout& l) {
  const char* dims = l.order == TensorLayout::Blhd ? "batch, len, heads" : "batch, heads, len";
  return std::string("(") + dims + (l.d > 0 ? ", dim)" : ")");
}

std::string layout_problem(const RowLayout& l, const RowSet& rows) {
  if (l.batch <= 0 || l.heads <= 0 || l.len <= 0 || l.d < 0)
    return "invalid layout " + shape_text({l.batch, l.heads, l.len, l.d});
  int64_t prev = 0;
  for (const Range& r : rows.ranges)
    if (r.begin < prev || r.end > l.rows() || r.end < r.begin)
      return "rows [" + std::to_string(r.begin) + ", " + std::to_string(r.end) +
             ") outside [0, " + std::to_string(l.rows()) + ") or out of order";
    else
      prev = r.end;
  return "";
}

// One collective transfer moves at most this many bytes per rank (MPI-IO counts are int, and
// a bounded size keeps the float16 staging buffer small). Every rank makes the same number of
// calls, taking part with an empty selection once its rows are done.
constexpr int64_t kMaxBytesPerCall = int64_t{256} << 20;

int64_t rows_per_call(const RowLayout& l, std::size_t elem_bytes) {
  const int64_t row_bytes = std::max<int64_t>(1, l.d) * static_cast<int64_t>(elem_bytes);
  return std::max<int64_t>(1, kMaxBytesPerCall / row_bytes);
}

int64_t num_calls(const Comm& comm, int64_t nrows, int64_t per_call) {
  return std::max<int64_t>(1, comm.max((nrows + per_call - 1) / per_call));
}

// The rows that call c of a chunked transfer moves (may be none): the c-th window of per_call
// rows of the set, counted in buffer order; first is its first row's index in the buffer.
RowSet call_rows(const RowSet& rows, int64_t c, int64_t per_call, int64_t& first) {
  const int64_t lo = c * per_call, hi = lo + per_call;
  first = std::min(lo, rows.size());
  RowSet part;
  int64_t base = 0;
  for (const Range& r : rows.ranges) {
    const int64_t b = std::max(lo, base), e = std::min(hi, base + r.size());
    if (b < e) part.add({r.begin + b - base, r.begin + e - base});
    base += r.size();
  }
  return part;
}

std::string rows_text(const RowSet& rows) {
  if (rows.ranges.empty()) return "rows []";
  return "rows [" + std::to_string(rows.ranges.front().begin) + ", " +
         std::to_string(rows.ranges.back().end) + ")";
}

// The datasets we write are contiguous (one head's rows are contiguous in the file either way),
// their start aligned to 1 MiB, the default Lustre stripe size. Collective writes of chunked
// datasets measured 4x (2 ranks) to 25x (1 rank) slower than contiguous ones with HDF5 1.10.8
// here, for any chunk size from 256 KiB to 8 MiB, with OMPIO and ROMIO alike (docs/SCALING.md);
// MINIATTN_H5_CHUNK_BYTES > 0 chunks them in runs of rows of one (batch, head) of about that
// many bytes, for readers that want chunked files or I/O studies on other file systems.
constexpr int64_t kDefaultChunkBytes = 0;
constexpr int64_t kAlignBytes = int64_t{1} << 20;

// Rank 0 reads it; the writer broadcasts it (every rank must create datasets alike).
int64_t chunk_bytes_from_env() {
  const char* env = std::getenv("MINIATTN_H5_CHUNK_BYTES");
  if (!env || !*env) return kDefaultChunkBytes;
  char* end = nullptr;
  const long long v = std::strtoll(env, &end, 10);
  if (*end != '\0' || v < 0)
    throw Error(std::string("MINIATTN_H5_CHUNK_BYTES = \"") + env +
                "\": expected a byte count >= 0 (0: contiguous datasets)");
  return v;
}

// Empty: a contiguous dataset.
std::vector<hsize_t> chunk_dims(const RowLayout& l, std::size_t elem_bytes, int64_t bytes) {
  if (bytes == 0) return {};
  const int64_t row_bytes = std::max<int64_t>(1, l.d) * static_cast<int64_t>(elem_bytes);
  const int64_t rows = std::clamp<int64_t>(bytes / row_bytes, 1, l.len);
  std::vector<hsize_t> c = {1, 1, static_cast<hsize_t>(rows)};
  if (l.order == TensorLayout::Blhd) std::swap(c[1], c[2]);
  if (l.d > 0) c.push_back(static_cast<hsize_t>(l.d));
  return c;
}

// align > 0: objects of at least align / 2 bytes start on multiples of align.
Handle mpio_fapl(const Comm& comm, int64_t align = 0) {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (fapl.valid()) {
    H5Pset_fapl_mpio(fapl.get(), mpi_comm(comm), MPI_INFO_NULL);
    // Every metadata access here is made by all ranks: let one rank read and broadcast.
    H5Pset_all_coll_metadata_ops(fapl.get(), 1);
    H5Pset_coll_metadata_write(fapl.get(), 1);
    // Large datasets (and chunks) start on stripe boundaries of a Lustre directory striped at
    // 1 MiB or a divisor of it, so no stripe is shared by two writers' leading/trailing pieces
    // more than the row ranges require.
    if (align > 0)
      H5Pset_alignment(fapl.get(), static_cast<hsize_t>(align / 2), static_cast<hsize_t>(align));
  }
  return fapl;
}

Handle collective_dxpl() {
  Handle dxpl(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  if (dxpl.valid()) H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_COLLECTIVE);
  return dxpl;
}

// ---------------------------------------------------------------------------------------------
// Attributes
// ---------------------------------------------------------------------------------------------

Handle utf8_string_type() {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  if (t.valid()) {
    H5Tset_size(t.get(), H5T_VARIABLE);
    H5Tset_cset(t.get(), H5T_CSET_UTF8);
  }
  return t;
}

// Creates (replacing any old one) and writes an attribute; false on failure.
bool put_attr(hid_t obj, const std::string& name, hid_t file_type, hid_t mem_type, hid_t space,
              const void* buf) {
  if (H5Aexists(obj, name.c_str()) > 0 && H5Adelete(obj, name.c_str()) < 0) return false;
  Handle a(H5Acreate2(obj, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  return a.valid() && H5Awrite(a.get(), mem_type, buf) >= 0;
}

bool put_attr(hid_t obj, const std::string& name, const AttrValue& v) {
  Handle scalar(H5Screate(H5S_SCALAR), H5Sclose);
  if (!scalar.valid()) return false;
  if (const auto* s = std::get_if<std::string>(&v)) {
    Handle t = utf8_string_type();
    const char* p = s->c_str();
    return t.valid() && put_attr(obj, name, t.get(), t.get(), scalar.get(), &p);
  }
  if (const auto* i = std::get_if<int64_t>(&v))
    return put_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, scalar.get(), i);
  const double d = std::get<double>(v);
  return put_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, scalar.get(), &d);
}

bool put_string_array_attr(hid_t obj, const std::string& name,
                           const std::vector<std::string>& values) {
  const hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle t = utf8_string_type();
  std::vector<const char*> ptrs;
  for (const std::string& s : values) ptrs.push_back(s.c_str());
  return space.valid() && t.valid() &&
         put_attr(obj, name, t.get(), t.get(), space.get(), ptrs.data());
}

// Opens an existing object, or creates a group (with its parents) at path.
Handle open_or_create_group(hid_t file, const std::string& path) {
  const std::string p = path.empty() ? "/" : path;
  if (path_exists(file, p)) return Handle(H5Oopen(file, p.c_str(), H5P_DEFAULT), H5Oclose);
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  if (!lcpl.valid() || H5Pset_create_intermediate_group(lcpl.get(), 1) < 0) return Handle();
  return Handle(H5Gcreate2(file, p.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
}

// ---------------------------------------------------------------------------------------------
// Serial access (check_input_file, read_dataset)
// ---------------------------------------------------------------------------------------------

// Opens a file read-only with the default (sec2) driver; throws naming it as "<what> <path>".
Handle open_serial(const std::string& what, const std::string& path) {
  const std::string where = path.empty() ? what : what + " " + path;
  const std::string reason = unreadable_reason(path);
  if (!reason.empty()) throw Error(where + ": " + reason, ExitCode::BadInput);
  if (!is_hdf5(path)) throw Error(where + ": not an HDF5 file", ExitCode::BadInput);
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
#if H5_VERSION_GE(1, 10, 7)
  // A read-only look needs no lock, and parallel file systems often refuse flock().
  if (fapl.valid()) H5Pset_file_locking(fapl.get(), 0, 1);
#endif
  Handle f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.valid() ? fapl.get() : H5P_DEFAULT),
           H5Fclose);
  if (!f.valid()) throw Error(where + ": cannot open as HDF5" + hdf5_detail(), ExitCode::BadInput);
  return f;
}

// Opens the dataset `name`; throws naming the file and listing what is there when it is absent.
Handle open_dataset(hid_t file, const std::string& what, const std::string& path,
                    const std::string& name) {
  const std::string where = what + " " + path + ": ";
  if (name.empty()) throw Error(where + "empty dataset name", ExitCode::BadInput);
  if (!path_exists(file, name))
    throw Error(where + "dataset " + quoted(name) + " not found (" + datasets_present(file) + ")",
                ExitCode::BadInput);
  Handle obj(H5Oopen(file, name.c_str(), H5P_DEFAULT), H5Oclose);
  if (!obj.valid())
    throw Error(where + "cannot open " + quoted(name) + hdf5_detail(), ExitCode::BadInput);
  if (H5Iget_type(obj.get()) != H5I_DATASET)
    throw Error(where + quoted(name) + " is not a dataset (" + datasets_present(file) + ")",
                ExitCode::BadInput);
  obj.reset();
  return Handle(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// check_input_file
// ---------------------------------------------------------------------------------------------

void check_input_file(const InputFileSpec& in) {
  quiet_hdf5();
  const std::string& path = in.file;
  const std::string what = "input file";
  Handle file = open_serial(what, path);

  const ProblemShape& p = in.shape;
  const int64_t d = p.d;
  const bool blhd = in.layout == TensorLayout::Blhd;
  const TensorLayout other = blhd ? TensorLayout::Bhld : TensorLayout::Blhd;
  struct Expect {
    const std::string& name;
    int64_t heads, len;
    const char *heads_key, *len_key;
  };
  const Expect expects[] = {
      {in.q, p.heads, p.lq, "heads", "seq_len"},
      {in.k, p.kv_heads, p.lk, "kv_heads", "kv_len"},
      {in.v, p.kv_heads, p.lk, "kv_heads", "kv_len"},
  };
  // The dimensions, and their names, of a tensor in one layout.
  auto shape_in = [&](const Expect& e, TensorLayout l) {
    return l == TensorLayout::Blhd ? std::vector<int64_t>{p.batch, e.len, e.heads, d}
                                   : std::vector<int64_t>{p.batch, e.heads, e.len, d};
  };
  auto meaning = [&](const Expect& e, TensorLayout l) {
    const std::string h = e.heads_key, n = e.len_key;
    return "(batch, " + (l == TensorLayout::Blhd ? n + ", " + h : h + ", " + n) + ", head_dim)";
  };
  for (const Expect& e : expects) {
    Handle dset = open_dataset(file.get(), what, path, e.name);
    const std::string where = what + " " + path + ": dataset " + quoted(e.name);
    if (!dset.valid()) throw Error(where + ": cannot open" + hdf5_detail(), ExitCode::BadInput);
    Handle type(H5Dget_type(dset.get()), H5Tclose);
    if (!type.valid()) throw Error(where + ": cannot read its type" + hdf5_detail());
    if (!is_ieee_single(type.get()) && !is_ieee_half(type.get()) && !is_ieee_double(type.get()))
      throw Error(where + " has dtype " + dtype_name(type.get()) + "; expected " + kInputDtypes,
                  ExitCode::BadInput);
    const std::vector<int64_t> dims = dataset_dims(dset.get());
    const std::vector<int64_t> want = shape_in(e, in.layout);
    if (dims == want) continue;
    const std::string layout_key = "[input] layout = \"" + std::string(to_string(in.layout)) + "\"";
    const std::string other_key = "[input] layout = \"" + std::string(to_string(other)) + "\"";
    std::string msg = where + " has shape " + shape_text(dims) + "; expected " +
                      meaning(e, in.layout) + " = " + shape_text(want) + " from the deck, " +
                      "as " + layout_key + " orders it";
    if (dims == shape_in(e, other))
      msg += "; that is the shape in " + other_key + ", " + meaning(e, other) +
             ": set that key if the file holds its tensors so";
    else
      msg += " (" + other_key + " reads " + meaning(e, other) + ")";
    throw Error(msg, ExitCode::BadInput);
  }
}

// ---------------------------------------------------------------------------------------------
// H5Reader
// ---------------------------------------------------------------------------------------------

H5Reader::H5Reader(const Comm& comm, const std::string& path) : comm_(comm), path_(path) {
  quiet_hdf5();
  std::string err;
  {
    Handle fapl = mpio_fapl(comm);
    file_ = fapl.valid() ? H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()) : -1;
    if (file_ < 0) err = "input file " + path + ": cannot open with MPI-IO" + hdf5_detail();
  }
  try {
    raise_if_any(comm, err, ExitCode::RuntimeFailure);
  } catch (...) {
    if (file_ >= 0) H5Fclose(static_cast<hid_t>(file_));
    file_ = -1;
    throw;
  }
}

H5Reader::~H5Reader() {
  // After MPI_Finalize HDF5 has shut down and the id is gone: nothing left to close.
  if (file_ >= 0 && H5Iis_valid(static_cast<hid_t>(file_)) > 0) H5Fclose(static_cast<hid_t>(file_));
}

void H5Reader::read_rows(const std::string& dataset, const RowLayout& layout, Range rows,
                         float* dst) {
  read_rows(dataset, layout, RowSet(rows), dst);
}

void H5Reader::read_rows(const std::string& dataset, const RowLayout& layout, const RowSet& rows,
                         float* dst) {
  quiet_hdf5();
  const std::string where = "input file " + path_ + ": dataset " + quoted(dataset);
  std::string err = layout_problem(layout, rows);
  if (err.empty() && rows.size() > 0 && !dst) err = "no destination buffer";
  raise_if_any(comm_, err.empty() ? err : where + ": cannot read " + err, ExitCode::RuntimeFailure);

  const hid_t file = static_cast<hid_t>(file_);
  const bool exists = path_exists(file, dataset);
  Handle dset;
  if (exists) dset = Handle(H5Dopen2(file, dataset.c_str(), H5P_DEFAULT), H5Dclose);
  Handle ftype, mtype, fspace;
  FileElem elem = FileElem::Float32;
  if (!exists) {
    err = where + " not found";
  } else if (!dset.valid()) {
    err = where + ": cannot open" + hdf5_detail();
  } else {
    ftype = Handle(H5Dget_type(dset.get()), H5Tclose);
    fspace = Handle(H5Dget_space(dset.get()), H5Sclose);
    const std::vector<hsize_t> want = layout_dims(layout);
    const std::vector<int64_t> dims = dataset_dims(dset.get());
    if (!ftype.valid() || !fspace.valid()) {
      err = where + ": cannot read its type and shape" + hdf5_detail();
    } else if (dims != std::vector<int64_t>(want.begin(), want.end())) {
      err = where + " has shape " + shape_text(dims) + "; expected " + order_text(layout) + " = " +
            shape_text(std::vector<int64_t>(want.begin(), want.end()));
    } else if (H5Tget_class(ftype.get()) != H5T_FLOAT) {
      err = where + " has dtype " + dtype_name(ftype.get()) + "; expected " + kInputDtypes;
    } else {
      elem = is_ieee_half(ftype.get())     ? FileElem::Float16
             : is_ieee_double(ftype.get()) ? FileElem::Float64
                                           : FileElem::Float32;
      mtype = memory_type(elem);
      if (!mtype.valid()) err = where + ": cannot build the memory type" + hdf5_detail();
    }
  }
  raise_if_any(comm_, err, ExitCode::BadInput);

  Handle dxpl = collective_dxpl();
  const std::size_t row_elems = static_cast<std::size_t>(std::max(1, layout.d));
  const int64_t per_call = rows_per_call(layout, std::max<std::size_t>(4, elem_bytes(elem)));
  const int64_t calls = num_calls(comm_, rows.size(), per_call);
  Staging staged;
  constexpr int64_t kNone = std::numeric_limits<int64_t>::max();
  Overflow overflow{kNone, 0.0};  // the first float64 value beyond float32's range
  for (int64_t c = 0; c < calls && err.empty(); ++c) {
    int64_t first = 0;
    const RowSet part = call_rows(rows, c, per_call, first);
    const std::size_t n = static_cast<std::size_t>(part.size()) * row_elems;
    float* out = n == 0 ? nullptr : dst + static_cast<std::size_t>(first) * row_elems;
    const std::vector<int64_t> order = out ? file_order(layout, part) : std::vector<int64_t>();
    float dummy = 0.0f;
    void* buf = out ? static_cast<void*>(out) : static_cast<void*>(&dummy);
    const bool stage = out && (elem != FileElem::Float32 || !order.empty());
    if (stage) buf = staged.reserve(elem, n);
    const hsize_t mdim = std::max<hsize_t>(1, n);
    Handle mspace(H5Screate_simple(1, &mdim, nullptr), H5Sclose);
    bool ok = mspace.valid() && dxpl.valid() && select_rows(fspace.get(), layout, part) &&
              (n == 0 ? H5Sselect_none(mspace.get()) >= 0 : true);
    if (ok)
      ok = H5Dread(dset.get(), mtype.get(), mspace.get(), fspace.get(), dxpl.get(), buf) >= 0;
    if (!ok) {
      err = where + ": read of " + rows_text(part) + " failed" + hdf5_detail();
    } else if (stage) {
      const Overflow o = staged.unpack(elem, order, part, row_elems, out);
      if (o.element < overflow.element) overflow = o;
    }
    // A rank that failed stops early; the others must not wait for it in the next call.
    if (comm_.max(static_cast<int64_t>(!err.empty())) != 0) break;
  }
  raise_if_any(comm_, err, ExitCode::RuntimeFailure);

  // The same first index on every rank count: the lowest over all ranks, told by one that has it.
  const int64_t bad = comm_.min(overflow.element);
  if (bad != kNone && overflow.element == bad) {
    const int64_t e = bad / static_cast<int64_t>(row_elems), col = bad % static_cast<int64_t>(row_elems);
    const int64_t pos = e % layout.len, bh = e / layout.len;
    std::ostringstream os;
    os << where << " holds " << overflow.value << " at (batch, head, row"
       << (layout.d > 0 ? ", channel) = (" : ") = (") << bh / layout.heads << ", "
       << bh % layout.heads << ", " << pos << (layout.d > 0 ? ", " + std::to_string(col) : "")
       << "), beyond float32's range (|x| <= 3.4e38): miniattn computes in float32; scale the "
          "data down";
    err = os.str();
  }
  raise_if_any(comm_, err, ExitCode::BadInput);
}

// ---------------------------------------------------------------------------------------------
// H5Writer
// ---------------------------------------------------------------------------------------------

namespace {

// Rank 0's early check that the output can be created without destroying anything (not a link,
// a device or a directory): creates and removes the temporary file.
std::string output_problem(const std::string& path) {
  if (path.empty()) return "output file: empty path";
  if (std::string why = output_path_problem({{"output file", path}}, {}); !why.empty()) return why;
  if (std::string why = temporary_creation_problem(path); !why.empty())
    return "output file " + path + ": cannot create (" + why + ")";
  return "";
}

}  // namespace

H5Writer::H5Writer(const Comm& comm, const std::string& path) : comm_(comm), path_(path) {
  quiet_hdf5();
  std::string err;
  std::string chunk;
  if (comm.root()) {
    temp_path_ = temporary_name(path);
    err = output_problem(path);
    try {
      chunk = std::to_string(chunk_bytes_from_env());
    } catch (const Error& e) {
      if (err.empty()) err = e.what();
    }
  }
  comm.broadcast(temp_path_, 0);
  comm.broadcast(chunk, 0);
  raise_if_any(comm, err, ExitCode::BadInput);
  chunk_bytes_ = std::stoll(chunk);

  {
    Handle fapl = mpio_fapl(comm, std::max<int64_t>(kAlignBytes, chunk_bytes_));
    file_ = fapl.valid() ? H5Fcreate(temp_path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()) : -1;
    if (file_ < 0)
      err = "output file " + path + ": cannot create " + temp_path_ + " with MPI-IO" + hdf5_detail();
  }
  try {
    raise_if_any(comm, err, ExitCode::RuntimeFailure);
  } catch (...) {
    if (file_ >= 0) H5Fclose(static_cast<hid_t>(file_));
    file_ = -1;
    if (comm.root()) std::remove(temp_path_.c_str());
    throw;
  }
}

H5Writer::~H5Writer() {
  if (file_ >= 0 && H5Iis_valid(static_cast<hid_t>(file_)) > 0) H5Fclose(static_cast<hid_t>(file_));
  file_ = -1;
  if (!committed_ && comm_.root() && !temp_path_.empty()) std::remove(temp_path_.c_str());
}

void H5Writer::write_rows(const std::string& dataset, const RowLayout& layout, Range rows,
                          const float* src, FileDtype dtype) {
  write_rows(dataset, layout, RowSet(rows), src, dtype);
}

void H5Writer::write_rows(const std::string& dataset, const RowLayout& layout, const RowSet& rows,
                          const float* src, FileDtype dtype) {
  quiet_hdf5();
  const std::string where = "output file " + path_ + ": dataset " + quoted(dataset);
  std::string err;
  if (file_ < 0) err = "the file is already closed";
  if (err.empty()) err = layout_problem(layout, rows);
  if (err.empty() && rows.size() > 0 && !src) err = "no source buffer";
  raise_if_any(comm_, err.empty() ? err : where + ": cannot write " + err, ExitCode::RuntimeFailure);

  const bool half = dtype == FileDtype::Float16;
  const hid_t file = static_cast<hid_t>(file_);
  Handle ftype = half ? make_half_type(H5T_IEEE_F32LE) : Handle(H5Tcopy(H5T_IEEE_F32LE), H5Tclose);
  Handle mtype = half ? make_half_type(H5T_NATIVE_FLOAT) : Handle(H5Tcopy(H5T_NATIVE_FLOAT), H5Tclose);
  const std::vector<hsize_t> dims = layout_dims(layout);
  Handle fspace(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  Handle dset;
  if (ftype.valid() && mtype.valid() && fspace.valid() && lcpl.valid() && dcpl.valid()) {
    H5Pset_create_intermediate_group(lcpl.get(), 1);
    H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER);  // every element is written below
    const std::vector<hsize_t> chunk = chunk_dims(layout, half ? 2 : 4, chunk_bytes_);
    if (!chunk.empty()) H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    dset = Handle(H5Dcreate2(file, dataset.c_str(), ftype.get(), fspace.get(), lcpl.get(),
                             dcpl.get(), H5P_DEFAULT),
                  H5Dclose);
  }
  if (!dset.valid()) err = where + ": cannot create" + hdf5_detail();
  raise_if_any(comm_, err, ExitCode::RuntimeFailure);

  Handle dxpl = collective_dxpl();
  const std::size_t row_elems = static_cast<std::size_t>(std::max(1, layout.d));
  const int64_t per_call = rows_per_call(layout, half ? 2 : 4);
  const int64_t calls = num_calls(comm_, rows.size(), per_call);
  std::vector<uint16_t> staged_halves;
  std::vector<float> staged_floats;
  for (int64_t c = 0; c < calls; ++c) {
    int64_t first = 0;
    const RowSet part = call_rows(rows, c, per_call, first);
    const std::size_t n = static_cast<std::size_t>(part.size()) * row_elems;
    const float* in = n == 0 ? nullptr : src + static_cast<std::size_t>(first) * row_elems;
    const float dummy = 0.0f;
    const void* buf = in ? static_cast<const void*>(in) : static_cast<const void*>(&dummy);
    const std::vector<int64_t> order = in ? file_order(layout, part) : std::vector<int64_t>();
    if (in && (half || !order.empty())) {  // rows in the file's order and type
      if (half) staged_halves.resize(n);
      else staged_floats.resize(n);
      for (int64_t j = 0; j < part.size(); ++j) {
        const std::size_t i = static_cast<std::size_t>(order.empty() ? j : order[static_cast<std::size_t>(j)]);
        const float* r = in + i * row_elems;
        const std::size_t at = static_cast<std::size_t>(j) * row_elems;
        for (std::size_t e = 0; e < row_elems; ++e) {
          if (half) staged_halves[at + e] = float_to_half(r[e]);
          else staged_floats[at + e] = r[e];
        }
      }
      buf = half ? static_cast<const void*>(staged_halves.data())
                 : static_cast<const void*>(staged_floats.data());
    }
    const hsize_t mdim = std::max<hsize_t>(1, n);
    Handle mspace(H5Screate_simple(1, &mdim, nullptr), H5Sclose);
    bool ok = mspace.valid() && dxpl.valid() && select_rows(fspace.get(), layout, part) &&
              (n == 0 ? H5Sselect_none(mspace.get()) >= 0 : true);
    if (ok)
      ok = H5Dwrite(dset.get(), mtype.get(), mspace.get(), fspace.get(), dxpl.get(), buf) >= 0;
    if (!ok)
      err = where + ": write of " + rows_text(part) + " failed" + hdf5_detail();
    if (comm_.max(static_cast<int64_t>(!err.empty())) != 0) break;
  }
  if (err.empty() && dset.reset() < 0) err = where + ": cannot close" + hdf5_detail();
  raise_if_any(comm_, err, ExitCode::RuntimeFailure);
}

void H5Writer::write_attributes(const std::string& object, const std::vector<NamedAttr>& attrs) {
  quiet_hdf5();
  const std::string obj_name = object.empty() ? "/" : object;
  std::string err;
  if (file_ < 0) err = "output file " + path_ + ": cannot write attributes of " + quoted(obj_name) +
                       ": the file is already closed";
  raise_if_any(comm_, err, ExitCode::RuntimeFailure);

  Handle obj = open_or_create_group(static_cast<hid_t>(file_), obj_name);
  if (!obj.valid()) {
    err = "output file " + path_ + ": cannot create group " + quoted(obj_name) + hdf5_detail();
  } else {
    for (const NamedAttr& a : attrs) {
      if (!put_attr(obj.get(), a.name, a.value)) {
        err = "output file " + path_ + ": cannot write attribute " + quoted(a.name) + " of " +
              quoted(obj_name) + hdf5_detail();
        break;
      }
    }
  }
  raise_if_any(comm_, err, ExitCode::RuntimeFailure);
}

void H5Writer::write_timing(const std::vector<double>& seconds, int nranks,
                            const std::vector<std::string>& phases) {
  quiet_hdf5();
  const std::string where = "output file " + path_ + ": dataset '/timing/seconds'";
  std::string err;
  if (file_ < 0) err = where + ": the file is already closed";
  else if (nranks <= 0 || phases.empty() ||
           seconds.size() != static_cast<std::size_t>(nranks) * phases.size())
    err = where + ": " + std::to_string(seconds.size()) + " values for " +
          std::to_string(nranks) + " ranks x " + std::to_string(phases.size()) + " phases";
  raise_if_any(comm_, err, ExitCode::RuntimeFailure);

  const hid_t file = static_cast<hid_t>(file_);
  Handle group = open_or_create_group(file, "/timing");
  const hsize_t dims[2] = {static_cast<hsize_t>(nranks), static_cast<hsize_t>(phases.size())};
  Handle fspace(H5Screate_simple(2, dims, nullptr), H5Sclose);
  Handle mspace(H5Screate_simple(2, dims, nullptr), H5Sclose);
  Handle dset;
  if (group.valid() && fspace.valid() && mspace.valid()) {
    if (H5Lexists(group.get(), "seconds", H5P_DEFAULT) > 0) H5Ldelete(group.get(), "seconds", H5P_DEFAULT);
    dset = Handle(H5Dcreate2(group.get(), "seconds", H5T_IEEE_F64LE, fspace.get(), H5P_DEFAULT,
                             H5P_DEFAULT, H5P_DEFAULT),
                  H5Dclose);
  }
  if (!dset.valid()) {
    err = where + ": cannot create" + hdf5_detail();
  } else {
    // Every rank holds the same table; rank 0 writes it, the others join with nothing.
    if (!comm_.root()) {
      H5Sselect_none(fspace.get());
      H5Sselect_none(mspace.get());
    }
    Handle dxpl = collective_dxpl();
    if (!dxpl.valid() || H5Dwrite(dset.get(), H5T_NATIVE_DOUBLE, mspace.get(), fspace.get(),
                                  dxpl.get(), seconds.data()) < 0)
      err = where + ": write failed" + hdf5_detail();
  }
  // Attributes are collective metadata: every rank writes them, even after a local failure
  // would be wrong, so agree first.
  raise_if_any(comm_, err, ExitCode::RuntimeFailure);
  if (!put_string_array_attr(dset.get(), "phases", phases) ||
      !put_attr(dset.get(), "units", AttrValue(std::string("s"))))
    err = where + ": cannot write its attributes" + hdf5_detail();
  raise_if_any(comm_, err, ExitCode::RuntimeFailure);
}

void H5Writer::close() {
  quiet_hdf5();
  std::string err;
  if (committed_ || file_ < 0) err = "output file " + path_ + ": already committed or closed";
  raise_if_any(comm_, err, ExitCode::RuntimeFailure);

  const hid_t file = static_cast<hid_t>(file_);
  file_ = -1;
  if (H5Fclose(file) < 0) err = "output file " + path_ + ": cannot close " + temp_path_ + hdf5_detail();
  raise_if_any(comm_, err, ExitCode::RuntimeFailure);
}

void H5Writer::commit() {
  std::string err;
  if (committed_) err = "output file " + path_ + ": already committed";
  raise_if_any(comm_, err, ExitCode::RuntimeFailure);
  if (file_ >= 0) close();
  // Every rank has got here (raise_if_any is collective): none can fail any more, so rank 0 may
  // replace what the path held.
  raise_if_any(comm_, err, ExitCode::RuntimeFailure);
  if (comm_.root() && std::rename(temp_path_.c_str(), path_.c_str()) != 0)
    err = "output file " + path_ + ": cannot rename " + temp_path_ + " to it (" +
          errno_text(errno) + ")";
  raise_if_any(comm_, err, ExitCode::RuntimeFailure);
  committed_ = true;
}

// ---------------------------------------------------------------------------------------------
// read_dataset
// ---------------------------------------------------------------------------------------------

DatasetData read_dataset(const std::string& path, const std::string& dataset) {
  quiet_hdf5();
  Handle file = open_serial("file", path);
  Handle dset = open_dataset(file.get(), "file", path, dataset);
  const std::string where = "file " + path + ": dataset " + quoted(dataset);
  if (!dset.valid()) throw Error(where + ": cannot open" + hdf5_detail(), ExitCode::BadInput);
  Handle type(H5Dget_type(dset.get()), H5Tclose);
  if (!type.valid() || H5Tget_class(type.get()) != H5T_FLOAT)
    throw Error(where + " has dtype " + (type.valid() ? dtype_name(type.get()) : "unknown") +
                    "; expected a float type",
                ExitCode::BadInput);
  DatasetData out;
  out.dims = dataset_dims(dset.get());
  std::size_t n = 1;
  for (int64_t d : out.dims) n *= static_cast<std::size_t>(d);
  out.values.resize(n);
  if (n == 0) return out;
  const bool half = is_ieee_half(type.get());
  Handle mtype = half ? make_half_type(H5T_NATIVE_FLOAT) : Handle(H5Tcopy(H5T_NATIVE_FLOAT), H5Tclose);
  std::vector<uint16_t> staged(half ? n : 0);
  void* buf = half ? static_cast<void*>(staged.data()) : static_cast<void*>(out.values.data());
  if (!mtype.valid() || H5Dread(dset.get(), mtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    throw Error(where + ": read failed" + hdf5_detail(), ExitCode::RuntimeFailure);
  if (half) widen_halves(staged.data(), out.values.data(), n);
  return out;
}

}  // namespace miniattn
