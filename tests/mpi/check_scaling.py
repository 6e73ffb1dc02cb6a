#!/usr/bin/python3
"""Checks scripts/scaling.py.
usage: check_scaling.py dry-run REPO MINIATTN OUTDIR
       check_scaling.py run REPO MINIATTN OUTDIR LAUNCHER_TEMPLATE
       check_scaling.py network REPO MINIATTN OUTDIR RATE   (exit 77: no lab can be built here)"""
import csv
import os
import re
import shutil
import subprocess
import sys


def run_script(repo, script, *args, check=True):
    """Runs scripts/SCRIPT with /usr/bin/python3; ends the test with its output on failure."""
    p = subprocess.run(["/usr/bin/python3", os.path.join(repo, "scripts", script), *args],
                       capture_output=True, text=True, timeout=240)
    if check and p.returncode != 0:
        sys.exit(f"{script} {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def scaling(repo, *args, check=True):
    return run_script(repo, "scaling.py", *args, check=check)


def dry_run(repo, exe, out):
    shutil.rmtree(out, ignore_errors=True)
    deck = os.path.join(repo, "inputs", "weak.toml")  # batch 1, heads 8, kv_heads 8, seq_len 4096
    p = scaling(repo, deck, "--exe", exe, "--out", out, "--dry-run", "--study", "weak,strong",
                "--ranks", "1,2,4", "--threads", "1,2", "--repeat", "2", "--launcher", "srun")
    commands = p.stdout.strip().splitlines()
    assert len(commands) == 2 * 2 * 3 * 2, len(commands)
    assert not os.path.exists(out), "a dry run wrote files"
    for line in commands:
        assert line.startswith("OMP_NUM_THREADS="), line
        np_ = int(line.split(" -n ")[1].split()[0])
        t = int(line.split(" -c ")[1].split()[0])
        assert f"run.threads={t}" in line and f"OMP_NUM_THREADS={t} " in line, line
        if "/runs/weak_" in line:
            assert f"problem.batch={np_} " in line, line  # batch 1 x ranks
        else:
            assert "problem.batch" not in line, line
    # Two kv modes in one study: every configuration in both, repetitions outermost.
    p = scaling(repo, deck, "--exe", exe, "--out", out, "--dry-run", "--study", "strong",
                "--ranks", "1,2", "--repeat", "2", "--kv-modes", "replicated,ring")
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 2 * 2 * 2, lines
    assert [("ring" in l.split("run.kv_mode=")[1][:8]) for l in lines] == [False, False, True, True] * 2
    assert all("_r0.json" in l for l in lines[:4]) and all("_r1.json" in l for l in lines[4:])
    # Weak by heads keeps the GQA group; by seq_len grows the queries only.
    p = scaling(repo, deck, "--exe", exe, "--out", out, "--dry-run", "--study", "weak",
                "--ranks", "4", "--weak-by", "heads")
    assert "problem.heads=32 " in p.stdout and "problem.kv_heads=32 " in p.stdout, p.stdout
    p = scaling(repo, deck, "--exe", exe, "--out", out, "--dry-run", "--study", "weak",
                "--ranks", "4", "--weak-by", "seq_len", "--launcher", "mpirun -n {np} {cmd}")
    assert p.stdout.startswith("mpirun -n 4 "), p.stdout
    assert "problem.seq_len=16384 " in p.stdout and "problem.kv_len=4096 " in p.stdout, p.stdout
    # pjsub: job scripts, not runs.
    p = scaling(repo, deck, "--exe", exe, "--out", out, "--study", "strong", "--ranks", "96",
                "--launcher", "pjsub", "--launcher-args", "-L elapse=0:05:00")
    script = open(os.path.join(out, "jobs", "strong_np96_t1_r0.sh")).read()
    assert "#PJM -L node=2" in script and "#PJM --mpi proc=96" in script, script
    assert "#PJM -L elapse=0:05:00" in script and "mpiexec -n 96 " in script, script
    assert p.stdout.startswith("pjsub "), p.stdout
    shutil.rmtree(out)
    # Over a network: every run is a netlab job with one host per rank.
    p = scaling(repo, deck, "--exe", exe, "--out", out, "--dry-run", "--study", "weak",
                "--ranks", "1,2", "--network", "1gbit")
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 2, lines
    for np_, line in zip((1, 2), lines):
        assert line.split()[0].endswith("scripts/netlab.sh"), line
        assert f" --rate 1gbit --ranks {np_} -- -np {np_} -x OMP_NUM_THREADS=1 " in line, line
    for bad in (["--launcher", "srun"], ["--retries", "2"]):
        p = scaling(repo, deck, "--dry-run", "--network", "1gbit", *bad, check=False)
        assert p.returncode != 0 and "--network" in p.stderr, (bad, p.stderr)
    # A rate netlab refuses (or no lab here): one message, nothing run.
    p = scaling(repo, deck, "--exe", exe, "--out", out, "--network", "fast", check=False)
    assert p.returncode != 0 and "--network fast: no emulated network here" in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(out, "runs")), "runs made without a network"
    # Bad arguments: a message and a non-zero exit, nothing run.
    for bad in (["--study", "sideways"], ["--ranks", "0"], ["--set", "nodot=1"]):
        p = scaling(repo, deck, "--dry-run", *bad, check=False)
        assert p.returncode != 0 and "scaling.py" in p.stderr, (bad, p.returncode, p.stderr)
    print("scaling.py dry run OK:", len(commands), "commands")


