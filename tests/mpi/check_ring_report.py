#!/usr/bin/python3
"""Checks the ring fields of a kv_mode = "ring" JSON report against the deck's shape:
K/V held per rank ~ 1/P of the whole, steps = ring size - 1, bytes sent = the shards that pass.
usage: check_ring_report.py REPORT.json RANKS"""
import json
import sys


def main():
    r = json.load(open(sys.argv[1]))
    ranks = int(sys.argv[2])
    assert r["kv_mode"] == "ring", r["kv_mode"]
    assert r["ranks"] == ranks
    ring = r["ring"]
    size = int(ring["ring_size"]["max"])
    rings = int(ring["num_rings"]["max"])
    assert size * rings == ranks, (size, rings)
    assert int(ring["steps"]["max"]) == size - 1
    p = r["problem"]
    groups = p["batch"] * p["kv_heads"]
    lk, d = p["kv_len"], p["head_dim"]
    # K/V floats held: this ring's KV heads, Lk / ring_size keys each, up to one 64-key block
    # per zig-zag chunk more.
    chunks = 2 if p["causal"] else 1
    per_rank = (groups / rings) * (lk / size + 64 * chunks) * d * 8
    assert ring["kv_input_bytes"]["max"] <= per_rank, (ring["kv_input_bytes"], per_rank)
    total = ring["kv_input_bytes"]["avg"] * ranks
    assert abs(total - groups * lk * d * 8) < 1e-6 * total, (total, groups * lk * d * 8)
    # Each step sends one shard; over the ring, every shard but the last one's travels.
    assert ring["bytes_sent"]["min"] > 0 or size == 1
    assert ring["bytes_sent"]["max"] <= (size - 1) * ring["shard_bytes"]["max"] + 1e-9
    h = ring["hidden_fraction_overall"]
    assert 0.0 <= h <= 1.0, h
    for key in ("comm_in_flight_s", "comm_exposed_s", "comm_mpi_s"):
        assert ring[key]["min"] >= 0.0, (key, ring[key])
    assert r["phases"]["comm"]["max"] >= ring["comm_exposed_s"]["max"] - 1e-9
    lb = r["load_balance"]
    assert len(lb["compute_seconds_per_rank"]) == ranks
    assert r["verification"]["passed"] is True
    print(f"ring report OK: {rings} ring(s) of {size}, {ring['bytes_sent']['max']:.4g} B sent, "
          f"{100 * h:.1f}% hidden, compute imbalance {100 * lb['compute_imbalance']:.1f}%")


if __name__ == "__main__":
    main()
