#!/usr/bin/python3
"""Checks scripts/model.py on the reports of the tiny scaling study (check_scaling.py run):
calibrated on the 1-rank run, it must give that run back (the calibration is exact by
construction), predict the 2-rank runs of the same shape, and project to 1024 ranks with ring
memory falling as 1/P.
usage: check_model.py REPO STUDY_DIR WORK_DIR"""
import csv
import glob
import os
import subprocess
import sys


def model(repo, *args, check=True):
    p = subprocess.run(["/usr/bin/python3", os.path.join(repo, "scripts", "model.py"), *args],
                       capture_output=True, text=True, timeout=240)
    if check and p.returncode != 0:
        sys.exit(f"model.py {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def main():
    repo, study, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    machine = os.path.join(work, "machine.json")
    base = os.path.join(study, "runs", "strong_np1_t1_r0.json")
    model(repo, "calibrate", base, "--cores", "2", "-o", machine)
    # Self-consistency: the calibration run is predicted to 1%.
    model(repo, "validate", "--machine", machine, "--max-error", "0.01", base)
    # The strong 2-rank run: half the work per rank. Tiny runs are noisy; 50% catches a model
    # that mis-splits the work (a factor 2), not timing noise.
    p = model(repo, "validate", "--machine", machine, "--max-error", "0.5",
              os.path.join(study, "runs", "strong_np2_t1_r0.json"), "--csv",
              os.path.join(work, "validate.csv"))
    assert "largest error" in p.stdout, p.stdout
    out = os.path.join(work, "project.csv")
    model(repo, "project", "--machine", machine, "--network", "ib-hdr", "--csv", out)
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 2 * 2 * 11, len(rows)  # L x Hkv x ranks 1..1024
    for L in ("131072", "1048576"):
        rs = [r for r in rows if r["L"] == L and r["Hkv"] == "32"]
        kv1 = float(rs[0]["ring_kv_gib"])
        for r in rs:
            p_ = int(r["ranks"])
            # K/V memory per rank in ring mode ~ 1/P (chunks are whole 64-key blocks).
            assert float(r["ring_kv_gib"]) <= kv1 / p_ * 1.05 + 1e-9, r
            assert float(r["ring_kernel_s"]) > 0 and float(r["replicated_kernel_s"]) > 0, r
    # A bad bound makes validate fail.
    p = model(repo, "validate", "--machine", machine, "--max-error", "0", base, check=False)
    assert p.returncode == 1, p.returncode
    print("model.py OK")


if __name__ == "__main__":
    main()
