# cmake --install: the binaries, the public headers and the CMake package, so that another
# project can find_package(miniattn) (docs/install.md; tests/package is such a project):
#   miniattn::core  the kernels of every backend built in, their registry, the decomposition,
#                   synthetic data and error statistics: C++17, no threads, MPI, HDF5 or Kokkos.
#                   Component "core", always installed.
#   miniattn::app   the deck, MPI collectives, HDF5 I/O, the driver and the report, over
#                   miniattn::exec (the CPU executor on Kokkos). Component "app", installed when
#                   MINIATTN_BUILD_APP is on.
#   miniattn::kokkos the kokkos backend (needs Kokkos), which the app links; component "app".
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
set(MINIATTN_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/miniattn" CACHE STRING
    "Where cmake --install puts miniattnConfig.cmake (relative to the prefix)")

# Headers: include/miniattn/ is the interface; the kernel internals a caller needs to feed the
# kernels (quantisation, exp2, tile helpers, the float64 reference rows) go under
# miniattn/internal/, reachable with the same include paths as inside the project.
set(_internal ${CMAKE_INSTALL_INCLUDEDIR}/miniattn/internal)
set_target_properties(miniattn_core PROPERTIES EXPORT_NAME core)
target_include_directories(miniattn_core PUBLIC
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}> $<INSTALL_INTERFACE:${_internal}>)
target_compile_features(miniattn_core PUBLIC cxx_std_17)
install(DIRECTORY include/miniattn/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/miniattn
        COMPONENT core FILES_MATCHING PATTERN "*.hpp")
install(FILES src/kernels/common/exp2.hpp src/kernels/common/quantize.hpp
              src/kernels/common/tile_math.hpp
        DESTINATION ${_internal}/kernels/common COMPONENT core)
install(FILES src/kernels/reference/reference_backend.hpp
        DESTINATION ${_internal}/kernels/reference COMPONENT core)

install(TARGETS miniattn_core EXPORT miniattnCoreTargets COMPONENT core
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
foreach(_tool miniattn-bench miniattn-cuda-check miniattn-bench-cuda)
  if(TARGET ${_tool})
    install(TARGETS ${_tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT core)
  endif()
endforeach()
install(EXPORT miniattnCoreTargets NAMESPACE miniattn:: DESTINATION ${MINIATTN_INSTALL_CMAKEDIR}
        COMPONENT core)

set(MINIATTN_INSTALLED_APP OFF)
if(TARGET miniattn_app)
  set(MINIATTN_INSTALLED_APP ON)
  set_target_properties(miniattn_app PROPERTIES EXPORT_NAME app)
  set_target_properties(miniattn_exec PROPERTIES EXPORT_NAME exec)
  install(TARGETS miniattn_app miniattn_exec EXPORT miniattnAppTargets COMPONENT app
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  if(TARGET miniattn_kokkos)  # the kokkos backend, which the app links (needs Kokkos)
    set_target_properties(miniattn_kokkos PROPERTIES EXPORT_NAME kokkos)
    install(TARGETS miniattn_kokkos EXPORT miniattnAppTargets COMPONENT app
            ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
    install(FILES src/kernels/kokkos/kokkos_backend.hpp DESTINATION ${_internal}/kernels/kokkos COMPONENT app)
  endif()
  install(TARGETS miniattn RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT app)
  foreach(_tool miniattn-gen miniattn-verify)
    if(TARGET ${_tool})
      install(TARGETS ${_tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT app)
    endif()
  endforeach()
  install(EXPORT miniattnAppTargets NAMESPACE miniattn:: DESTINATION ${MINIATTN_INSTALL_CMAKEDIR}
          COMPONENT app)
endif()

configure_package_config_file(cmake/miniattnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/miniattnConfig.cmake INSTALL_DESTINATION ${MINIATTN_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/miniattnConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/miniattnConfig.cmake
              ${PROJECT_BINARY_DIR}/miniattnConfigVersion.cmake cmake/MiniattnKokkos.cmake
        DESTINATION ${MINIATTN_INSTALL_CMAKEDIR} COMPONENT core)
