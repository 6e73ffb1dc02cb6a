#!/usr/bin/env bash
# Installs what miniattn needs on a fresh Debian bookworm machine (idempotent: installs only
# what is missing), then the Python venv .venv/ of scripts/setup_python.sh. Run as root or with
# sudo available.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake git pkg-config
  # MPI, parallel HDF5 (and h5dump/h5diff); Kokkos is built by setup_kokkos.sh (below) from
  # Debian's trilinos sources, whose packaged binary (libtrilinos-kokkos-dev) is Serial only
  libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
  # parsers and formatting
  libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libfmt-dev
  # tests
  googletest libgtest-dev libbenchmark-dev
  # sve backend: aarch64 cross compiler and user-mode emulation (QEMU_CPU=a64fx) for its tests
  g++-aarch64-linux-gnu qemu-user
  # sanitizer and fuzzing builds (scripts/ci/asan.sh, fuzz.sh): clang, its sanitizer and
  # libFuzzer runtimes, LLVM's OpenMP, llvm-symbolizer for readable reports
  clang libclang-rt-14-dev libomp-dev llvm-14
  # scripts/netlab.sh, the emulated multi-host network: ip and tc, ping for its --probe
  iproute2 iputils-ping
  # Python for the test drivers and scripts/ (always /usr/bin/python3)
  python3 python3-numpy python3-h5py python3-matplotlib
  # the venv of scripts/setup_python.sh (scripts/capture_qkv.py and its tests)
  python3-venv python3-pip
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup_debian: all ${#packages[@]} packages present"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup_debian: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Kokkos with OpenMP threads (Debian packages its source only): .deps/kokkos.
"$(dirname "$0")/setup_kokkos.sh"

# The Python venv of the model-data scripts and tests: .venv.
"$(dirname "$0")/setup_python.sh"
