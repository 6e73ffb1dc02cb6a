// HDF5 reader, writer and input checks, run as one MPI process. Files are written into the
// current directory under names unique to the test and the process (tests run in parallel).
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "miniattn/deck.hpp"
#include "miniattn/error.hpp"
#include "miniattn/hdf5_io.hpp"

namespace miniattn {
namespace {

const Comm& world() {
  static const Comm comm = Comm::world();
  return comm;
}

bool file_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// A file name unique to this test and process; removed (with any temporary) at scope exit.
class TestFile {
 public:
  explicit TestFile(const std::string& tag = "") {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::string("hdf5io_") + info->test_suite_name() + "_" + info->name() + tag + "_" +
            std::to_string(::getpid()) + ".h5";
    std::remove(path_.c_str());
  }
  ~TestFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<float> random_values(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// float -> IEEE half -> float, round to nearest even: an independent reference for the writer.
float half_round(float f) {
  if (!std::isfinite(f)) return f;
  const double a = std::fabs(static_cast<double>(f));
  if (a >= 65520.0) return std::copysign(std::numeric_limits<float>::infinity(), f);
  if (a == 0.0) return f;
  int e = 0;
  std::frexp(a, &e);                        // a = m * 2^e, m in [0.5, 1)
  const int exponent = std::max(e - 1, -14);  // subnormals share the exponent -14
  const double ulp = std::ldexp(1.0, exponent - 10);
  return static_cast<float>(std::copysign(std::nearbyint(a / ulp) * ulp, static_cast<double>(f)));
}

std::vector<int64_t> dims_of(const std::string& path, const std::string& name) {
  return read_dataset(path, name).dims;
}

// --- raw HDF5 C API helpers, independent of the code under test ---------------------------------

struct RawFile {
  explicit RawFile(const std::string& path, bool create = false) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    id = create ? H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)
                : H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  }
  ~RawFile() {
    if (id >= 0) H5Fclose(id);
  }
  hid_t id = -1;
};

template <class T>
void write_raw(hid_t file, const std::string& name, hid_t file_type, hid_t mem_type,
               const std::vector<hsize_t>& dims, const std::vector<T>& data) {
  const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t dset =
      H5Dcreate2(file, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(dset, 0);
  ASSERT_GE(H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), 0);
  H5Dclose(dset);
  H5Sclose(space);
}

std::string read_string_attr(hid_t obj, const char* name, bool* utf8 = nullptr) {
  const hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) return "<missing>";
  const hid_t ftype = H5Aget_type(a);
  if (utf8) *utf8 = H5Tget_cset(ftype) == H5T_CSET_UTF8;
  const hid_t mtype = H5Tcopy(H5T_C_S1);
  H5Tset_size(mtype, H5T_VARIABLE);
  H5Tset_cset(mtype, H5Tget_cset(ftype));
  char* s = nullptr;
  std::string out = "<unreadable>";
  if (H5Aread(a, mtype, &s) >= 0 && s) out = s;
  if (s) H5free_memory(s);
  H5Tclose(mtype);
  H5Tclose(ftype);
  H5Aclose(a);
  return out;
}

std::vector<std::string> read_string_array_attr(hid_t obj, const char* name) {
  std::vector<std::string> out;
  const hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) return out;
  const hid_t space = H5Aget_space(a);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  const hid_t mtype = H5Tcopy(H5T_C_S1);
  H5Tset_size(mtype, H5T_VARIABLE);
  H5Tset_cset(mtype, H5T_CSET_UTF8);
  std::vector<char*> ptrs(static_cast<std::size_t>(n), nullptr);
  if (H5Aread(a, mtype, ptrs.data()) >= 0)
    for (char* p : ptrs) out.push_back(p ? p : "");
  H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, ptrs.data());
  H5Tclose(mtype);
  H5Sclose(space);
  H5Aclose(a);
  return out;
}

template <class T>
T read_scalar_attr(hid_t obj, const char* name, hid_t mem_type, H5T_class_t* cls = nullptr) {
  T v{};
  const hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) return v;
  if (cls) {
    const hid_t t = H5Aget_type(a);
    *cls = H5Tget_class(t);
    H5Tclose(t);
  }
  H5Aread(a, mem_type, &v);
  H5Aclose(a);
  return v;
}

// Expects f to throw miniattn::Error with the given code and a message containing every part.
template <class F>
void expect_error(F&& f, ExitCode code, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.code()), static_cast<int>(code)) << e.what();
    for (const std::string& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "message: " << e.what() << "\nmissing: " << p;
  }
}

// Row ranges that start and end inside, at, and across head and batch boundaries.
std::vector<Range> interesting_ranges(const RowLayout& l) {
  const int64_t L = l.len, HL = l.heads * l.len, n = l.rows();
  std::vector<int64_t> points = {0, 1, L - 1, L, L + 1, 2 * L - 1, HL - 1, HL, HL + 1,
                                 HL + L, n - L - 1, n - 1, n};
  std::vector<Range> ranges;
  for (int64_t b : points)
    for (int64_t e : points)
      if (b >= 0 && e <= n && b <= e) ranges.push_back({b, e});
  return ranges;
}

// --- round trips ---------------------------------------------------------------------------

TEST(Hdf5Io, Float32RoundTripIsExactForAnyRowRange) {
  TestFile f;
  const RowLayout l{3, 4, 7, 16};  // 84 rows
  const std::vector<float> all = random_values(static_cast<std::size_t>(l.rows()) * 16, 1);
  {
    H5Writer w(world(), f.path());
    w.write_rows("Q", l, {0, l.rows()}, all.data());
    w.commit();
  }
  H5Reader r(world(), f.path());
  for (const Range& rg : interesting_ranges(l)) {
    std::vector<float> got(static_cast<std::size_t>(rg.size()) * 16 + 1, -7.0f);
    r.read_rows("Q", l, rg, rg.empty() ? nullptr : got.data());
    for (int64_t i = 0; i < rg.size() * 16; ++i)
      ASSERT_EQ(got[i], all[rg.begin * 16 + i]) << "rows [" << rg.begin << ", " << rg.end << ")";
    EXPECT_EQ(got.back(), -7.0f) << "wrote past the end";
  }
  const DatasetData d = read_dataset(f.path(), "Q");
  EXPECT_EQ(d.dims, (std::vector<int64_t>{3, 4, 7, 16}));
  EXPECT_EQ(d.values, all);
}

