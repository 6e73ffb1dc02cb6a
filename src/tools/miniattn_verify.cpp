// miniattn-verify OUT.h5 REF.h5 [--dataset O] [--max-rel-l2 X] [--min-cosine Y]
// Compares one dataset of two files. Exit 0 within tolerance, 1 outside, 2 on bad input.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "miniattn/error.hpp"
#include "miniattn/hdf5_io.hpp"
#include "miniattn/verify.hpp"

namespace {

// A tolerance: a number in [lo, hi], and "not a number" in words when it is not one.
CLI::Validator number_in(double lo, double hi, const std::string& range) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0') return "'" + text + "' is not a number";
        if (!(v >= lo && v <= hi)) return text + " is out of range: expected " + range;
        return "";
      },
      "NUMBER " + range);
}

std::string shape(const std::vector<int64_t>& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + ")";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace miniattn;
  CLI::App app{"miniattn-verify: compare a dataset of an output file with a reference file",
               "miniattn-verify"};
  std::string out_path, ref_path, dataset = "O";
  double max_rel_l2 = 0.03, min_cosine = 0.9999;
  double max_abs = -1.0;
  app.add_option("OUT", out_path, "Output file to check")->required();
  app.add_option("REF", ref_path, "Reference file")->required();
  app.add_option("--dataset", dataset, "Dataset to compare (e.g. O or LSE)")->capture_default_str();
  const double inf = std::numeric_limits<double>::infinity();
  app.add_option("--max-rel-l2", max_rel_l2, "Largest relative L2 error allowed")
      ->capture_default_str()
      ->check(number_in(0.0, inf, ">= 0"));
  app.add_option("--min-cosine", min_cosine, "Smallest cosine similarity allowed")
      ->capture_default_str()
      ->check(number_in(-1.0, 1.0, "in [-1, 1]"));
  app.add_option("--max-abs", max_abs, "Largest absolute error allowed (default: not checked)")
      ->check(number_in(0.0, inf, ">= 0"));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    fmt::print(stderr, "miniattn-verify: error: {}\nRun with --help for more information.\n",
               e.what());
    return 2;
  }

  try {
    const DatasetData out = read_dataset(out_path, dataset);
    const DatasetData ref = read_dataset(ref_path, dataset);
    if (out.dims != ref.dims)
      throw Error(fmt::format("dataset '{}' has shape {} in {} but {} in {}", dataset,
                              shape(out.dims), out_path, shape(ref.dims), ref_path));
    // Equal values count as exact (this includes the -inf LSE of rows that see no key);
    // any other non-finite value on either side fails.
    ErrorAccum acc;
    int64_t mismatched_nonfinite = 0;
    for (std::size_t i = 0; i < out.values.size(); ++i) {
      const float o = out.values[i], r = ref.values[i];
      if (!std::isfinite(o) || !std::isfinite(r)) {
        if (!(o == r)) ++mismatched_nonfinite;
        continue;
      }
      acc.add(&o, &r, 1, 0);
    }
    acc.nonfinite += mismatched_nonfinite;
    // Rows: the last axis is the head dimension of a 4-D dataset (O); otherwise one per value.
    const int64_t per_row = out.dims.size() == 4 ? std::max<int64_t>(1, out.dims.back()) : 1;
    acc.rows = static_cast<int64_t>(out.values.size()) / per_row;
    ErrorStats s = acc.finish(max_rel_l2, min_cosine);
    // Two empty datasets of the same shape are equal (finish() fails a check of no rows).
    if (out.values.empty()) s.passed = true;
    if (max_abs >= 0.0 && !(s.max_abs <= max_abs)) s.passed = false;
    fmt::print("miniattn-verify: {} vs {}, dataset '{}' {}: max_abs {:.3e} rel_l1 {:.3e} rel_l2 "
               "{:.3e} cosine {:.7f}, {} non-finite mismatches -> {} (max_rel_l2 {:g}, "
               "min_cosine {:g}{})\n",
               out_path, ref_path, dataset, shape(out.dims), s.max_abs, s.rel_l1, s.rel_l2,
               s.cosine, s.nonfinite, s.passed ? "PASS" : "FAIL", max_rel_l2, min_cosine,
               max_abs >= 0.0 ? fmt::format(", max_abs {:g}", max_abs) : "");
    return s.passed ? 0 : 1;
  } catch (const Error& e) {
    fmt::print(stderr, "miniattn-verify: error: {}\n", e.what());
    return 2;
  }
}
