# --- Every phase is a Kokkos Tools profiling region (docs/kokkos-tools.md) ------------------
# A tiny tool library records the regions of a real run, loaded the way users load
# space-time-stack or kernel-timer; the check counts each phase region per rank.
if(MINIATTN_ENABLE_KOKKOS)
  add_library(miniattn_region_recorder MODULE ${PROJECT_SOURCE_DIR}/tests/kokkos_tools/region_recorder.cpp)
  set(_log ${CMAKE_CURRENT_BINARY_DIR}/kokkos_regions.log)
  miniattn_add_mpi_test(mpi_kokkos_tools_clean FIXTURE kokkos_clean
    COMMAND ${CMAKE_COMMAND} -E rm -f ${_log}.0 ${_log}.1)
  miniattn_add_mpi_test(mpi_kokkos_tools_run_np2 NP 2 THREADS 1 FIXTURE kokkos_regions
    REQUIRES kokkos_clean
    COMMAND $<TARGET_FILE:miniattn> ${_decks}/faults.toml --set output.file=\"kokkos_regions.h5\")
  set_property(TEST mpi_kokkos_tools_run_np2 APPEND PROPERTY ENVIRONMENT
    "KOKKOS_TOOLS_LIBS=$<TARGET_FILE:miniattn_region_recorder>"
    "KOKKOS_PROFILE_LIBRARY=$<TARGET_FILE:miniattn_region_recorder>"
    "MINIATTN_REGION_LOG=${_log}")
  # decks/faults.toml: warmup 1 + repeat 2 = 3 attention runs.
  miniattn_add_mpi_test(mpi_kokkos_tools_regions REQUIRES kokkos_regions
    COMMAND ${MINIATTN_PYTHON} ${PROJECT_SOURCE_DIR}/tests/kokkos_tools/check_regions.py ${_log} 2 3)
endif()