TEST(Hdf5Io, WritesOfPartialRangesLandInTheirRows) {
  TestFile f;
  const RowLayout l{2, 3, 5, 8};
  const std::vector<float> all = random_values(static_cast<std::size_t>(l.rows()) * 8, 2);
  const std::vector<Range> ranges = interesting_ranges(l);
  {
    H5Writer w(world(), f.path());
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      const Range rg = ranges[i];
      w.write_rows("R" + std::to_string(i), l, rg, rg.empty() ? nullptr : all.data() + rg.begin * 8);
    }
    w.commit();
  }
  H5Reader r(world(), f.path());
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const Range rg = ranges[i];
    std::vector<float> got(static_cast<std::size_t>(rg.size()) * 8);
    r.read_rows("R" + std::to_string(i), l, rg, got.data());
    for (int64_t k = 0; k < rg.size() * 8; ++k)
      ASSERT_EQ(got[k], all[rg.begin * 8 + k]) << "rows [" << rg.begin << ", " << rg.end << ")";
  }
}

TEST(Hdf5Io, RowSetsOfSeveralRangesRoundTrip) {
  // Ring mode's zig-zag chunks: several ranges per head, across heads and batches, written
  // and read in one transfer each, stored back to back in the buffer.
  TestFile f;
  const RowLayout l{2, 3, 10, 8};  // 60 rows
  const std::vector<float> all = random_values(static_cast<std::size_t>(l.rows()) * 8, 9);
  RowSet set;
  for (const Range& r : {Range{0, 2}, Range{8, 13}, Range{19, 20}, Range{20, 31}, Range{59, 60}})
    set.add(r);
  ASSERT_EQ(set.ranges.size(), 4u);  // {19, 20} and {20, 31} merge
  ASSERT_EQ(set.size(), 2 + 5 + 12 + 1);
  std::vector<float> packed;
  for (const Range& r : set.ranges)
    packed.insert(packed.end(), all.begin() + r.begin * 8, all.begin() + r.end * 8);
  {
    H5Writer w(world(), f.path());
    w.write_rows("O", l, set, packed.data());
    w.commit();
  }
  const DatasetData d = read_dataset(f.path(), "O");
  for (int64_t row = 0; row < l.rows(); ++row) {
    const int64_t at = set.local(row);
    if (at < 0) continue;
    EXPECT_EQ(set.global(at), row);
    for (int c = 0; c < 8; ++c) ASSERT_EQ(d.values[row * 8 + c], all[row * 8 + c]) << "row " << row;
  }
  H5Reader r(world(), f.path());
  std::vector<float> got(packed.size() + 1, -7.0f);
  r.read_rows("O", l, set, got.data());
  EXPECT_TRUE(std::equal(packed.begin(), packed.end(), got.begin()));
  EXPECT_EQ(got.back(), -7.0f) << "read past the end";
}

// Layout of a written dataset: H5D_CHUNKED with its chunk dims, or H5D_CONTIGUOUS and {}.
std::pair<H5D_layout_t, std::vector<hsize_t>> dataset_layout(const std::string& path,
                                                            const std::string& name) {
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t d = H5Dopen2(f, name.c_str(), H5P_DEFAULT);
  const hid_t p = H5Dget_create_plist(d);
  const H5D_layout_t layout = H5Pget_layout(p);
  std::vector<hsize_t> dims;
  if (layout == H5D_CHUNKED) {
    dims.resize(static_cast<std::size_t>(H5Pget_chunk(p, 0, nullptr)));
    H5Pget_chunk(p, static_cast<int>(dims.size()), dims.data());
  }
  H5Pclose(p);
  H5Dclose(d);
  H5Fclose(f);
  return {layout, dims};
}

TEST(Hdf5Io, OutputIsContiguousOrChunkedInRunsOfOneHeadsRows) {
  // Contiguous by default; MINIATTN_H5_CHUNK_BYTES=1048576: 1 MiB chunks, 2048 rows of D = 128
  // float32 (a head of 3000 rows: two chunks, the second partial), LSE (4 bytes a row) a whole
  // head per chunk.
  TestFile f;
  const RowLayout o{1, 2, 3000, 128}, lse{1, 2, 3000, 0};
  const std::vector<float> v = random_values(static_cast<std::size_t>(o.rows()) * 128, 4);
  auto write = [&] {
    H5Writer w(world(), f.path());
    w.write_rows("O", o, {0, o.rows()}, v.data());
    w.write_rows("LSE", lse, {0, lse.rows()}, v.data());
    w.commit();
  };
  write();
  EXPECT_EQ(dataset_layout(f.path(), "O").first, H5D_CONTIGUOUS);
  EXPECT_EQ(read_dataset(f.path(), "O").values, v);
  ::setenv("MINIATTN_H5_CHUNK_BYTES", "1048576", 1);
  write();
  EXPECT_EQ(dataset_layout(f.path(), "O").second, (std::vector<hsize_t>{1, 1, 2048, 128}));
  EXPECT_EQ(dataset_layout(f.path(), "LSE").second, (std::vector<hsize_t>{1, 1, 3000}));
  EXPECT_EQ(read_dataset(f.path(), "O").values, v);
  ::setenv("MINIATTN_H5_CHUNK_BYTES", "-5", 1);
  expect_error([&] { H5Writer w(world(), f.path()); }, ExitCode::BadInput,
               {"MINIATTN_H5_CHUNK_BYTES"});
  ::unsetenv("MINIATTN_H5_CHUNK_BYTES");
}

