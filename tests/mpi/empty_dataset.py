#!/usr/bin/python3
"""Writes an output-like file whose O has no rows, for miniattn-verify's empty-dataset case.
usage: empty_dataset.py OUT.h5"""
import sys

import h5py
import numpy as np

with h5py.File(sys.argv[1], "w") as f:
    f["O"] = np.zeros((1, 2, 0, 32), np.float32)
