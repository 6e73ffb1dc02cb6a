#!/usr/bin/python3
"""miniattn-verify --dataset LSE on an output whose causal rows see no key (LSE = -inf): the file
against itself passes with --max-abs 0; a copy with one -inf row made finite, or one finite row
made -inf, fails (exit 1).

usage: check_lse_rows.py MINIATTN_VERIFY OUT.h5"""
import shutil
import subprocess
import sys

import h5py
import numpy as np


def run(verify, a, b):
    p = subprocess.run([verify, a, b, "--dataset", "LSE", "--max-abs", "0"],
                       capture_output=True, text=True)
    print(p.stdout + p.stderr, end="")
    return p.returncode


def main():
    verify, out = sys.argv[1], sys.argv[2]
    with h5py.File(out, "r") as f:
        lse = f["LSE"][...]
    empty = np.isneginf(lse)
    assert empty.any() and (~empty).any(), "the deck must have rows with and without keys"
    assert np.isfinite(lse[~empty]).all()
    assert run(verify, out, out) == 0, "a file must match itself"
    for name, rows in (("finite", empty), ("minus_inf", ~empty)):
        bad = out.replace(".h5", f"_{name}.h5")
        shutil.copyfile(out, bad)
        with h5py.File(bad, "r+") as f:
            x = f["LSE"][...]
            x[np.unravel_index(np.flatnonzero(rows)[0], x.shape)] = 0.0 if name == "finite" else -np.inf
            f["LSE"][...] = x
        rc = run(verify, bad, out)
        assert rc == 1, f"{name}: exit {rc}, expected 1"
    print("OK")


if __name__ == "__main__":
    main()