TEST(Hdf5Io, Float16RoundTripRoundsToNearestEven) {
  TestFile f;
  const RowLayout l{2, 2, 9, 32};
  std::vector<float> v = random_values(static_cast<std::size_t>(l.rows()) * 32, 3);
  for (std::size_t i = 0; i < v.size(); i += 3) v[i] *= 1000.0f;  // a wide range of exponents
  for (std::size_t i = 1; i < v.size(); i += 7) v[i] *= 1e-5f;    // half subnormals
  const std::vector<float> special = {0.0f, -0.0f, 65504.0f, 65519.0f, 65520.0f, -70000.0f,
                                      1.0f + 1.0f / 2048.0f,            // tie, rounds to even 1.0
                                      1.0f + 3.0f / 2048.0f,            // tie, rounds up
                                      std::ldexp(1.0f, -24), std::ldexp(1.0f, -25),
                                      std::ldexp(1.5f, -25), std::ldexp(1.0f, -14),
                                      std::numeric_limits<float>::infinity(), 1e-30f};
  std::copy(special.begin(), special.end(), v.begin());
  {
    H5Writer w(world(), f.path());
    w.write_rows("K", l, {0, l.rows()}, v.data(), FileDtype::Float16);
    w.commit();
  }
  {  // The file type is IEEE binary16, as h5py writes numpy.float16.
    RawFile raw(f.path());
    const hid_t d = H5Dopen2(raw.id, "K", H5P_DEFAULT);
    const hid_t t = H5Dget_type(d);
    size_t spos, epos, esize, mpos, msize;
    H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize);
    EXPECT_EQ(H5Tget_class(t), H5T_FLOAT);
    EXPECT_EQ(H5Tget_size(t), 2u);
    EXPECT_EQ(H5Tget_order(t), H5T_ORDER_LE);
    EXPECT_EQ(esize, 5u);
    EXPECT_EQ(msize, 10u);
    EXPECT_EQ(H5Tget_ebias(t), 15u);
    H5Tclose(t);
    H5Dclose(d);
  }
  H5Reader r(world(), f.path());
  for (const Range& rg : interesting_ranges(l)) {
    std::vector<float> got(static_cast<std::size_t>(rg.size()) * 32);
    r.read_rows("K", l, rg, got.data());
    for (int64_t i = 0; i < rg.size() * 32; ++i) {
      const float want = half_round(v[rg.begin * 32 + i]);
      ASSERT_EQ(got[i], want) << "element " << rg.begin * 32 + i << " = " << v[rg.begin * 32 + i];
      ASSERT_EQ(std::signbit(got[i]), std::signbit(want));
    }
  }
  EXPECT_EQ(half_round(1.0f + 1.0f / 2048.0f), 1.0f);
  EXPECT_EQ(half_round(65520.0f), std::numeric_limits<float>::infinity());
  const DatasetData d = read_dataset(f.path(), "K");
  for (std::size_t i = 0; i < v.size(); ++i) ASSERT_EQ(d.values[i], half_round(v[i])) << i;
}

TEST(Hdf5Io, ReadsHalfValuesWrittenByAnotherWriter) {
  // Every finite half bit pattern written through the HDF5 C API with an h5py-style type.
  TestFile f;
  std::vector<uint16_t> bits;
  for (uint32_t h = 0; h < 65536; ++h)
    if (((h >> 10) & 0x1f) != 0x1f) bits.push_back(static_cast<uint16_t>(h));
  const int64_t rows = static_cast<int64_t>(bits.size()) / 16;
  bits.resize(static_cast<std::size_t>(rows) * 16);
  {
    RawFile raw(f.path(), true);
    const hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    write_raw(raw.id, "V", t, t, {1, 1, static_cast<hsize_t>(rows), 16}, bits);
    H5Tclose(t);
  }
  std::vector<float> got(bits.size());
  H5Reader r(world(), f.path());
  r.read_rows("V", RowLayout{1, 1, rows, 16}, {0, rows}, got.data());
  for (std::size_t i = 0; i < bits.size(); ++i) {
    const uint16_t h = bits[i];
    const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    const double mag = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
    const double want = (h & 0x8000) ? -mag : mag;
    ASSERT_EQ(static_cast<double>(got[i]), want) << "half 0x" << std::hex << h;
  }
}

TEST(Hdf5Io, ReadsFloat64ThroughConversion) {
  TestFile f;
  std::vector<double> v(2 * 3 * 4);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.1 * static_cast<double>(i) - 1.0;
  {
    RawFile raw(f.path(), true);
    write_raw(raw.id, "LSE", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {2, 3, 4}, v);
  }
  std::vector<float> got(v.size());
  H5Reader r(world(), f.path());
  r.read_rows("LSE", RowLayout{2, 3, 4, 0}, {0, 24}, got.data());
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_EQ(got[i], static_cast<float>(v[i]));
}

