#!/usr/bin/env python3
"""miniattn's cuda backend against PyTorch SDPA (bf16, flash backend) on the same shapes.

    scripts/cuda_vs_sdpa.py --ours build-gpu/bench.csv [--csv sdpa.csv] [--warmup 5] [--repeat 20]
    scripts/cuda_vs_sdpa.py --seq 1024,4096,16384 --dims 64,128 --causal 0,1   (SDPA alone)
    scripts/cuda_vs_sdpa.py --check-torch   (exit 0 where SDPA can be timed, else 1 and why)

For every (L, D, causal) the B*H of miniattn-bench-cuda's CSV (or its rule: at least 4 waves of
128-row tiles per SM and >= 16 heads), bf16 N(0,1) inputs, torch.nn.functional.
scaled_dot_product_attention restricted to the flash backend, timed with CUDA events: median of
`repeat` calls after `warmup`, rotating over enough input sets that they exceed twice the L2.
ops = 4 * D * unmasked scores (causal: bottom-right aligned, Lq = Lk), TOPS = ops / s / 1e12,
% peak against the dense bf16 rate the bench reported. The table is printed last; ratio =
miniattn TOPS / SDPA TOPS (kernel alone; "+q" includes the on-device quantisation).
"""
import argparse
import csv
import statistics
import sys


