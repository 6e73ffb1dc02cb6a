#!/usr/bin/env bash
# A Kokkos with a threaded host space (OpenMP + Serial) for miniattn, built from the sources
# Debian packages (Kokkos 3.4.1 inside the `trilinos` source package: Debian's binary
# libtrilinos-kokkos-dev has the Serial space only). Idempotent: does nothing when the prefix
# already holds it. Called by scripts/setup_debian.sh; needs root (apt) the first time.
#
#   scripts/setup_kokkos.sh [PREFIX]        default PREFIX: .deps/kokkos in the repository
#   CXX=clang++ scripts/setup_kokkos.sh P   the same Kokkos built by another compiler
#
# A user's own Kokkos (Spack, modules, Kokkos 4.x) needs none of this: ./scripts/build.sh
# -DKokkos_ROOT=/path/to/kokkos.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
prefix=${1:-$root/.deps/kokkos}
work=$root/.deps/src
stamp=$prefix/.miniattn-kokkos

if [ -f "$stamp" ]; then
  echo "setup_kokkos: $(cat "$stamp") in $prefix"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Debian's source entries: the machine's own bookworm entry (not -security) with Types: deb-src,
# written once; no host name of ours, whatever mirror the machine uses.
src_list=/etc/apt/sources.list.d/miniattn-deb-src.sources
mkdir -p "$work"
tarball=$(ls "$work"/trilinos_*.orig.tar.* 2>/dev/null | head -1 || true)
if [ -z "$tarball" ]; then
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
    entry=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      # deb822: the stanza of the release itself (not security), Types replaced.
      entry=$(awk 'BEGIN { RS = ""; ORS = "\n\n" }
                   /(^|\n)Types:[^\n]*deb/ && /(^|\n)Suites:[^\n]*bookworm/ && !/security/ {
                     sub(/Types:[^\n]*/, "Types: deb-src"); print; exit }' \
              /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -n "$entry" ]; then
      printf '%s\n' "$entry" | $SUDO tee "$src_list" >/dev/null
    elif [ -f /etc/apt/sources.list ] && grep -q '^deb .*bookworm' /etc/apt/sources.list; then
      grep '^deb .*bookworm' /etc/apt/sources.list | grep -v security | head -1 |
        sed 's/^deb /deb-src /' | $SUDO tee /etc/apt/sources.list.d/miniattn-deb-src.list >/dev/null
    else
      echo "setup_kokkos: no Debian bookworm entry found in /etc/apt to derive a deb-src entry from" >&2
      exit 1
    fi
    $SUDO apt-get update -qq
  fi
  # apt-get source writes into the current directory; _apt cannot read root's folders, hence -q
  # and the warning it prints about an unsandboxed download is harmless.
  (cd "$work" && apt-get source --download-only -qq trilinos 2>&1 | grep -v 'unsandboxed' || true)
  tarball=$(ls "$work"/trilinos_*.orig.tar.* 2>/dev/null | head -1 || true)
  [ -n "$tarball" ] || { echo "setup_kokkos: apt-get source trilinos downloaded nothing" >&2; exit 1; }
fi

# Only Kokkos (12 MB of the 166 MB archive).
if [ -z "$(ls -d "$work"/Trilinos-*/packages/kokkos 2>/dev/null | head -1)" ]; then
  tar -xf "$tarball" -C "$work" --wildcards '*/packages/kokkos/*'
fi
kokkos_src=$(ls -d "$work"/Trilinos-*/packages/kokkos | head -1)

jobs=$(nproc 2>/dev/null || echo 2)
build=$work/build-kokkos-$(basename "$prefix")
cmake -S "$kokkos_src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_STANDARD=17 \
  ${CXX:+-DCMAKE_CXX_COMPILER=$CXX} -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DKokkos_ENABLE_OPENMP=ON -DKokkos_ENABLE_SERIAL=ON -DBUILD_TESTING=OFF >"$work/kokkos-configure.log"
cmake --build "$build" -j"$jobs" >"$work/kokkos-build.log"
cmake --install "$build" >"$work/kokkos-install.log"
version=$(sed -n 's/.*PACKAGE_VERSION "\([0-9.]*\)".*/\1/p' "$prefix"/lib*/cmake/Kokkos/KokkosConfigVersion.cmake | head -1)
echo "Kokkos ${version:-3.4.1} (OPENMP;SERIAL) from Debian's trilinos sources, ${CXX:-c++}" >"$stamp"
echo "setup_kokkos: $(cat "$stamp") installed in $prefix"
