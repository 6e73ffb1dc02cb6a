#!/usr/bin/python3
"""Checks the ring fields of a kv_mode = "ring" JSON report against the deck's shape:
K/V held per rank ~ 1/P of the whole, steps = ring size - 1, bytes sent = the shards that pass;
the link measured at start-up and the time accounting are present, finite and plausible.
usage: check_ring_report.py REPORT.json RANKS"""
import json
import math
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
    assert abs(ring["bytes_per_step"]["max"] * max(size - 1, 1) - ring["bytes_sent"]["max"]) <= \
        1e-9 * ring["bytes_sent"]["max"], (ring["bytes_per_step"], ring["bytes_sent"])
    h = ring["hidden_fraction_overall"]
    assert 0.0 <= h <= 1.0, h
    for key in ("comm_in_flight_s", "comm_wait_s", "comm_exposed_s", "comm_mpi_s", "compute_s",
                "compute_no_transfer_s", "link_latency_s", "link_bandwidth_Bps", "hidden_fraction"):
        for stat in ("min", "avg", "max"):
            assert math.isfinite(ring[key][stat]) and ring[key][stat] >= 0.0, (key, ring[key])
    # The waits are MPI calls (comm phase); exposed = waits + the compute the transfers slowed.
    assert r["phases"]["comm"]["max"] >= ring["comm_wait_s"]["max"] - 1e-9
    assert ring["comm_exposed_s"]["min"] >= ring["comm_wait_s"]["min"] - 1e-12
    # The steps' compute ran inside the timed kernel (its median run is the run reported).
    assert 0.0 < ring["compute_s"]["min"] <= max(r["kernel"]["runs"]) + 1e-9, \
        (ring["compute_s"], r["kernel"])
    if size > 1:
        # Plausible on one machine's shared memory: an 8-byte exchange between 10 ns and 50 ms
        # (a loaded 2-core machine has millisecond outliers; the median is reported), and
        # between 10 MB/s and 1 TB/s.
        lat, bw = ring["link_latency_s"], ring["link_bandwidth_Bps"]
        assert 1e-8 < lat["min"] <= lat["max"] < 0.05, lat
        assert 1e7 < bw["min"] <= bw["max"] < 1e12, bw
        assert ring["link_probe_bytes"]["min"] >= 8
        assert ring["compute_no_transfer_s"]["min"] > 0.0, ring["compute_no_transfer_s"]
    lb = r["load_balance"]
    assert len(lb["compute_seconds_per_rank"]) == ranks
    assert r["verification"]["passed"] is True
    print(f"ring report OK: {rings} ring(s) of {size}, {ring['bytes_sent']['max']:.4g} B sent, "
          f"{100 * h:.1f}% hidden, link {1e6 * ring['link_latency_s']['max']:.2f} us "
          f"{ring['link_bandwidth_Bps']['min'] / 1e6:.4g} MB/s, "
          f"compute imbalance {100 * lb['compute_imbalance']:.1f}%")


if __name__ == "__main__":
    main()