def auto_bh(seq, heads, sms):
    tiles = (seq + 127) // 128
    bh = max(16, (4 * sms + tiles - 1) // tiles)
    return (bh + heads - 1) // heads * heads


def unmasked(seq, causal):
    return seq * (seq + 1) // 2 if causal else seq * seq


def torch_unavailable():
    """Why SDPA cannot be timed here, or None when it can."""
    try:
        import torch
    except Exception as e:  # not installed, or an install that fails to load
        return "PyTorch not importable (%s: %s)" % (type(e).__name__, e)
    version = getattr(torch, "__version__", "?")
    if not torch.cuda.is_available():
        return "PyTorch %s sees no CUDA device" % version
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: F401
    except ImportError as e:
        return "PyTorch %s lacks torch.nn.attention.sdpa_kernel (%s)" % (version, e)
    if not hasattr(SDPBackend, "FLASH_ATTENTION"):
        return "PyTorch %s has no SDPBackend.FLASH_ATTENTION" % version
    return None


def read_ours(path):
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            key = (int(r["seq"]), int(r["dim"]), int(r["causal"]))
            rows.setdefault(key, {})[r["pv"]] = r
    return rows


def time_sdpa(torch, b, h, seq, d, causal, warmup, repeat):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    import torch.nn.functional as F

    l2 = torch.cuda.get_device_properties(0).L2_cache_size
    set_bytes = 4 * b * h * seq * d * 2  # q, k, v, out in bf16
    sets = max(2, min(8, (2 * l2) // set_bytes + 1))
    gen = torch.Generator(device="cuda").manual_seed(0)
    data = [tuple(torch.randn(b, h, seq, d, device="cuda", dtype=torch.bfloat16, generator=gen) for _ in range(3))
            for _ in range(sets)]
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        for it in range(warmup + repeat):
            q, k, v = data[it % sets]
            start.record()
            F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal))
            stop.record()
            stop.synchronize()
            if it >= warmup:
                times.append(start.elapsed_time(stop) * 1e-3)
    del data
    torch.cuda.empty_cache()
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ours", help="miniattn-bench-cuda --csv output")
    ap.add_argument("--csv", help="write the SDPA timings here")
    ap.add_argument("--seq", default="1024,4096,16384")
    ap.add_argument("--dims", default="64,128")
    ap.add_argument("--causal", default="0,1")
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--no-torch", action="store_true", help="print miniattn's table only")
    ap.add_argument("--check-torch", action="store_true", help="exit 0 where SDPA can be timed, else say why, exit 1")
    a = ap.parse_args()

    if a.check_torch or not a.no_torch:
        why = torch_unavailable()
        if a.check_torch:
            print(why or "ok")
            return 1 if why else 0
        if why:
            sys.exit("cuda_vs_sdpa: " + why)
    ours = read_ours(a.ours) if a.ours else {}
    torch = None
    if not a.no_torch:
        import torch  # noqa: F811
        sms = torch.cuda.get_device_properties(0).multi_processor_count
    if ours:
        shapes = sorted(ours)
    else:
        shapes = [(int(s), int(d), int(c)) for s in a.seq.split(",") for d in a.dims.split(",")
                  for c in a.causal.split(",")]

    results = []
    for seq, d, causal in shapes:
        mine = ours.get((seq, d, causal), {})
        any_row = next(iter(mine.values()), None)
        if any_row:
            b, h = int(any_row["batch"]), int(any_row["heads"])
        elif torch is not None:
            bh = auto_bh(seq, a.heads, sms)
            h = min(a.heads, bh)
            b = (bh + h - 1) // h
        else:
            continue
        ops = 4.0 * d * unmasked(seq, causal) * b * h
        sdpa_s = time_sdpa(torch, b, h, seq, d, causal, a.warmup, a.repeat) if torch is not None else None
        bf16_peak = float(any_row["bf16_peak_tflops"]) if any_row else 0.0
        results.append(dict(seq=seq, dim=d, causal=causal, batch=b, heads=h, ops=ops, sdpa_s=sdpa_s,
                            sdpa_tops=ops / sdpa_s / 1e12 if sdpa_s else None, bf16_peak=bf16_peak, mine=mine))

    if a.csv and torch is not None:
        with open(a.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["device", "batch", "heads", "seq", "dim", "causal", "sdpa_ms", "sdpa_tops"])
            name = torch.cuda.get_device_name(0)
            for r in results:
                w.writerow([name, r["batch"], r["heads"], r["seq"], r["dim"], r["causal"], "%.6f" % (r["sdpa_s"] * 1e3),
                            "%.3f" % r["sdpa_tops"]])

    def tops(r, pv, key="tops"):
        m = r["mine"].get(pv)
        return float(m[key]) if m else None

    def fmt(x, spec="%.0f"):
        return spec % x if x is not None else "-"

    print()
    print("%-6s %-4s %-6s %-5s | %-9s %-7s %-9s %-7s | %-9s %-7s | %-7s %-7s %-7s" % (
        "L", "D", "causal", "B*H", "bf16 PV", "%peak", "int8 PV", "+q", "SDPA", "%peak", "ratio", "ratio+q", "int8"))
    for r in results:
        ob, oi, obq = tops(r, "bf16"), tops(r, "int8"), tops(r, "bf16", "tops_with_quant")
        pct_ours = tops(r, "bf16", "pct_peak")
        s = r["sdpa_tops"]
        pct_sdpa = 100.0 * s / r["bf16_peak"] if s and r["bf16_peak"] else None
        ratio = ob / s if ob and s else None
        ratio_q = obq / s if obq and s else None
        ratio_i = oi / s if oi and s else None
        print("%-6d %-4d %-6s %-5d | %-9s %-7s %-9s %-7s | %-9s %-7s | %-7s %-7s %-7s" % (
            r["seq"], r["dim"], "yes" if r["causal"] else "no", r["batch"] * r["heads"], fmt(ob), fmt(pct_ours, "%.1f"),
            fmt(oi), fmt(obq), fmt(s), fmt(pct_sdpa, "%.1f"), fmt(ratio, "%.2fx"), fmt(ratio_q, "%.2fx"),
            fmt(ratio_i, "%.2fx")))
    print("TOPS: 4*D*unmasked scores per second / 1e12; miniattn %peak against the int8 (Q.K^T) + bf16 (P.V) dense"
          " peaks, SDPA against the dense bf16 peak; target: ratio >= 1.5 at L >= 4k, D = 128")


if __name__ == "__main__":
    sys.exit(main())
