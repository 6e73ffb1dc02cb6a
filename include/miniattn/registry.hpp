// The backends this binary knows, and the one place that picks one by name or by score.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "miniattn/kernel.hpp"

namespace miniattn {

struct BackendInfo {
  std::string name;
  bool compiled = false;   // built into this binary
  bool supported = false;  // and this machine can run it
  int priority = 0;        // "auto" picks the compiled, supported backend with the highest
  std::string detail;      // instructions it uses, or why it cannot run here
  std::string enable;      // the CMake option that builds it
};

// Every backend the project has, compiled in or not, in priority order.
std::vector<BackendInfo> backend_infos();

// A backend built outside miniattn_core, which links no Kokkos (its kernels, their tests and
// miniattn-bench build with a C++17 compiler alone). The kokkos backend is the library
// miniattn_kokkos (MINIATTN_ENABLE_KOKKOS, app builds); the programs linked with it (the app, the
// kernel tests) hand it over once Kokkos is initialised, with register_kokkos_backend()
// (kernels/kokkos/kokkos_backend.hpp). In any other program `kokkos` lists as not built.
struct ExternalBackend {
  std::unique_ptr<Backend> (*make)() = nullptr;
  std::string (*unsupported)() = nullptr;  // empty if this machine can run it
  int priority = 0;
  std::string detail;
};
void set_kokkos_backend(const ExternalBackend& b);

// "auto" or a backend name. Throws miniattn::Error naming the CMake option to turn on when the
// backend was not compiled in, or the missing CPU feature when this machine cannot run it.
std::unique_ptr<Backend> create_backend(std::string_view name);

// The name "auto" resolves to on this machine.
std::string auto_backend_name();

}  // namespace miniattn
