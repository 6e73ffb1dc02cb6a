#!/usr/bin/python3
"""scripts/model.py predict --report and validate on synthetic reports whose answer is known:
a 2-rank ring (non-causal, B=1, H=Hkv=2, L=1024, D=64, fp32 P.V) over a measured 1 Gbit/s link
with compute longer than a step's transfer (hidden) and shorter (exposed), the same without link
fields (the stated shared-memory assumption, or a --link given), the host CPU a TCP stack takes
per byte (--link-cpu) and its fit (fit-link-cpu), 4 ranks sharing 2 cores (--cores, or the
calibration's), the report's own shard bytes, and validate's error table and exit status.
usage: check_model_report.py REPO WORKDIR"""
import copy
import json
import os
import re
import subprocess
import sys

D, L, HEADS = 64, 1024, 2
# A ring rank's shard: half of each KV head's keys, as int8 K + a float scale + fp32 V per key
# (docs/SCALING.md, "The ring").
SHARD_BYTES = HEADS * (L // 2) * (D + 4 + 4 * D)
LATENCY, BANDWIDTH = 20e-6, 1.25e8  # 1 Gbit/s


def report(compute_s, quantize_s=0.002, outside_s=0.0005, link=True, ranks=2):
    """A ring report (2 ranks unless told); every rank spent compute_s in qk_gemm + softmax +
    pv_gemm."""
    phases = {k: {"min": 0.0, "avg": 0.0, "max": 0.0} for k in
              ("read", "quantize", "pack", "qk_gemm", "softmax", "pv_gemm", "comm", "verify",
               "write", "total")}
    for name, share in (("qk_gemm", 0.3), ("softmax", 0.2), ("pv_gemm", 0.5)):
        phases[name] = {"min": compute_s * share, "avg": compute_s * share,
                        "max": compute_s * share}
    phases["quantize"] = {"min": quantize_s, "avg": quantize_s, "max": quantize_s}
    phases["read"] = {"min": 0.01, "avg": 0.01, "max": 0.01}
    shard = SHARD_BYTES * 2 // ranks
    ring = {"ring_size": {"min": ranks, "avg": ranks, "max": ranks},
            "bytes_sent": {"min": shard, "avg": shard, "max": shard},
            "shard_bytes": {"min": shard, "avg": shard, "max": shard}}
    if link:
        ring["link_latency_s"] = {"min": LATENCY, "avg": LATENCY, "max": LATENCY}
        # the slower rank's link paces the ring
        ring["link_bandwidth_Bps"] = {"min": BANDWIDTH, "avg": 1.5 * BANDWIDTH,
                                      "max": 2 * BANDWIDTH}
        ring["bytes_per_step"] = {"min": shard, "avg": shard, "max": shard}
    r = {"backend": "avx512", "cpu": "synthetic", "kv_mode": "ring", "ranks": ranks,
         "threads_per_rank": 1, "pv_precision": "fp32", "tile": {"q": 64, "kv": 64},
         "problem": {"batch": 1, "heads": HEADS, "kv_heads": HEADS, "seq_len": L, "kv_len": L,
                     "head_dim": D, "causal": False},
         "phases": phases, "ring": ring, "io": {"input": "synthetic", "write_bytes": 0},
         "verification": None, "output_file": "",
         "kernel": {"seconds_median": 1.0, "seconds_outside_phases": outside_s, "warmup": 1,
                    "runs": [1.0, 1.0], "ops": 4 * HEADS * L * L * D}}
    r["phases"]["total"] = {"min": 3.5, "avg": 3.5, "max": 3.5}
    return r


def expected(r, link=True):
    """The kernel time the model's equations give (docs/MODEL.md), computed here by hand."""
    ph = r["phases"]
    compute = sum(ph[k]["avg"] for k in ("qk_gemm", "softmax", "pv_gemm"))
    if link:  # network: one step's transfer less what the step's compute covers
        comm = max(0.0, LATENCY + SHARD_BYTES / BANDWIDTH - compute / 2)
    else:  # shared memory (assumed): 1 us + bytes at 6 GB/s, copied by the rank's one thread
        comm = 1e-6 + SHARD_BYTES / 6e9
    return ph["quantize"]["avg"] + compute + r["kernel"]["seconds_outside_phases"] + comm, comm


def run(repo, *args):
    return subprocess.run(["/usr/bin/python3", os.path.join(repo, "scripts", "model.py"), *args],
                          capture_output=True, text=True, timeout=60)


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def predicted(repo, path):
    p = run(repo, "predict", "--report", path, "--cores", "2")
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines or not lines[-1].startswith("predicted_seconds "):
        fail(f"predict --report {path}: exit {p.returncode}, last line not predicted_seconds:\n"
             f"{p.stdout}{p.stderr}")
    return float(lines[-1].split()[1]), p.stdout


def main():
    repo, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    step_hop = LATENCY + SHARD_BYTES / BANDWIDTH  # 2.67 ms
    cases = {"hidden": report(compute_s=4 * step_hop),   # 2 ms of compute a step > the hop
             "exposed": report(compute_s=0.5 * step_hop),  # a step's compute < the hop
             "no_link": report(compute_s=4 * step_hop, link=False)}
    paths = {}
    for name, r in cases.items():
        want, comm = expected(r, link=name != "no_link")
        r["kernel"]["seconds_median"] = want
        paths[name] = os.path.join(work, f"{name}.json")
        with open(paths[name], "w") as f:
            json.dump(r, f)
        got, out = predicted(repo, paths[name])
        # 1e-6: the model sums the same terms in float64 (the rates round-trip through
        # per-score costs); anything else is a different model.
        if abs(got / want - 1) > 1e-6:
            fail(f"{name}: predicted {got}, expected {want} (comm {comm}):\n{out}")
        link_line = next((l for l in out.splitlines() if l.startswith("link: ")), "")
        if name == "no_link":
            if not link_line.startswith("link: assumed") or "shared memory" not in link_line:
                fail(f"no_link: the assumption is not stated: '{link_line}'")
        elif not link_line.startswith("link: measured") or "1.000 Gbit/s" not in link_line:
            fail(f"{name}: the measured link (slowest rank's 1 Gbit/s) is not used: '{link_line}'")
        print(f"{name}: predicted {got:.6f} s (comm {comm:.6f} s) OK; {link_line}")
    # A link given on the command line stands in for a report without one, and says so.
    bare = copy.deepcopy(cases["exposed"])
    del bare["ring"]["link_latency_s"], bare["ring"]["link_bandwidth_Bps"]
    given_path = os.path.join(work, "given.json")
    with open(given_path, "w") as f:
        json.dump(bare, f)
    p = run(repo, "predict", "--report", given_path, "--cores", "2",
            "--link", f"{LATENCY},{BANDWIDTH}")
    want = cases["exposed"]["kernel"]["seconds_median"]
    if abs(float(p.stdout.split()[-1]) / want - 1) > 1e-6 or "assumed" not in p.stdout or \
            "--link: latency 20.0 us" not in p.stdout:
        fail(f"--link: expected {want} from the given link, stated as assumed:\n{p.stdout}")
    if run(repo, "predict", "--report", given_path, "--link", "fast").returncode == 0:
        fail("--link fast was accepted")
    # Host CPU per byte (a kernel TCP stack): added where the transfer is hidden, and where it
    # is exposed only when longer than the wait it overlaps.
    for name, ns, extra in (("hidden", 5.0, SHARD_BYTES * 5e-9), ("exposed", 0.1, 0.0)):
        p = run(repo, "predict", "--report", paths[name], "--cores", "2", "--link-cpu", str(ns))
        want = cases[name]["kernel"]["seconds_median"] + extra
        if abs(float(p.stdout.split()[-1]) / want - 1) > 1e-6 or "host CPU" not in p.stdout:
            fail(f"--link-cpu {ns} on {name}: expected {want}:\n{p.stdout}")
    # Four ranks on two cores (the netlab's hosts are one machine): each rank has half a core,
    # so the report's own phases are half-core times and the host CPU per byte takes twice its
    # CPU time in wall time; told 4 cores, the same run has no sharing. Three steps of a quarter
    # of the keys; compute hides the hop (4 x 1.34 ms per step against 1.35 ms).
    quad = report(compute_s=4 * 4 * (SHARD_BYTES / 2) / BANDWIDTH, ranks=4)
    quad_path = os.path.join(work, "four_ranks.json")
    with open(quad_path, "w") as f:
        json.dump(quad, f)
    base = sum(quad["phases"][k]["avg"] for k in ("quantize", "qk_gemm", "softmax", "pv_gemm")) \
        + quad["kernel"]["seconds_outside_phases"]
    for cores, share in ((2, 0.5), (4, 1.0)):
        want = base + 3 * (SHARD_BYTES / 2) * 5e-9 / share
        p = run(repo, "predict", "--report", quad_path, "--cores", str(cores), "--link-cpu", "5")
        if p.returncode != 0 or abs(float(p.stdout.split()[-1]) / want - 1) > 1e-6 or \
                f"cores: {cores} for 4 rank(s) x 1 thread(s): {share:g} thread(s)'" not in p.stdout:
            fail(f"4 ranks on {cores} cores, --link-cpu 5: expected {want}:\n{p.stdout}{p.stderr}")
    # The same through a calibration file: its cores unless --cores says otherwise.
    machine_path = os.path.join(work, "machine.json")
    p = run(repo, "calibrate", quad_path, "--cores", "2", "-o", machine_path)
    for extra, share in (((), 0.5), (("--cores", "4"), 1.0)):
        p = run(repo, "predict", "--report", quad_path, "--machine", machine_path, *extra)
        # compute from the 2-core calibration; with 4 cores every term has twice the core
        want = base * 0.5 / share
        if p.returncode != 0 or abs(float(p.stdout.split()[-1]) / want - 1) > 1e-6:
            fail(f"4 ranks, --machine {' '.join(extra)}: expected {want}:\n{p.stdout}{p.stderr}")
    # The report's own shard bytes (a backend's packed layout makes them larger than the model's
    # int8 K + scale + V) are what the link carries.
    big = copy.deepcopy(cases["exposed"])
    big["ring"]["shard_bytes"] = {"min": 2 * SHARD_BYTES, "avg": 2 * SHARD_BYTES,
                                  "max": 2 * SHARD_BYTES}
    big_path = os.path.join(work, "big.json")
    with open(big_path, "w") as f:
        json.dump(big, f)
    want = cases["exposed"]["kernel"]["seconds_median"] + SHARD_BYTES / BANDWIDTH
    got, out = predicted(repo, big_path)
    if abs(got / want - 1) > 1e-6:
        fail(f"a report's shard_bytes twice the model's: expected {want}, got {got}:\n{out}")
    # fit-link-cpu gives back the host CPU per byte that made a hidden run's time, and refuses
    # to fit where the link's wait binds.
    fitted = copy.deepcopy(cases["hidden"])
    fitted["kernel"]["seconds_median"] += SHARD_BYTES * 3e-9
    fit_path = os.path.join(work, "fit.json")
    with open(fit_path, "w") as f:
        json.dump(fitted, f)
    p = run(repo, "fit-link-cpu", "--cores", "2", fit_path)
    if p.returncode != 0 or not p.stdout.strip().splitlines()[-1].startswith(
            "link_cpu_ns_per_byte 3 "):
        fail(f"fit-link-cpu: expected 3 ns/B:\n{p.stdout}{p.stderr}")
    p = run(repo, "fit-link-cpu", "--cores", "2", paths["exposed"])
    if p.returncode != 1 or "cannot be fitted" not in p.stdout:
        fail(f"fit-link-cpu on a run the link's wait binds: expected a refusal:\n{p.stdout}")
    # Not a report: one line naming the file and what is missing, no traceback.
    bad_path = os.path.join(work, "not_a_report.json")
    with open(bad_path, "w") as f:
        json.dump({"problem": {}}, f)
    for path, words in ((bad_path, "not a miniattn JSON report (no ranks"),
                        (os.path.join(work, "absent.json"), "No such file")):
        p = run(repo, "predict", "--report", path)
        if p.returncode == 0 or words not in p.stderr or "Traceback" in p.stderr:
            fail(f"predict --report {path}: expected one error with '{words}':\n{p.stderr}")
    if expected(cases["hidden"])[1] != 0.0 or expected(cases["exposed"])[1] <= 0.0:
        fail("the cases do not straddle the crossover")

    # validate: the table's errors and the exit status against the bound.
    slow = copy.deepcopy(cases["exposed"])
    slow["kernel"]["seconds_median"] *= 1.25  # measured 25% above the model: error -20%
    paths["slow"] = os.path.join(work, "slow.json")
    with open(paths["slow"], "w") as f:
        json.dump(slow, f)
    p = run(repo, "validate", "--cores", "2", paths["hidden"], paths["exposed"], paths["slow"])
    if p.returncode != 1:
        fail(f"validate exited {p.returncode} with a 20% error at a 15% bound:\n{p.stdout}")
    rows = {l.split()[0]: l for l in p.stdout.splitlines() if l.endswith("%") and ".json" in l}
    for name, err in (("hidden.json", 0.0), ("exposed.json", 0.0), ("slow.json", -20.0)):
        m = re.search(r"(-?\d+\.\d)%\s+\S+\s+\S+\s+-?\d+\.\d%$", rows.get(name, ""))
        if not m or abs(float(m.group(1)) - err) > 0.05:
            fail(f"validate: kernel error of {name} should be {err}%:\n{p.stdout}")
        if "measured" not in rows[name]:
            fail(f"validate: {name}'s row does not say its link was measured:\n{p.stdout}")
    p = run(repo, "validate", "--cores", "2", "--max-error", "0.25", *paths.values())
    if p.returncode != 0:
        fail(f"validate exited {p.returncode} within its bound:\n{p.stdout}{p.stderr}")
    print(p.stdout)
    print("model.py predict --report / validate OK")


if __name__ == "__main__":
    main()
