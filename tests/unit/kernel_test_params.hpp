// The fixture of the shared kernel test bodies (test_kernels.cpp). A backend's test file is one
// line: INSTANTIATE_TEST_SUITE_P(Name, BackendKernel, ::testing::Values(BackendParam{...})).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "kernel_harness.hpp"

namespace miniattn::test {

struct BackendParam {
  std::string name;
  // Extra tile shapes to try besides the backend's default (used where check() accepts them).
  std::vector<TileShape> odd_tiles;
  // Variants the backend does not offer: its check() must refuse them, naming the variant, and
  // the shared bodies leave them out. Empty for a backend that runs every variant.
  std::vector<Variant> rejected_variants = {};
};

inline std::ostream& operator<<(std::ostream& os, const BackendParam& p) { return os << p.name; }

class BackendKernel : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override;
  std::vector<TileShape> tiles(const ProblemShape& s, PvPrecision pv) const;
  bool offers(Variant v) const;
  Problem problem(const ProblemShape& s, Variant v, PvPrecision pv, Exp2Kind e, QkScales qs,
                  bool smooth, TileShape t, Distribution dist = Distribution::Normal) const;

  std::unique_ptr<Backend> be_;
  std::unique_ptr<Backend> portable_;
};

}  // namespace miniattn::test
