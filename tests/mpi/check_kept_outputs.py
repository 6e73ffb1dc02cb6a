#!/usr/bin/python3
"""A run whose verification failed (exit 1) has completed: it keeps its outputs, marked as
failed. Checks that OUT.h5 holds O and /verification passed = 0, that the JSON report says
passed = false, and that no temporary file is left beside either.

usage: check_kept_outputs.py OUT.h5 REPORT.json"""
import glob
import json
import sys

import h5py


def main():
    out, report = sys.argv[1], sys.argv[2]
    errors = []
    with h5py.File(out, "r") as f:
        if "O" not in f or f["O"].ndim != 4:
            errors.append(f"{out}: no 4-D dataset O")
        passed = f["verification"].attrs["passed"] if "verification" in f else None
        if passed != 0:
            errors.append(f"{out}: /verification passed = {passed}, expected 0")
    r = json.load(open(report))
    if r.get("verification", {}).get("passed") is not False:
        errors.append(f"{report}: verification.passed = {r.get('verification')}, expected false")
    left = glob.glob(glob.escape(out) + ".tmp*") + glob.glob(glob.escape(report) + ".tmp*")
    if left:
        errors.append(f"temporary files left behind: {left}")
    if errors:
        sys.exit("FAIL: " + "; ".join(errors))
    print("OK: the outputs of a failed verification are kept, marked passed = 0")


if __name__ == "__main__":
    main()
