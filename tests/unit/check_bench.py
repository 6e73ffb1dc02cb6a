#!/usr/bin/env python3
"""Checks a miniattn-bench --json file from a --quick run of every backend: each study wrote
records, every attention point ran (finite O, a positive median) for every backend the run
listed, and the peaks are positive. Usage: check_bench.py FILE BACKEND[,BACKEND...]"""
import json
import math
import sys


def main():
    path, backends = sys.argv[1], sys.argv[2].split(",")
    with open(path) as f:
        doc = json.load(f)
    res = doc["results"]
    bad = []
    studies = {r["study"] for r in res}
    for s in ("peaks", "gemm", "exp2", "stage2", "attention"):
        if s not in studies:
            bad.append(f"no '{s}' records")
    for r in res:
        if r["study"] == "peaks":
            for k in ("int8_gops", "fp32_gflops", "bf16_gflops"):
                if r.get(k) is not None and not r[k] > 0:
                    bad.append(f"peaks {k} = {r[k]}")
    att = [r for r in res if r["study"] == "attention"]
    for b in backends:
        pts = [r for r in att if r["backend"] == b]
        if not pts:
            bad.append(f"backend {b}: no attention point")
        for r in pts:
            t = r["seconds_median"]
            if r["finite"] != 1 or t is None or not (t > 0 and math.isfinite(t)):
                bad.append(f"backend {b} {r['variant']}/{r['pv']}: finite={r['finite']} median={t}")
    if bad:
        print("\n".join(bad))
        return 1
    print(f"{len(res)} records; attention points of {', '.join(backends)} ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
