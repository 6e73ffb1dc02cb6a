# Writes build_info.hpp at build time (cmake -P), so the git hash in every output is that of
# the sources actually built. configure_file rewrites the header only when it changes.
# Inputs: SOURCE_DIR, IN, OUT, and the PROJECT_VERSION / compiler / build facts it substitutes.
set(MINIATTN_GIT_HASH "unknown")
find_package(Git QUIET)
if(GIT_FOUND AND EXISTS "${SOURCE_DIR}/.git")
  execute_process(COMMAND ${GIT_EXECUTABLE} describe --always --dirty --abbrev=12
    WORKING_DIRECTORY ${SOURCE_DIR} OUTPUT_VARIABLE _hash OUTPUT_STRIP_TRAILING_WHITESPACE
    ERROR_QUIET RESULT_VARIABLE _rc)
  if(_rc EQUAL 0 AND _hash)
    set(MINIATTN_GIT_HASH "${_hash}")
  endif()
endif()
configure_file(${IN} ${OUT} @ONLY)