TEST(Hdf5Io, Float64BeyondFloat32RangeIsAnErrorNamingTheFirstIndex) {
  // Values that narrow to float: the largest float, tiny ones (to 0), infinities (kept, for the
  // driver's NaN/Inf check); finite values past FLT_MAX are refused, the first in row order
  // named whatever the order of the file (blhd moves rows in another order).
  for (const TensorLayout order : {TensorLayout::Bhld, TensorLayout::Blhd}) {
    TestFile f(order == TensorLayout::Blhd ? "blhd" : "bhld");
    const RowLayout l{1, 2, 5, 8, order};
    std::vector<double> v(80, 0.5);
    v[0] = static_cast<double>(std::numeric_limits<float>::max());
    v[1] = 1e-50;
    v[2] = -std::numeric_limits<double>::infinity();
    {
      RawFile raw(f.path(), true);
      const std::vector<hsize_t> dims = order == TensorLayout::Blhd
                                            ? std::vector<hsize_t>{1, 5, 2, 8}
                                            : std::vector<hsize_t>{1, 2, 5, 8};
      write_raw(raw.id, "ok", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, dims, v);
      // Element (head, row, channel) of batch 0 in the file's order.
      auto at = [&](int h, int row, int c) {
        return static_cast<std::size_t>(order == TensorLayout::Blhd ? (row * 2 + h) * 8 + c
                                                                    : (h * 5 + row) * 8 + c);
      };
      std::vector<double> bad = v;
      bad[at(0, 3, 3)] = -1e300;  // the first in (batch, head, row) order,
      bad[at(1, 0, 7)] = 1e39;    // not in blhd's (batch, row, head) order
      bad[at(1, 4, 0)] = 3.5e38;
      write_raw(raw.id, "bad", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, dims, bad);
    }
    H5Reader r(world(), f.path());
    std::vector<float> got(80);
    r.read_rows("ok", l, {0, 10}, got.data());
    EXPECT_EQ(got[0], std::numeric_limits<float>::max());
    EXPECT_EQ(got[1], 0.0f);
    EXPECT_EQ(got[2], -std::numeric_limits<float>::infinity());
    EXPECT_EQ(got[79], 0.5f);
    expect_error([&] { r.read_rows("bad", l, {0, 10}, got.data()); }, ExitCode::BadInput,
                 {"input file " + f.path() + ": dataset 'bad' holds -1e+300 at (batch, head, "
                  "row, channel) = (0, 0, 3, 3), beyond float32's range"});
    // Rows that leave the first bad values out name the next one.
    expect_error([&] { r.read_rows("bad", l, {5, 10}, got.data()); }, ExitCode::BadInput,
                 {"holds 1e+39 at (batch, head, row, channel) = (0, 1, 0, 7)"});
    expect_error([&] { r.read_rows("bad", l, {6, 10}, got.data()); }, ExitCode::BadInput,
                 {"holds 3.5e+38 at (batch, head, row, channel) = (0, 1, 4, 0)"});
  }
}

TEST(Hdf5Io, BlhdRowsRoundTripForAnyRowRange) {
  // (batch, len, heads, dim) files: the writer puts each buffer row at its (b, l, h) place,
  // checked against the whole dataset as the HDF5 C API reads it; the reader gives the rows
  // back in (b, h, l) order for any range, any set of ranges, float32 and float16.
  TestFile f;
  const RowLayout bhld{3, 4, 7, 16}, l{3, 4, 7, 16, TensorLayout::Blhd};
  const std::vector<float> all = random_values(static_cast<std::size_t>(l.rows()) * 16, 11);
  const std::vector<Range> ranges = interesting_ranges(l);
  {
    H5Writer w(world(), f.path());
    w.write_rows("Q", l, {0, l.rows()}, all.data());
    w.write_rows("Q16", l, {0, l.rows()}, all.data(), FileDtype::Float16);
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      const Range rg = ranges[i];
      w.write_rows("R" + std::to_string(i), l, rg, rg.empty() ? nullptr : all.data() + rg.begin * 16);
    }
    w.commit();
  }
  const DatasetData d = read_dataset(f.path(), "Q");
  ASSERT_EQ(d.dims, (std::vector<int64_t>{3, 7, 4, 16}));
  for (int b = 0; b < 3; ++b)
    for (int h = 0; h < 4; ++h)
      for (int t = 0; t < 7; ++t)
        for (int c = 0; c < 16; ++c)
          ASSERT_EQ(d.values[((b * 7 + t) * 4 + h) * 16 + c], all[((b * 4 + h) * 7 + t) * 16 + c]);

  H5Reader r(world(), f.path());
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const Range rg = ranges[i];
    std::vector<float> got(static_cast<std::size_t>(rg.size()) * 16 + 1, -7.0f);
    for (const char* name : {"Q", "Q16"}) {
      r.read_rows(name, l, rg, rg.empty() ? nullptr : got.data());
      for (int64_t k = 0; k < rg.size() * 16; ++k) {
        const float want = name[1] ? half_round(all[rg.begin * 16 + k]) : all[rg.begin * 16 + k];
        ASSERT_EQ(got[k], want) << name << " rows [" << rg.begin << ", " << rg.end << ")";
      }
      EXPECT_EQ(got.back(), -7.0f) << "wrote past the end";
    }
    r.read_rows("R" + std::to_string(i), l, rg, got.data());  // a partial write lands in place
    for (int64_t k = 0; k < rg.size() * 16; ++k) ASSERT_EQ(got[k], all[rg.begin * 16 + k]);
  }
  // Several ranges in one transfer (ring mode's K/V shards).
  RowSet set;
  for (const Range& rg : {Range{0, 2}, Range{8, 13}, Range{19, 31}, Range{60, 84}}) set.add(rg);
  std::vector<float> packed;
  for (const Range& rg : set.ranges)
    packed.insert(packed.end(), all.begin() + rg.begin * 16, all.begin() + rg.end * 16);
  std::vector<float> got(packed.size());
  r.read_rows("Q", l, set, got.data());
  EXPECT_EQ(got, packed);
  // The same file read as bhld has the other shape.
  expect_error([&] { r.read_rows("Q", bhld, {0, 1}, got.data()); }, ExitCode::BadInput,
               {"'Q' has shape (3, 7, 4, 16); expected (batch, heads, len, dim) = (3, 4, 7, 16)"});
}

TEST(Hdf5Io, ThreeDimensionalDatasets) {
  TestFile f;
  const RowLayout l{3, 2, 11, 0};  // LSE-like (batch, heads, len)
  const std::vector<float> all = random_values(static_cast<std::size_t>(l.rows()), 4);
  {
    H5Writer w(world(), f.path());
    w.write_rows("LSE", l, {0, l.rows()}, all.data());
    w.write_rows("LSE16", l, {0, l.rows()}, all.data(), FileDtype::Float16);
    w.commit();
  }
  EXPECT_EQ(dims_of(f.path(), "LSE"), (std::vector<int64_t>{3, 2, 11}));
  H5Reader r(world(), f.path());
  for (const Range& rg : interesting_ranges(l)) {
    std::vector<float> got(static_cast<std::size_t>(rg.size()));
    r.read_rows("LSE", l, rg, got.data());
    for (int64_t i = 0; i < rg.size(); ++i) ASSERT_EQ(got[i], all[rg.begin + i]);
    r.read_rows("LSE16", l, rg, got.data());
    for (int64_t i = 0; i < rg.size(); ++i) ASSERT_EQ(got[i], half_round(all[rg.begin + i]));
  }
}

