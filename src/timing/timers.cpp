#include "miniattn/timers.hpp"

#include <string>

#if MINIATTN_HAVE_KOKKOS
#include <Kokkos_Core.hpp>
#endif

namespace miniattn {

void use_kokkos_regions() {
#if MINIATTN_HAVE_KOKKOS
  set_region_hooks(
      [](std::string_view name) { Kokkos::Profiling::pushRegion("miniattn::" + std::string(name)); },
      [] { Kokkos::Profiling::popRegion(); });
#endif
}

}  // namespace miniattn
