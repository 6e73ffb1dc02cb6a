# Cross build for aarch64 Linux with Debian's GNU cross compiler (g++-aarch64-linux-gnu), e.g.
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=scripts/toolchains/aarch64-linux-gnu.cmake \
#         -DMINIATTN_BUILD_APP=OFF
# The app's dependencies (MPI, HDF5, Kokkos, toml++) are not installed for aarch64, so such a
# build is the kernel library, its tests and miniattn-bench; the sve backend is on by default.
# Binaries run under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR, used by CTest), with QEMU_CPU
# choosing the CPU: a64fx (512-bit SVE), a64fx,sve-default-vector-length=32 (256-bit), max.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(MINIATTN_CROSS_PREFIX "aarch64-linux-gnu" CACHE STRING "Prefix of the cross tools")
set(MINIATTN_CROSS_SYSROOT "/usr/aarch64-linux-gnu" CACHE PATH "Target libraries and headers")
set(CMAKE_C_COMPILER ${MINIATTN_CROSS_PREFIX}-gcc)
set(CMAKE_CXX_COMPILER ${MINIATTN_CROSS_PREFIX}-g++)

# Libraries, headers and packages from the target tree only; programs from the host.
set(CMAKE_FIND_ROOT_PATH ${MINIATTN_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(MINIATTN_QEMU_AARCH64 qemu-aarch64)
if(MINIATTN_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${MINIATTN_QEMU_AARCH64} -L ${MINIATTN_CROSS_SYSROOT})
endif()