TEST(Hdf5Io, NestedDatasetNames) {
  TestFile f;
  const RowLayout l{1, 2, 3, 4};
  const std::vector<float> all = random_values(24, 5);
  {
    H5Writer w(world(), f.path());
    w.write_rows("/inputs/layer0/Q", l, {0, 6}, all.data());
    w.commit();
  }
  EXPECT_EQ(read_dataset(f.path(), "/inputs/layer0/Q").values, all);
  EXPECT_EQ(read_dataset(f.path(), "inputs/layer0/Q").values, all);
}

TEST(Hdf5Io, ReaderRejectsWrongShapeAndMissingDataset) {
  TestFile f;
  const std::vector<float> all = random_values(2 * 3 * 4 * 8, 6);
  {
    H5Writer w(world(), f.path());
    w.write_rows("Q", RowLayout{2, 3, 4, 8}, {0, 24}, all.data());
    w.commit();
  }
  H5Reader r(world(), f.path());
  std::vector<float> got(all.size());
  expect_error([&] { r.read_rows("Q", RowLayout{2, 3, 4, 16}, {0, 24}, got.data()); },
               ExitCode::BadInput,
               {f.path(), "'Q'", "(2, 3, 4, 8)", "expected (batch, heads, len, dim) = (2, 3, 4, 16)"});
  expect_error([&] { r.read_rows("Q", RowLayout{2, 3, 4, 8, TensorLayout::Blhd}, {0, 24}, got.data()); },
               ExitCode::BadInput,
               {"'Q' has shape (2, 3, 4, 8); expected (batch, len, heads, dim) = (2, 4, 3, 8)"});
  expect_error([&] { r.read_rows("X", RowLayout{2, 3, 4, 8}, {0, 24}, got.data()); },
               ExitCode::BadInput, {f.path(), "dataset 'X' not found"});
  expect_error([&] { r.read_rows("Q", RowLayout{2, 3, 4, 8}, {10, 25}, got.data()); },
               ExitCode::RuntimeFailure, {"'Q'", "rows [10, 25) outside [0, 24)"});
  // The reader still works after errors.
  r.read_rows("Q", RowLayout{2, 3, 4, 8}, {0, 24}, got.data());
  EXPECT_EQ(got, all);
}

// --- attributes and timing -------------------------------------------------------------------

TEST(Hdf5Io, AttributesReadBackWithTheCApi) {
  TestFile f;
  const std::string deck = "[problem]\nseq_len = 128\nhead_dim = 64\n# é ü\n";
  {
    H5Writer w(world(), f.path());
    w.write_attributes("/", {{"deck", deck}, {"ranks", int64_t{4}}, {"backend", std::string("x")}});
    w.write_attributes("/", {{"backend", std::string("portable")}, {"empty", std::string()}});
    w.write_attributes("/verification",
                       {{"max_abs", 1.25e-3}, {"rows_checked", int64_t{-3}}, {"passed", int64_t{1}}});
    w.commit();
  }
  RawFile raw(f.path());
  ASSERT_GE(raw.id, 0);
  bool utf8 = false;
  EXPECT_EQ(read_string_attr(raw.id, "deck", &utf8), deck);
  EXPECT_TRUE(utf8);
  EXPECT_EQ(read_string_attr(raw.id, "backend"), "portable");  // rewritten, not duplicated
  EXPECT_EQ(read_string_attr(raw.id, "empty"), "");
  H5T_class_t cls = H5T_NO_CLASS;
  EXPECT_EQ(read_scalar_attr<int64_t>(raw.id, "ranks", H5T_NATIVE_INT64, &cls), 4);
  EXPECT_EQ(cls, H5T_INTEGER);
  const hid_t g = H5Gopen2(raw.id, "/verification", H5P_DEFAULT);
  ASSERT_GE(g, 0);
  EXPECT_EQ(read_scalar_attr<double>(g, "max_abs", H5T_NATIVE_DOUBLE, &cls), 1.25e-3);
  EXPECT_EQ(cls, H5T_FLOAT);
  EXPECT_EQ(read_scalar_attr<int64_t>(g, "rows_checked", H5T_NATIVE_INT64), -3);
  EXPECT_EQ(read_scalar_attr<int64_t>(g, "passed", H5T_NATIVE_INT64), 1);
  H5Gclose(g);
}

TEST(Hdf5Io, TimingGroupLayout) {
  TestFile f;
  const std::vector<std::string> phases = {"read", "qk_gemm", "total"};
  const std::vector<double> seconds = {0.5, 1.5, 2.5, 0.25, 1.25, 3.0};  // 2 ranks x 3 phases
  {
    H5Writer w(world(), f.path());
    w.write_timing(seconds, 2, phases);
    w.commit();
  }
  RawFile raw(f.path());
  const hid_t d = H5Dopen2(raw.id, "/timing/seconds", H5P_DEFAULT);
  ASSERT_GE(d, 0);
  const hid_t t = H5Dget_type(d);
  EXPECT_EQ(H5Tget_class(t), H5T_FLOAT);
  EXPECT_EQ(H5Tget_size(t), 8u);
  H5Tclose(t);
  const hid_t s = H5Dget_space(d);
  hsize_t dims[2] = {0, 0};
  EXPECT_EQ(H5Sget_simple_extent_dims(s, dims, nullptr), 2);
  EXPECT_EQ(dims[0], 2u);
  EXPECT_EQ(dims[1], 3u);
  H5Sclose(s);
  std::vector<double> got(6);
  H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, got.data());
  EXPECT_EQ(got, seconds);
  EXPECT_EQ(read_string_array_attr(d, "phases"), phases);
  EXPECT_EQ(read_string_attr(d, "units"), "s");
  H5Dclose(d);
}

