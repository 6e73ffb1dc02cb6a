// HDF5 input and output in the documented layout: Q (B, H, Lq, D), K and V (B, Hkv, Lk, D)
// (or, with TensorLayout::Blhd, (B, Lq, H, D) and (B, Lk, Hkv, D)), O (B, H, Lq, D) float32,
// LSE (B, H, Lq) float32, row-major as h5py writes a PyTorch tensor. Ranks read and write
// contiguous ranges of the flattened (B*H*L) rows with collective hyperslab I/O; a rank with
// nothing to do still takes part with an empty selection.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "miniattn/comm.hpp"
#include "miniattn/decomp.hpp"
#include "miniattn/input_spec.hpp"

namespace miniattn {

using AttrValue = std::variant<std::string, int64_t, double>;
struct NamedAttr {
  std::string name;
  AttrValue value;
};

// A (batch, heads, len[, d]) dataset seen as rows of the flattened (batch*heads*len) space.
// Buffers always hold the rows in that order; `order` says how the file orders the dimensions:
// (batch, heads, len[, d]) or (batch, len, heads[, d]).
struct RowLayout {
  int64_t batch = 1;
  int64_t heads = 1;
  int64_t len = 0;
  int d = 0;  // 0: a 3-D dataset (LSE)
  TensorLayout order = TensorLayout::Bhld;
  int64_t rows() const { return batch * heads * len; }
};

enum class FileDtype { Float32, Float16 };

// Serial check of the input file against the run's shape, run on one rank before any collective
// open: the file is HDF5, each of the three datasets exists, is float32, float16 or float64
// and has the shape the spec implies in its layout. Throws miniattn::Error naming the file, the
// dataset, what was found and what was expected (and the layout key when the shape is the
// other layout's).
void check_input_file(const InputFileSpec& in);

// check_input_file run in a child process (fork) of the calling rank, followed there by a read
// of the first and last row of each dataset (chunk index, filters, type conversion). HDF5 1.10
// can crash or loop on a corrupt file (fuzzing found such files, which crash h5dump too); here
// a crash or a hang of the child becomes a miniattn::Error naming the file, instead of the end
// of the run without a message. Errors as check_input_file otherwise. Call it on one rank.
void check_input_file_isolated(const InputFileSpec& in, double timeout_seconds = 120.0);

class H5Reader {
 public:
  H5Reader(const Comm& comm, const std::string& path);  // collective
  ~H5Reader();
  H5Reader(const H5Reader&) = delete;
  H5Reader& operator=(const H5Reader&) = delete;

  // Collective. Rows [rows.begin, rows.end) into dst (row stride layout.d), converted to float.
  // float64 values beyond float32's range are an error naming the dataset and the index.
  void read_rows(const std::string& dataset, const RowLayout& layout, Range rows, float* dst);
  // Collective. Several ranges of rows in one transfer, stored back to back in dst.
  void read_rows(const std::string& dataset, const RowLayout& layout, const RowSet& rows,
                 float* dst);

 private:
  const Comm& comm_;
  std::string path_;
  long long file_ = -1;  // hid_t
};

// Writes to a temporary name beside the final path; commit() renames it once every rank has
// succeeded. A writer destroyed without commit() removes the temporary file, so a failed run
// leaves no output file behind and an existing file untouched. A path that is a symbolic link
// or an existing non-regular file (device, FIFO, directory) is refused (output_paths.hpp). Datasets are contiguous and 1 MiB aligned, or chunked in runs of
// rows of one (batch, head) of about MINIATTN_H5_CHUNK_BYTES bytes (rank 0's environment).
class H5Writer {
 public:
  H5Writer(const Comm& comm, const std::string& path);  // collective
  ~H5Writer();
  H5Writer(const H5Writer&) = delete;
  H5Writer& operator=(const H5Writer&) = delete;

  // Collective: creates the dataset and writes rows [rows.begin, rows.end) from src.
  void write_rows(const std::string& dataset, const RowLayout& layout, Range rows, const float* src,
                  FileDtype dtype = FileDtype::Float32);
  // Collective. Several ranges of rows, stored back to back in src, in one transfer.
  void write_rows(const std::string& dataset, const RowLayout& layout, const RowSet& rows,
                  const float* src, FileDtype dtype = FileDtype::Float32);
  // Collective: every rank passes the same values. Creates the group if it does not exist.
  void write_attributes(const std::string& object, const std::vector<NamedAttr>& attrs);
  // Collective: /timing/seconds (ranks x phases) float64 with attributes phases and units.
  void write_timing(const std::vector<double>& seconds, int nranks,
                    const std::vector<std::string>& phases);
  // Collective: closes the file, everything written; it keeps its temporary name.
  void close();
  // Collective: closes the file if still open, and once every rank has got here, rank 0 renames
  // it to the final path. The last step of a run: nothing that can fail should follow it.
  void commit();

  const std::string& temp_path() const { return temp_path_; }

 private:
  const Comm& comm_;
  std::string path_;
  std::string temp_path_;
  long long file_ = -1;  // hid_t
  bool committed_ = false;
  long long chunk_bytes_ = 0;  // chunk size of the datasets written (0: contiguous)
};

// Serial whole-dataset read for tools and tests (miniattn-verify): any float dataset.
struct DatasetData {
  std::vector<int64_t> dims;
  std::vector<float> values;
};
DatasetData read_dataset(const std::string& path, const std::string& dataset);

}  // namespace miniattn
