#!/usr/bin/python3
"""Checks a JSON report has the fields DESIGN.md promises. usage: check_report.py REPORT.json RANKS"""
import json
import sys


def main():
    r = json.load(open(sys.argv[1]))
    ranks = int(sys.argv[2])
    for key in ("backend", "variant", "pv_precision", "ranks", "threads_per_rank", "problem",
                "phases", "kernel", "peak", "verification"):
        assert key in r, f"missing key {key}"
    assert r["ranks"] == ranks, r["ranks"]
    phases = ("read", "quantize", "pack", "qk_gemm", "softmax", "pv_gemm", "comm", "write",
              "verify", "total")
    for name in phases:
        p = r["phases"][name]
        assert p["min"] <= p["avg"] <= p["max"] + 1e-12, (name, p)
    for key in ("seconds_median", "seconds_min", "ops", "gops"):
        assert r["kernel"][key] > 0, (key, r["kernel"])
    pr = r["problem"]
    for key in ("batch", "heads", "kv_heads", "seq_len", "kv_len", "head_dim", "causal"):
        assert key in pr, key
    v = r["verification"]
    assert v["passed"] is True and v["rows_checked"] > 0, v
    assert v["lse_rows_checked"] == v["rows_checked"], v
    assert 0 <= v["lse_max_abs"] <= v["max_lse_abs"], v
    assert len(r["phases_per_rank"]) == ranks
    print("report OK:", r["backend"], r["kernel"]["gops"], "GOP/s")


if __name__ == "__main__":
    main()