TEST(Hdf5Io, TimingRejectsMismatchedSizes) {
  TestFile f;
  H5Writer w(world(), f.path());
  expect_error([&] { w.write_timing({1.0, 2.0}, 1, {"a", "b", "c"}); }, ExitCode::RuntimeFailure,
               {"/timing/seconds", "2 values for 1 ranks x 3 phases"});
}

// --- temporary file and commit ---------------------------------------------------------------

TEST(Hdf5Io, WriterWithoutCommitLeavesNoFile) {
  TestFile f;
  const std::vector<float> v = random_values(16, 7);
  std::string temp;
  {
    H5Writer w(world(), f.path());
    temp = w.temp_path();
    EXPECT_NE(temp, f.path());
    EXPECT_EQ(temp.rfind(f.path(), 0), 0u) << "the temporary file lies beside the final one";
    w.write_rows("O", RowLayout{1, 1, 2, 8}, {0, 2}, v.data());
    EXPECT_TRUE(file_exists(temp));
    EXPECT_FALSE(file_exists(f.path()));
  }
  EXPECT_FALSE(file_exists(temp));
  EXPECT_FALSE(file_exists(f.path()));
}

TEST(Hdf5Io, CommitRenamesOverAnExistingFile) {
  TestFile f;
  { std::ofstream(f.path()) << "old contents\n"; }
  const std::vector<float> v = random_values(16, 8);
  std::string temp;
  {
    H5Writer w(world(), f.path());
    temp = w.temp_path();
    w.write_rows("O", RowLayout{1, 1, 2, 8}, {0, 2}, v.data());
    w.commit();
    EXPECT_FALSE(file_exists(temp));
    EXPECT_TRUE(file_exists(f.path()));
  }
  EXPECT_TRUE(file_exists(f.path()));
  EXPECT_FALSE(file_exists(temp));
  EXPECT_EQ(read_dataset(f.path(), "O").values, v);
}

