#!/usr/bin/env bash
# Builds miniattn with the Fujitsu compiler, clang mode (default) or trad mode. See docs/a64fx.md.
#   scripts/fugaku/build_fcc.sh [clang|trad] [BUILD_DIR] [extra CMake arguments]
# On a compute node (aarch64) it uses FCC / mpiFCC; on a login node (x86-64) the cross
# compilers FCCpx / mpiFCCpx, as a cross build (tests then run on compute nodes only).
# Flags follow Fujitsu's documentation as the project reads it; not run by the project (no
# A64FX access). Clang mode is the recommended one: it takes the project's C++17 and the ACLE
# SVE intrinsics as GCC and Clang do. Trad mode is untested with C++17 code.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-clang}
build=${2:-build-a64fx-fcc-$mode}
shift 2 || shift $# || true

if [ "$(uname -m)" = aarch64 ]; then
  cxx=FCC cc=fcc mpicxx=mpiFCC cross=()
else
  cxx=FCCpx cc=fccpx mpicxx=mpiFCCpx
  cross=(-DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64)
fi

case $mode in
  clang)  # LLVM front end: GCC-style flags
    mode_flags="-Nclang"
    sve_flags="-mcpu=a64fx+sve"
    ;;
  trad)   # Fujitsu's own front end: -K options
    mode_flags="-Nnoclang"
    sve_flags="-Kfast,A64FX,SVE"
    ;;
  *) echo "usage: $0 [clang|trad] [BUILD_DIR] [cmake args]" >&2; exit 2 ;;
esac

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release "${cross[@]}" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_C_FLAGS="$mode_flags" -DCMAKE_CXX_FLAGS="$mode_flags" \
  -DMPI_CXX_COMPILER="$mpicxx" \
  -DMINIATTN_ENABLE_SVE=ON -DMINIATTN_SVE_FLAGS="$sve_flags" -DMINIATTN_SVE_BF16_FLAGS="" "$@"
cmake --build "$build" -j"$(nproc)"
echo "built $build"
