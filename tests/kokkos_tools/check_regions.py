#!/usr/bin/python3
"""Checks the region logs tests/kokkos_tools/region_recorder.cpp wrote for one miniattn run:
every rank opened each phase region as often as the run has that phase (read, write and verify
once; quantize and kernel once per run, warmup included), regions nest and close, and the
nesting matches the driver's structure (kernel work inside no other phase).
usage: check_regions.py LOG_BASE NRANKS RUNS"""
import collections
import sys


def main():
    base, nranks, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    want = {"miniattn::read": 1, "miniattn::quantize": runs, "miniattn::kernel": runs,
            "miniattn::verify": 1, "miniattn::write": 1}
    errors = []
    for rank in range(nranks):
        path = f"{base}.{rank}"
        try:
            lines = open(path).read().splitlines()
        except OSError as e:
            errors.append(f"rank {rank}: no region log ({e}): was the tool loaded?")
            continue
        counts = collections.Counter()
        for line in lines:
            parts = line.split(" ", 2)
            if parts[0] == "push":
                counts[parts[2]] += 1
                if parts[2] in want and parts[1] != "0":
                    errors.append(f"rank {rank}: {parts[2]} opened at depth {parts[1]}, expected 0")
        if lines[-1] != "end depth 0 unbalanced_pops 0":
            errors.append(f"rank {rank}: regions left open or popped twice: {lines[-1]}")
        for name, n in want.items():
            if counts[name] != n:
                errors.append(f"rank {rank}: region {name} opened {counts[name]} times, expected {n}")
        print(f"rank {rank}: " + ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())))
    if errors:
        sys.exit("FAIL: " + "; ".join(errors))
    print("OK: every phase is a Kokkos Tools region on every rank")


if __name__ == "__main__":
    main()
