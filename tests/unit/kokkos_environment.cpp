// Kokkos for the app-level unit tests: the executors' and the driver's data are Kokkos Views,
// and their work is Kokkos kernels. Started before the first test, finalised after the last.
#include <gtest/gtest.h>

#include "miniattn/kokkos_host.hpp"

namespace {

class KokkosEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!Kokkos::is_initialized()) {
      Kokkos::initialize();
      owner_ = true;
    }
  }
  void TearDown() override {
    if (owner_) Kokkos::finalize();
  }

 private:
  bool owner_ = false;
};

const ::testing::Environment* const kKokkos = ::testing::AddGlobalTestEnvironment(new KokkosEnvironment);

}  // namespace
