#!/usr/bin/env python3
"""Registers and spills of the cuda kernels, from a build log compiled with -Xptxas -v.

    scripts/cuda_resources.py BUILD_LOG [--max-spill BYTES]

Prints one line per (kernel, architecture) and exits 1 when a kernel spills more than
--max-spill bytes (stores + loads), or when the log holds no ptxas report at all. The gate
applies to the kernels the benchmark times; the "timed" instantiations (clock64 per tile for
the app's phase split) are reported only.
"""
import argparse
import re
import sys

COMPILING = re.compile(r"Compiling entry function '([^']+)' for '(sm_\w+)'")
SPILL = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
USED = re.compile(r"Used (\d+) registers")


def short(name):
    """A readable kernel name from the mangled one: the function and its template arguments."""
    m = re.search(r"(fused_attention|qk_scores_kernel|k_mean_kernel|quantize_rows_kernel|v_bf16_kernel|"
                  r"v_amax_kernel|v_pack_kernel|lse_shift_kernel)", name)
    kernel = m.group(1) if m else name[:40]
    if re.search(r"quantize_rows_kernelILb1E", name):
        kernel += " rotate"
    t = re.search(r"KernelTraitsILi(\d+)ELb([01])E+(Lb([01]))?", name)
    if t:
        kernel += " D=%s pv=%s" % (t.group(1), "int8" if t.group(2) == "1" else "bf16")
        if t.group(4) == "1":
            kernel += " timed"
    return kernel


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log")
    ap.add_argument("--max-spill", type=int, default=None)
    a = ap.parse_args()
    rows, current = {}, None
    with open(a.log, errors="replace") as f:
        for line in f:
            m = COMPILING.search(line)
            if m:
                current = (short(m.group(1)), m.group(2))
                rows.setdefault(current, {})
                continue
            if current is None:
                continue
            m = SPILL.search(line)
            if m:
                rows[current]["spill"] = int(m.group(2)) + int(m.group(3))
                rows[current]["stack"] = int(m.group(1))
            m = USED.search(line)
            if m:
                rows[current]["regs"] = int(m.group(1))
    if not rows:
        print("cuda_resources: no ptxas report in %s (built without -Xptxas -v?)" % a.log)
        return 1
    bad = []
    print("%-34s %-7s %5s %6s %6s" % ("kernel", "arch", "regs", "stack", "spill"))
    for (kernel, arch), r in sorted(rows.items()):
        print("%-34s %-7s %5s %6s %6s" % (kernel, arch, r.get("regs", "?"), r.get("stack", "?"), r.get("spill", "?")))
        if a.max_spill is not None and r.get("spill", 0) > a.max_spill and not kernel.endswith(" timed"):
            bad.append("%s %s" % (kernel, arch))
    if bad:
        print("cuda_resources: spills above %d bytes: %s" % (a.max_spill, ", ".join(bad)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