def real_run(repo, exe, out, launcher):
    shutil.rmtree(out, ignore_errors=True)
    deck = os.path.join(repo, "tests", "mpi", "decks", "determinism.toml")  # batch 2
    p = scaling(repo, deck, "--exe", exe, "--out", out, "--ranks", "1,2", "--threads", "1",
                "--launcher", launcher, "--set", "output.file=\"x.h5\"")
    progress = [l for l in p.stdout.splitlines() if l.startswith("[")]
    assert len(progress) == 4 and all("kernel" in l for l in progress), p.stdout
    rows = list(csv.DictReader(open(os.path.join(out, "scaling.csv"))))
    assert len(rows) == 4, rows
    for r in rows:
        assert float(r["kernel_s"]) > 0 and float(r["total_s"]) > 0, r
        assert float(r["kernel_efficiency"]) > 0, r
        assert r["verified"] == "True", r
        for ph in ("read", "quantize", "qk_gemm", "softmax", "pv_gemm", "comm", "write"):
            assert float(r[ph + "_s"]) >= 0, (ph, r)
        assert float(r["write_s"]) > 0, r  # the deck's output file was redirected and written
        want_batch = 2 * int(r["ranks"]) if r["study"] == "weak" else 2
        assert int(r["batch"]) == want_batch, r
        if int(r["ranks"]) == 1:
            assert float(r["kernel_efficiency"]) == 1.0, r
    assert len(list(csv.DictReader(open(os.path.join(out, "scaling_runs.csv"))))) == 4
    for png in ("scaling_time.png", "scaling_efficiency.png", "scaling_phases.png"):
        data = open(os.path.join(out, png), "rb").read()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10000, (png, len(data))
    assert not [f for f in os.listdir(os.path.join(out, "runs")) if f.endswith(".h5")], \
        "run outputs left behind"
    # The same CSV again from the reports alone.
    os.remove(os.path.join(out, "scaling.csv"))
    scaling(repo, deck, "--exe", exe, "--out", out, "--ranks", "1,2", "--collect-only")
    assert len(list(csv.DictReader(open(os.path.join(out, "scaling.csv"))))) == 4
    print("scaling.py tiny study OK")


def network_run(repo, exe, out, rate):
    """A tiny ring study inside the netlab: every run's shards crossed its host's shaped link."""
    check = subprocess.run([os.path.join(repo, "scripts", "netlab.sh"), "--check"],
                           capture_output=True, text=True)
    if check.returncode != 0:
        print(f"SKIP: no lab can be built here: {check.stderr.strip()}")
        sys.exit(77)
    shutil.rmtree(out, ignore_errors=True)
    deck = os.path.join(repo, "tests", "mpi", "decks", "determinism.toml")
    scaling(repo, deck, "--exe", exe, "--out", out, "--study", "strong", "--ranks", "1,2",
            "--network", rate, "--set", 'run.kv_mode="ring"')
    rows = list(csv.DictReader(open(os.path.join(out, "scaling_runs.csv"))))
    assert len(rows) == 2, rows
    for r in rows:
        assert r["network"] == rate and r["kv_mode"] == "ring" and r["verified"] == "True", r
        log = open(os.path.join(out, "runs", f"strong_np{r['ranks']}_t1_r0.log")).read()
        sent = [int(b) for b in re.findall(r"netlab: host r\d+ \S+ link: sent (\d+) B", log)]
        assert len(sent) == int(r["ranks"]), (r["ranks"], log)
        if int(r["ranks"]) == 2:  # the ring's shards went over the lab's links, not another way
            assert min(sent) >= float(r["ring_bytes_sent"]) > 0, (sent, r["ring_bytes_sent"])
    for png in ("scaling_time.png", "scaling_efficiency.png", "scaling_phases.png"):
        assert os.path.getsize(os.path.join(out, png)) > 10000, png
    print(f"scaling.py --network {rate} OK")


def main():
    mode, repo, exe, out = sys.argv[1:5]
    if mode == "dry-run":
        dry_run(repo, exe, out)
    elif mode == "network":
        network_run(repo, exe, out, sys.argv[5])
    else:
        real_run(repo, exe, out, sys.argv[5])


if __name__ == "__main__":
    main()
