#!/usr/bin/python3
"""Builds one broken input file for the bad-input tests (shapes of decks/bad_inputs.toml:
B=1, H=4, Hkv=2, Lq=40, Lk=56, D=32). Usage: bad_inputs.py KIND OUT."""
import sys

import h5py
import numpy as np

B, H, HKV, LQ, LK, D = 1, 4, 2, 40, 56, 32


def write(path, q=None, k=None, v=None, skip=()):
    rng = np.random.default_rng(1)
    arrays = {
        "Q": q if q is not None else rng.standard_normal((B, H, LQ, D)).astype("float32"),
        "K": k if k is not None else rng.standard_normal((B, HKV, LK, D)).astype("float32"),
        "V": v if v is not None else rng.standard_normal((B, HKV, LK, D)).astype("float32"),
    }
    with h5py.File(path, "w") as f:
        for name, a in arrays.items():
            if name not in skip:
                f[name] = a


def main():
    kind, out = sys.argv[1], sys.argv[2]
    if kind == "missing_dataset":
        write(out, skip=("V",))
    elif kind == "wrong_shape":
        write(out, k=np.zeros((B, HKV, LK + 1, D), "float32"))
    elif kind == "wrong_dtype":
        write(out, k=np.zeros((B, HKV, LK, D), "int32"))
    elif kind == "nan_in_q":
        q = np.random.default_rng(2).standard_normal((B, H, LQ, D)).astype("float32")
        q[0, 3, 17, 5] = np.nan
        write(out, q=q)
    elif kind == "inf_in_v":  # on a KV head that rank 0 does not hold
        v = np.random.default_rng(3).standard_normal((B, HKV, LK, D)).astype("float32")
        v[0, 1, 50, 7] = -np.inf
        write(out, v=v)
    elif kind == "huge_f64":  # float64 beyond float32's range, on a KV head rank 0 lacks
        v = np.random.default_rng(7).standard_normal((B, HKV, LK, D))
        v[0, 1, 50, 7] = -1e300
        write(out, v=v)
    elif kind == "huge_qk":  # finite, but q.k * scale would leave float32 range
        q = np.random.default_rng(4).standard_normal((B, H, LQ, D)).astype("float32")
        k = np.random.default_rng(5).standard_normal((B, HKV, LK, D)).astype("float32")
        q[0, 2, 3, 4] = 1e6
        k[0, 1, 5, 6] = -1e6
        write(out, q=q, k=k)
    elif kind == "huge_v":  # 56 keys x 1e35 > 2^120
        v = np.random.default_rng(6).standard_normal((B, HKV, LK, D)).astype("float32")
        v[0, 0, 0, 0] = 1e35
        write(out, v=v)
    elif kind == "not_hdf5":
        with open(out, "w") as f:
            f.write("this is not an HDF5 file\n")
    else:
        raise SystemExit("unknown kind " + kind)


if __name__ == "__main__":
    main()
