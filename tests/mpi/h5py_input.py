#!/usr/bin/python3
"""Writes Q, K, V the way a PyTorch user would (h5py, row-major (B, H, L, D)), in float32,
float16 or float64 (numpy's default), for the interop test:
usage h5py_input.py OUT.h5 float32|float16|float64 B H HKV LQ LK D."""
import sys

import h5py
import numpy as np


def main():
    out, dtype = sys.argv[1], sys.argv[2]
    b, h, hkv, lq, lk, d = (int(x) for x in sys.argv[3:9])
    rng = np.random.default_rng()  # fresh inputs every run
    with h5py.File(out, "w") as f:
        f["Q"] = rng.standard_normal((b, h, lq, d)).astype(dtype)
        f["K"] = rng.standard_normal((b, hkv, lk, d)).astype(dtype)
        f["V"] = rng.standard_normal((b, hkv, lk, d)).astype(dtype)
        f.attrs["writer"] = "h5py " + h5py.version.version


if __name__ == "__main__":
    main()