TEST(Hdf5Io, FailedWriteLeavesNoFile) {
  TestFile f;
  const std::vector<float> v(16, 1.0f);
  std::string temp;
  try {
    H5Writer w(world(), f.path());
    temp = w.temp_path();
    w.write_rows("O", RowLayout{1, 1, 2, 8}, {0, 2}, v.data());
    w.write_rows("O", RowLayout{1, 1, 2, 8}, {0, 2}, v.data());  // exists already
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::RuntimeFailure);
    EXPECT_NE(std::string(e.what()).find("dataset 'O': cannot create"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(file_exists(temp));
  EXPECT_FALSE(file_exists(f.path()));
}

TEST(Hdf5Io, UnwritableOutputDirectoryIsBadInput) {
  expect_error([] { H5Writer w(world(), "/nonexistent/dir/x.h5"); }, ExitCode::BadInput,
               {"output file /nonexistent/dir/x.h5: cannot create (No such file or directory)"});
  expect_error([] { H5Writer w(world(), "."); }, ExitCode::BadInput,
               {"output file \".\" exists and is a directory"});
}

// The writer renames its file over the path: a link or a FIFO there would be replaced.
TEST(Hdf5Io, WriterRefusesALinkAndAFifo) {
  TestFile target("_target"), link("_link"), fifo("_fifo");
  { std::ofstream(target.path()) << "old contents\n"; }
  ASSERT_EQ(::symlink(target.path().c_str(), link.path().c_str()), 0);
  ASSERT_EQ(::mkfifo(fifo.path().c_str(), 0644), 0);
  expect_error([&] { H5Writer w(world(), link.path()); }, ExitCode::BadInput,
               {"output file \"" + link.path() + "\" is a symbolic link"});
  expect_error([&] { H5Writer w(world(), fifo.path()); }, ExitCode::BadInput,
               {"output file \"" + fifo.path() + "\" exists and is a FIFO"});
  struct stat st {};
  ASSERT_EQ(::lstat(link.path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  ASSERT_EQ(::lstat(fifo.path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

// close() finishes the file under its temporary name; only commit() replaces the path.
TEST(Hdf5Io, CloseKeepsTheOldFileUntilCommit) {
  TestFile f;
  { std::ofstream(f.path()) << "old contents\n"; }
  const std::vector<float> v = random_values(16, 8);
  H5Writer w(world(), f.path());
  w.write_rows("O", RowLayout{1, 1, 2, 8}, {0, 2}, v.data());
  w.close();
  EXPECT_TRUE(file_exists(w.temp_path()));
  std::string text;
  std::getline(std::ifstream(f.path()), text);
  EXPECT_EQ(text, "old contents");
  w.commit();
  EXPECT_FALSE(file_exists(w.temp_path()));
  EXPECT_EQ(read_dataset(f.path(), "O").values, v);
}

// --- check_input_file and read_dataset errors ----------------------------------------------------

Deck small_deck(const std::string& file) {
  Deck d;
  d.problem.batch = 1;
  d.problem.heads = 4;
  d.problem.kv_heads = 2;
  d.problem.seq_len = 10;
  d.problem.kv_len = 12;
  d.problem.head_dim = 16;
  d.input.source = InputSource::Hdf5;
  d.input.file = file;
  return d;
}

// Q (1, 4, 10, 16), K and V (1, 2, 12, 16), with the given dtype for Q.
void write_inputs(const std::string& path, FileDtype q_dtype = FileDtype::Float32) {
  const std::vector<float> q = random_values(4 * 10 * 16, 9), kv = random_values(2 * 12 * 16, 10);
  H5Writer w(world(), path);
  w.write_rows("Q", RowLayout{1, 4, 10, 16}, {0, 40}, q.data(), q_dtype);
  w.write_rows("K", RowLayout{1, 2, 12, 16}, {0, 24}, kv.data());
  w.write_rows("V", RowLayout{1, 2, 12, 16}, {0, 24}, kv.data(), FileDtype::Float16);
  w.commit();
}

TEST(Hdf5Io, CheckInputAcceptsFloat32AndFloat16) {
  TestFile f;
  write_inputs(f.path(), FileDtype::Float16);
  EXPECT_NO_THROW(check_input_file(small_deck(f.path()).input_spec()));
  Deck d = small_deck(f.path());
  d.problem.kv_len = 0;  // "default seq_len" when unresolved
  d.problem.seq_len = 12;
  expect_error([&] { check_input_file(d.input_spec()); }, ExitCode::BadInput,
               {"dataset 'Q' has shape (1, 4, 10, 16); expected (batch, heads, seq_len, head_dim) "
                "= (1, 4, 12, 16) from the deck"});
}

TEST(Hdf5Io, CheckInputMissingFile) {
  const std::string path = "hdf5io_does_not_exist_" + std::to_string(::getpid()) + ".h5";
  expect_error([&] { check_input_file(small_deck(path).input_spec()); }, ExitCode::BadInput,
               {"input file " + path + ": cannot open (No such file or directory)"});
  expect_error([&] { read_dataset(path, "O"); }, ExitCode::BadInput,
               {"file " + path + ": cannot open (No such file or directory)"});
}

TEST(Hdf5Io, CheckInputTextFile) {
  TestFile f;
  { std::ofstream(f.path()) << "seq_len = 3\n"; }
  expect_error([&] { check_input_file(small_deck(f.path()).input_spec()); }, ExitCode::BadInput,
               {"input file " + f.path() + ": not an HDF5 file"});
}

TEST(Hdf5Io, CheckInputMissingDatasetListsThePresentOnes) {
  TestFile f;
  write_inputs(f.path());
  Deck d = small_deck(f.path());
  d.input.k = "keys";
  expect_error([&] { check_input_file(d.input_spec()); }, ExitCode::BadInput,
               {"input file " + f.path() + ": dataset 'keys' not found (datasets present: 'K', 'Q', 'V')"});
  expect_error([&] { read_dataset(f.path(), "O"); }, ExitCode::BadInput,
               {"file " + f.path() + ": dataset 'O' not found (datasets present: 'K', 'Q', 'V')"});
}

TEST(Hdf5Io, CheckInputWrongShape) {
  TestFile f;
  write_inputs(f.path());
  Deck d = small_deck(f.path());
  d.problem.kv_heads = 1;
  expect_error([&] { check_input_file(d.input_spec()); }, ExitCode::BadInput,
               {"input file " + f.path() + ": dataset 'K' has shape (1, 2, 12, 16); expected "
                "(batch, kv_heads, kv_len, head_dim) = (1, 1, 12, 16) from the deck"});
  d = small_deck(f.path());
  d.problem.head_dim = 32;
  expect_error([&] { check_input_file(d.input_spec()); }, ExitCode::BadInput,
               {"dataset 'Q' has shape (1, 4, 10, 16); expected (batch, heads, seq_len, head_dim) = "
                "(1, 4, 10, 32) from the deck"});
}

TEST(Hdf5Io, CheckInputNamesTheLayoutItExpected) {
  // write_inputs holds bhld tensors: Q (1, 4, 10, 16), K and V (1, 2, 12, 16).
  TestFile f;
  write_inputs(f.path());
  Deck d = small_deck(f.path());
  d.input.layout = TensorLayout::Blhd;
  expect_error([&] { check_input_file(d.input_spec()); }, ExitCode::BadInput,
               {"dataset 'Q' has shape (1, 4, 10, 16); expected (batch, seq_len, heads, head_dim) "
                "= (1, 10, 4, 16) from the deck, as [input] layout = \"blhd\" orders it; that is "
                "the shape in [input] layout = \"bhld\", (batch, heads, seq_len, head_dim): set "
                "that key"});
  d = small_deck(f.path());
  d.problem.head_dim = 32;  // fits neither layout: the message says what the other one reads
  expect_error([&] { check_input_file(d.input_spec()); }, ExitCode::BadInput,
               {"as [input] layout = \"bhld\" orders it ([input] layout = \"blhd\" reads (batch, "
                "seq_len, heads, head_dim))"});

  TestFile g("blhd");
  {
    const std::vector<float> q = random_values(4 * 10 * 16, 9), kv = random_values(2 * 12 * 16, 10);
    H5Writer w(world(), g.path());
    w.write_rows("Q", RowLayout{1, 4, 10, 16, TensorLayout::Blhd}, {0, 40}, q.data());
    w.write_rows("K", RowLayout{1, 2, 12, 16, TensorLayout::Blhd}, {0, 24}, kv.data());
    w.write_rows("V", RowLayout{1, 2, 12, 16, TensorLayout::Blhd}, {0, 24}, kv.data());
    w.commit();
  }
  d = small_deck(g.path());
  expect_error([&] { check_input_file(d.input_spec()); }, ExitCode::BadInput,
               {"dataset 'Q' has shape (1, 10, 4, 16); expected (batch, heads, seq_len, head_dim) "
                "= (1, 4, 10, 16) from the deck, as [input] layout = \"bhld\" orders it; that is "
                "the shape in [input] layout = \"blhd\""});
  d.input.layout = TensorLayout::Blhd;
  EXPECT_NO_THROW(check_input_file(d.input_spec()));
  EXPECT_NO_THROW(check_input_file_isolated(d.input_spec()));
}

TEST(Hdf5Io, CheckInputWrongRank) {
  TestFile f;
  {
    RawFile raw(f.path(), true);
    write_raw(raw.id, "Q", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {4, 10, 16},
              std::vector<float>(640, 0.0f));
  }
  expect_error([&] { check_input_file(small_deck(f.path()).input_spec()); }, ExitCode::BadInput,
               {"dataset 'Q' has shape (4, 10, 16); expected (batch, heads, seq_len, head_dim) = "
                "(1, 4, 10, 16)"});
}

TEST(Hdf5Io, CheckInputRejectsInt32AcceptsFloat64) {
  TestFile f32("int"), f64("f64");
  {
    RawFile raw(f32.path(), true);
    write_raw(raw.id, "Q", H5T_STD_I32LE, H5T_NATIVE_INT32, {1, 4, 10, 16},
              std::vector<int32_t>(640, 1));
  }
  expect_error([&] { check_input_file(small_deck(f32.path()).input_spec()); }, ExitCode::BadInput,
               {"input file " + f32.path() + ": dataset 'Q' has dtype int32; expected float32, "
                "float16 or float64"});
  expect_error([&] { read_dataset(f32.path(), "Q"); }, ExitCode::BadInput,
               {"dataset 'Q' has dtype int32; expected a float type"});
  {
    RawFile raw(f64.path(), true);
    write_raw(raw.id, "Q", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {1, 4, 10, 16},
              std::vector<float>(640, 1.0f));
    write_raw(raw.id, "K", H5T_IEEE_F64BE, H5T_NATIVE_DOUBLE, {1, 2, 12, 16},
              std::vector<double>(384, 1.0));
    write_raw(raw.id, "V", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {1, 2, 12, 16},
              std::vector<double>(384, 2.0));
  }
  EXPECT_NO_THROW(check_input_file(small_deck(f64.path()).input_spec()));
  // read_dataset converts any float type.
  const DatasetData k = read_dataset(f64.path(), "K");
  EXPECT_EQ(k.dims, (std::vector<int64_t>{1, 2, 12, 16}));
  EXPECT_EQ(k.values, std::vector<float>(384, 1.0f));
}

TEST(Hdf5Io, CheckInputGroupInsteadOfDataset) {
  TestFile f;
  Deck d = small_deck(f.path());
  {
    const std::vector<float> v(4, 0.0f);
    H5Writer w(world(), f.path());
    w.write_rows("grp/x", RowLayout{1, 1, 1, 4}, {0, 1}, v.data());
    w.commit();
  }
  d.input.q = "grp";
  expect_error([&] { check_input_file(d.input_spec()); }, ExitCode::BadInput,
               {"'grp' is not a dataset (datasets present: 'grp/x')"});
}

// Found by fuzz_h5_input: a file whose local heap is corrupt makes HDF5 1.10 itself crash
// (h5dump -H crashes on it too). The isolated check reports it instead of crashing.
TEST(Hdf5Io, IsolatedCheckContainsACrashInsideHdf5) {
  const std::string crash = std::string(MINIATTN_SOURCE_DIR) +
                            "/tests/fuzz/h5_input/crash_local_heap_h5lexists";
  Deck d = small_deck(crash);
  expect_error([&] { check_input_file_isolated(d.input_spec()); }, ExitCode::BadInput,
               {"input file " + crash + ": the HDF5 library crashed (signal 11",
                "the file is corrupt or truncated"});
}

TEST(Hdf5Io, IsolatedCheckGivesTheSameErrorsAsTheCheck) {
  TestFile f;
  write_inputs(f.path());
  EXPECT_NO_THROW(check_input_file_isolated(small_deck(f.path()).input_spec()));
  Deck d = small_deck(f.path());
  d.problem.kv_heads = 1;
  expect_error([&] { check_input_file_isolated(d.input_spec()); }, ExitCode::BadInput,
               {"input file " + f.path() + ": dataset 'K' has shape (1, 2, 12, 16); expected "
                "(batch, kv_heads, kv_len, head_dim) = (1, 1, 12, 16) from the deck"});
  expect_error(
      [&] { check_input_file_isolated(small_deck("hdf5io_no_such_file.h5").input_spec()); },
      ExitCode::BadInput, {"input file hdf5io_no_such_file.h5: cannot open"});
}

TEST(Hdf5Io, IsolatedCheckReadsTheFirstAndLastRows) {
  // Names, types and shapes are right, but the last compressed chunk of 'V' is garbage: only
  // reading it shows, and the collective read would fail much later, after allocation.
  TestFile f;
  {
    RawFile raw(f.path(), true);
    const std::vector<float> q(4 * 10 * 16, 0.5f), kv(2 * 12 * 16, 0.25f);
    write_raw(raw.id, "Q", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {1, 4, 10, 16}, q);
    write_raw(raw.id, "K", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {1, 2, 12, 16}, kv);
    const hsize_t dims[4] = {1, 2, 12, 16}, chunk[4] = {1, 1, 12, 16};
    const hid_t space = H5Screate_simple(4, dims, nullptr);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 4, chunk);
    H5Pset_deflate(dcpl, 1);
    const hid_t v = H5Dcreate2(raw.id, "V", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ASSERT_GE(H5Dwrite(v, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, kv.data()), 0);
    H5Dclose(v);
    H5Pclose(dcpl);
    H5Sclose(space);
  }
  haddr_t addr = 0;
  hsize_t size = 0;
  {
    RawFile raw(f.path());
    const hid_t v = H5Dopen2(raw.id, "V", H5P_DEFAULT);
    const hsize_t last[4] = {0, 1, 0, 0};
    unsigned mask = 0;
    ASSERT_GE(H5Dget_chunk_info_by_coord(v, last, &mask, &addr, &size), 0);
    H5Dclose(v);
  }
  {
    std::fstream io(f.path(), std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(static_cast<std::streamoff>(addr));
    const std::string garbage(static_cast<std::size_t>(size), '\xff');
    io.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  EXPECT_NO_THROW(check_input_file(small_deck(f.path()).input_spec()));  // the structure is fine
  expect_error([&] { check_input_file_isolated(small_deck(f.path()).input_spec()); },
               ExitCode::BadInput,
               {"input file " + f.path() + ": dataset 'V': reading its last row failed: the "
                "file is corrupt or truncated"});
}

}  // namespace
}  // namespace miniattn
