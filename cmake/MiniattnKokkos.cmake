# Debian's Trilinos Kokkos (3.4.1) exports Kokkos::kokkos with a missing include directory
# (/usr/lib/include); its headers live in Kokkos_INCLUDE_DIRS (/usr/include/trilinos). Points
# the target at the directories that hold Kokkos_Core.hpp; a no-op for a sound Kokkos (4.x).
# Used by this project and by the installed miniattnConfig.cmake. Call after find_package(Kokkos).
function(miniattn_fix_kokkos_includes)
  get_target_property(_kk_inc Kokkos::kokkos INTERFACE_INCLUDE_DIRECTORIES)
  set(_kk_fixed "")
  foreach(_dir IN LISTS _kk_inc Kokkos_INCLUDE_DIRS)
    if(_dir AND EXISTS "${_dir}/Kokkos_Core.hpp")
      get_filename_component(_dir "${_dir}" REALPATH)
      list(APPEND _kk_fixed "${_dir}")
    endif()
  endforeach()
  if(NOT _kk_fixed)
    message(FATAL_ERROR "Kokkos found, but no Kokkos_Core.hpp in ${_kk_inc};${Kokkos_INCLUDE_DIRS}")
  endif()
  list(REMOVE_DUPLICATES _kk_fixed)
  set_target_properties(Kokkos::kokkos PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_kk_fixed}")
  set(MINIATTN_KOKKOS_INCLUDES "${_kk_fixed}" PARENT_SCOPE)
endfunction()
