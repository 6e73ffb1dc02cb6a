#!/usr/bin/python3
"""Writes the seed corpus of fuzz_h5_input (tests/fuzz/h5_input/): small HDF5 files around the
fuzz target's deck (Q (1, 2, 4, 16), K and V (1, 1, 5, 16)), valid in every layout h5py
writes and broken in the ways users break them. The files carry no .h5 suffix (the repository
ignores *.h5). Usage: make_h5_seeds.py [OUT_DIR]"""
import os
import sys

import h5py
import numpy as np

QS, KVS = (1, 2, 4, 16), (1, 1, 5, 16)


def arrays(dtype="float32"):
    rng = np.random.default_rng(7)
    return {n: rng.standard_normal(s).astype(dtype) for n, s in (("Q", QS), ("K", KVS), ("V", KVS))}


def write(path, data, **file_kw):
    create = file_kw.pop("create", {})
    with h5py.File(path, "w", **file_kw) as f:
        for name, a in data.items():
            f.create_dataset(name, data=a, **create.get(name, {}))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "h5_input")
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)
    write(p("float32"), arrays())
    write(p("float16"), arrays("float16"))
    write(p("big_endian"), arrays(">f4"))
    write(p("latest_format"), arrays(), libver="latest")
    write(p("user_block"), arrays(), userblock_size=512)
    write(p("chunked_gzip"), arrays(), create={n: {"chunks": True, "compression": "gzip"} for n in "QKV"})
    write(p("chunked_shuffle"), arrays("float16"),
          create={n: {"chunks": (1, 1, 2, 16), "shuffle": True, "fletcher32": True} for n in "QKV"})
    a = arrays()
    a["K"] = np.zeros((1, 1, 6, 16), "float32")
    write(p("wrong_shape"), a)
    a = arrays()
    a["V"] = np.ones(KVS, "int32")
    write(p("int_dtype"), a)
    a = arrays()
    a["Q"] = a["Q"].astype("float64")
    write(p("float64"), a)
    a["K"] = a["K"].astype("float64")
    a["K"][0, 0, 3, 9] = 1e300  # beyond float32's range
    write(p("float64_huge"), a)
    a = arrays()
    del a["V"]
    write(p("missing_v"), a)
    with h5py.File(p("group_not_dataset"), "w") as f:
        for name, arr in arrays().items():
            f[name if name != "Q" else "Q/inner"] = arr
        f.attrs["note"] = "Q is a group"
    with h5py.File(p("scalar_and_empty"), "w") as f:
        f["Q"] = 1.0
        f.create_dataset("K", shape=(0, 1, 5, 16), dtype="float32")
        f["V"] = arrays()["V"]
    with open(p("float32"), "rb") as f:
        whole = f.read()
    with open(p("truncated"), "wb") as f:
        f.write(whole[: len(whole) // 2])


if __name__ == "__main__":
    main()
