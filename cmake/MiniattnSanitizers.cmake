# Sanitizer and fuzzing builds: the debug-asan preset, scripts/ci/asan.sh and scripts/ci/fuzz.sh.
# The flags go on miniattn_options (every project target), never on CMAKE_CXX_FLAGS.
set(MINIATTN_SANITIZE "" CACHE STRING
    "Sanitizers for every project target, e.g. address,undefined (clang or gcc)")
option(MINIATTN_BUILD_FUZZERS "Build the libFuzzer targets of tests/fuzz (clang)" OFF)

if(MINIATTN_SANITIZE)
  # Any report ends the process with an error, so tests fail rather than print and pass.
  target_compile_options(miniattn_options INTERFACE
    -fsanitize=${MINIATTN_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(miniattn_options INTERFACE -fsanitize=${MINIATTN_SANITIZE})
  if(MINIATTN_SANITIZE MATCHES "address")
    target_sources(miniattn_options INTERFACE ${PROJECT_SOURCE_DIR}/src/platform/sanitizer_defaults.cpp)
  endif()
  message(STATUS "Sanitizers: ${MINIATTN_SANITIZE}")
endif()

if(MINIATTN_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "MINIATTN_BUILD_FUZZERS needs clang (libFuzzer); use the debug-asan preset")
  endif()
  if(NOT MINIATTN_BUILD_APP OR NOT MINIATTN_ENABLE_HDF5 OR NOT MINIATTN_BUILD_TESTS)
    message(FATAL_ERROR "MINIATTN_BUILD_FUZZERS needs the app, HDF5 and the tests")
  endif()
  # Coverage feedback from every project source the fuzz targets reach; libFuzzer's main is
  # linked into the fuzz targets only (tests/fuzz/CMakeLists.txt).
  target_compile_options(miniattn_options INTERFACE -fsanitize=fuzzer-no-link)
endif()

# Executables that call MPI_Init: no leak checking under ASan (see the source for why). Applied
# once every directory has defined its targets.
function(_miniattn_sanitizer_mpi_targets)
  if(NOT MINIATTN_SANITIZE MATCHES "address")
    return()
  endif()
  foreach(_t miniattn miniattn-gen miniattn-verify miniattn_io_tests miniattn_comm_tests fuzz_h5_input)
    if(TARGET ${_t})
      target_sources(${_t} PRIVATE ${PROJECT_SOURCE_DIR}/src/platform/sanitizer_mpi_defaults.cpp)
    endif()
  endforeach()
endfunction()
cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL _miniattn_sanitizer_mpi_targets)
