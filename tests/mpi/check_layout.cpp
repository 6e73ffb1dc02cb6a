// Checks an output file against DESIGN.md's layout with the HDF5 C API alone (no project
// code): datasets, shapes, types, root attributes, /timing and /verification.
// usage: check_layout OUT.h5 B H LQ LK D CAUSAL RANKS
#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAIL: %s\n", what.c_str());
    ++failures;
  }
}

std::vector<hsize_t> dims_of(hid_t ds) {
  const hid_t sp = H5Dget_space(ds);
  std::vector<hsize_t> d(static_cast<std::size_t>(H5Sget_simple_extent_ndims(sp)));
  H5Sget_simple_extent_dims(sp, d.data(), nullptr);
  H5Sclose(sp);
  return d;
}

bool is_float(hid_t obj_type, std::size_t size) {
  return H5Tget_class(obj_type) == H5T_FLOAT && H5Tget_size(obj_type) == size;
}

void check_dataset(hid_t f, const char* name, const std::vector<hsize_t>& dims, std::size_t size) {
  if (H5Lexists(f, name, H5P_DEFAULT) <= 0) {
    check(false, std::string("dataset ") + name + " exists");
    return;
  }
  const hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
  const hid_t t = H5Dget_type(ds);
  check(is_float(t, size), std::string(name) + " is a float of " + std::to_string(size) + " bytes");
  check(dims_of(ds) == dims, std::string(name) + " has the expected shape");
  H5Tclose(t);
  H5Dclose(ds);
}

std::string string_attr(hid_t obj, const char* name) {
  if (H5Aexists(obj, name) <= 0) return "<missing>";
  const hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  const hid_t t = H5Aget_type(a);
  std::string out = "<not a string>";
  if (H5Tget_class(t) == H5T_STRING) {
    const hid_t mt = H5Tget_native_type(t, H5T_DIR_ASCEND);
    if (H5Tis_variable_str(t) > 0) {
      char* s = nullptr;
      H5Aread(a, mt, &s);
      out = s ? s : "";
      const hid_t sp = H5Aget_space(a);
      H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, &s);
      H5Sclose(sp);
    } else {
      std::vector<char> buf(H5Tget_size(t) + 1, '\0');
      H5Aread(a, mt, buf.data());
      out = buf.data();
    }
    H5Tclose(mt);
  }
  H5Tclose(t);
  H5Aclose(a);
  return out;
}

double number_attr(hid_t obj, const char* name) {
  if (H5Aexists(obj, name) <= 0) return std::nan("");
  const hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  double v = std::nan("");
  H5Aread(a, H5T_NATIVE_DOUBLE, &v);
  H5Aclose(a);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 9) {
    std::fprintf(stderr, "usage: %s OUT.h5 B H LQ LK D CAUSAL RANKS\n", argv[0]);
    return 2;
  }
  const hsize_t b = std::strtoull(argv[2], nullptr, 10), h = std::strtoull(argv[3], nullptr, 10);
  const hsize_t lq = std::strtoull(argv[4], nullptr, 10), lk = std::strtoull(argv[5], nullptr, 10);
  const hsize_t d = std::strtoull(argv[6], nullptr, 10);
  const bool causal = std::atoi(argv[7]) != 0;
  const hsize_t ranks = std::strtoull(argv[8], nullptr, 10);

  const hid_t f = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) {
    std::fprintf(stderr, "FAIL: cannot open %s\n", argv[1]);
    return 1;
  }
  check_dataset(f, "/O", {b, h, lq, d}, 4);
  check_dataset(f, "/LSE", {b, h, lq}, 4);
  check_dataset(f, "/timing/seconds", {ranks, 10}, 8);

  // O finite everywhere; LSE = -inf exactly on the rows that see no key.
  {
    std::vector<float> o(b * h * lq * d), lse(b * h * lq);
    const hid_t od = H5Dopen2(f, "/O", H5P_DEFAULT), ld = H5Dopen2(f, "/LSE", H5P_DEFAULT);
    H5Dread(od, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, o.data());
    H5Dread(ld, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, lse.data());
    H5Dclose(od);
    H5Dclose(ld);
    bool finite = true, lse_ok = true;
    for (float x : o) finite = finite && std::isfinite(x);
    for (hsize_t i = 0; i < lse.size(); ++i) {
      const hsize_t row = i % lq;
      const bool empty = causal && row + lk < lq;  // row + lk - lq + 1 <= 0
      lse_ok = lse_ok && (empty ? (std::isinf(lse[i]) && lse[i] < 0) : std::isfinite(lse[i]));
    }
    check(finite, "O is finite");
    check(lse_ok, "LSE is -inf exactly on rows that see no key, finite elsewhere");
  }

  for (const char* name : {"deck", "version", "backend", "variant", "pv_precision", "exp2"}) {
    const std::string v = string_attr(f, name);
    check(!v.empty() && v[0] != '<', std::string("root attribute ") + name + " is a string: " + v);
  }
  check(string_attr(f, "deck").find("[problem]") != std::string::npos, "deck holds the TOML deck");
  check(number_attr(f, "ranks") == static_cast<double>(ranks), "attribute ranks");
  check(number_attr(f, "threads_per_rank") >= 1, "attribute threads_per_rank");

  {
    const hid_t ds = H5Dopen2(f, "/timing/seconds", H5P_DEFAULT);
    check(string_attr(ds, "units") == "s", "timing units = s");
    const hid_t a = H5Aopen(ds, "phases", H5P_DEFAULT);
    const hid_t sp = H5Aget_space(a);
    check(H5Sget_simple_extent_npoints(sp) == 10, "10 phase names");
    H5Sclose(sp);
    H5Aclose(a);
    std::vector<double> t(ranks * 10);
    H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data());
    for (hsize_t r = 0; r < ranks; ++r) check(t[r * 10 + 9] > 0.0, "total > 0 on every rank");
    H5Dclose(ds);
  }
  {
    const hid_t g = H5Gopen2(f, "/verification", H5P_DEFAULT);
    check(g >= 0, "group /verification");
    if (g >= 0) {
      for (const char* name : {"max_abs", "rel_l1", "rel_l2", "cosine", "rows_checked", "passed",
                               "lse_max_abs", "lse_rows_checked", "max_lse_abs"})
        check(!std::isnan(number_attr(g, name)), std::string("/verification ") + name);
      check(number_attr(g, "passed") == 1.0, "/verification passed = 1");
      check(number_attr(g, "rows_checked") == static_cast<double>(b * h * lq), "all rows checked");
      check(number_attr(g, "lse_rows_checked") == static_cast<double>(b * h * lq), "all LSE rows checked");
      check(number_attr(g, "lse_max_abs") <= number_attr(g, "max_lse_abs"), "LSE within its bound");
      H5Gclose(g);
    }
  }
  H5Fclose(f);
  if (failures == 0) std::printf("layout OK: %s\n", argv[1]);
  return failures == 0 ? 0 : 1;
}
