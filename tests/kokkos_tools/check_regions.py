#!/usr/bin/python3
"""Checks the region logs tests/kokkos_tools/region_recorder.cpp wrote for one miniattn run:
every rank opened each phase region as often as the run has that phase (read, write and verify
once; quantize and kernel once per run, warmup included), regions nest and close, and the
nesting matches the driver's structure (kernel work inside no other phase). And the Kokkos
kernels by name, as kernel-timer and space-time-stack show them: the work items
(miniattn::attend) once per run inside the kernel region, the quantisation kernels inside the
quantize region, the input generation and checks inside read, the float64 reference inside
verify.
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
        kernels = collections.Counter()  # (region it runs in, kernel name)
        stack = []
        for line in lines:
            parts = line.split(" ", 2)
            if parts[0] == "push":
                counts[parts[2]] += 1
                if parts[2] in want and parts[1] != "0":
                    errors.append(f"rank {rank}: {parts[2]} opened at depth {parts[1]}, expected 0")
                stack.append(parts[2])
            elif parts[0] == "pop" and stack:
                stack.pop()
            elif parts[0] == "kernel":
                name = parts[2].split(" ", 1)[1]
                if name.startswith("miniattn::"):
                    kernels[(stack[0] if stack else "", name)] += 1
        if lines[-1] != "end depth 0 unbalanced_pops 0":
            errors.append(f"rank {rank}: regions left open or popped twice: {lines[-1]}")
        for name, n in want.items():
            if counts[name] != n:
                errors.append(f"rank {rank}: region {name} opened {counts[name]} times, expected {n}")
        want_kernels = {("miniattn::kernel", "miniattn::attend"): runs,
                        ("miniattn::quantize", "miniattn::quantize_q"): runs,
                        ("miniattn::quantize", "miniattn::quantize_kv"): runs,
                        ("miniattn::read", "miniattn::generate_q"): 1,
                        ("miniattn::read", "miniattn::input_max"): 3,
                        ("miniattn::verify", "miniattn::reference"): 1}
        for (region, name), n in want_kernels.items():
            if kernels[(region, name)] != n:
                errors.append(f"rank {rank}: kernel {name} ran {kernels[(region, name)]} times "
                              f"inside {region}, expected {n}")
        print(f"rank {rank}: " + ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())))
        print(f"rank {rank} kernels: " + ", ".join(f"{r or '-'}/{k} x{v}" for (r, k), v in sorted(kernels.items())))
    if errors:
        sys.exit("FAIL: " + "; ".join(errors))
    print("OK: every phase is a Kokkos Tools region and every compute step a named Kokkos kernel on every rank")


if __name__ == "__main__":
    main()
