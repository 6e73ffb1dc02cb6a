// GoogleTest main of the kernel tests when the kokkos backend is built: Kokkos initialised (its
// start-up warnings off: test discovery parses this program's output), the backend handed to
// the registry as the app does.
#include <gtest/gtest.h>

#include <Kokkos_Core.hpp>

#include <vector>

#include "kernels/kokkos/kokkos_backend.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::vector<char*> args(argv, argv + argc);
  static char kQuiet[] = "--kokkos-disable-warnings";
  args.push_back(kQuiet);
  int nargs = static_cast<int>(args.size());
  args.push_back(nullptr);
  Kokkos::ScopeGuard kokkos(nargs, args.data());
  miniattn::register_kokkos_backend();
  return RUN_ALL_TESTS();
}
