#!/usr/bin/python3
"""Weak and strong scaling studies of miniattn in one command.

For every rank count x threads per rank, runs miniattn on a base deck (strong: the same problem;
weak: the problem grown with the rank count so the work per rank stays fixed), collects the JSON
reports, and writes into --out:
  scaling_runs.csv   one row per run (every repetition)
  scaling.csv        one row per configuration: medians over the repetitions, efficiency
  scaling_time.png   kernel and total time vs ranks (one line per study and thread count)
  scaling_efficiency.png  parallel efficiency vs ranks
  scaling_phases.png stacked per-phase seconds (read, quantize, pack, qk_gemm, softmax, pv_gemm,
                     comm, write) of every configuration

Examples
  scripts/scaling.py inputs/weak.toml --study weak --ranks 1,2,4 --threads 1,2
  scripts/scaling.py inputs/strong.toml --study strong --ranks 1,2 --repeat 5 --out runs/strong
  scripts/scaling.py inputs/strong.toml --study strong --ranks 64,128 --launcher srun --dry-run
  scripts/scaling.py inputs/weak.toml --study weak --ranks 48,96 --launcher pjsub \\
      --launcher-args "-L rscgrp=small,elapse=0:10:00"    # writes job scripts; then
  scripts/scaling.py inputs/weak.toml --study weak --ranks 48,96 --collect-only

Efficiency, per study and thread count, against the smallest rank count run (P0 ranks, time T0):
  strong: T0 * P0 / (T * P)        weak: T0 / T
computed from the kernel time (the attention compute, median over the app's timed runs) and,
in the CSV, from the total time as well.

Over a network: --network RATE runs every configuration inside scripts/netlab.sh, each rank on
its own emulated host (a network namespace) with a tc-shaped link of RATE (1gbit, 10gbit, ...,
none), Open MPI over TCP only, so weak and strong studies over a network are one command:
  scripts/scaling.py inputs/weak.toml --study weak --ranks 1,2 --network 1gbit --out runs/net

Launchers: mpirun (this repository's scripts/mpirun: root and oversubscription handled),
mpiexec, srun, pjsub (Fujitsu: writes one job script per run into --out/jobs and prints the
pjsub commands; run --collect-only once they are done), or a template containing {np},
{threads} and {cmd}, e.g. --launcher "mpirun -np {np} --map-by slot:PE={threads} {cmd}".
"""
import argparse
import csv
import itertools
import json
import math
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time
import tomllib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHASES = ["read", "quantize", "pack", "qk_gemm", "softmax", "pv_gemm", "comm", "write"]


def cpu_idle(seconds=2.0):
    """Fraction of the machine's CPU time that was idle over a short sample (Linux)."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)  # idle + iowait, total
    i0, t0 = sample()
    time.sleep(seconds)
    i1, t1 = sample()
    return (i1 - i0) / max(1, t1 - t0)


def wait_idle(threshold, timeout):
    """Waits until the CPU is at least `threshold` idle (other users' jobs done); returns the
    idle fraction seen last (the run goes ahead after `timeout` seconds regardless)."""
    t_end = time.time() + timeout
    idle = cpu_idle()
    while idle < threshold and time.time() < t_end:
        time.sleep(5)
        idle = cpu_idle()
    return idle


def busy_seconds():
    """CPU seconds the whole machine has spent busy since boot (Linux /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def children_seconds():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_measured(command, log):
    """Runs a command; returns its exit code, wall seconds, and the cores' worth of CPU that
    other processes used meanwhile (machine busy time minus this run's own CPU time)."""
    b0, c0, t0 = busy_seconds(), children_seconds(), time.time()
    with open(log, "w") as f:
        rc = subprocess.run(command, shell=True, stdout=f, stderr=subprocess.STDOUT).returncode
    wall = time.time() - t0
    others = (busy_seconds() - b0) - (children_seconds() - c0)
    return rc, wall, max(0.0, others / max(wall, 1e-9))


def parse_list(text):
    return [int(x) for x in text.split(",") if x.strip()]


def toml_value(text):
    """A --set value as the app reads it: TOML, or a bare string when it is not valid TOML."""
    try:
        return tomllib.loads("v = " + text)["v"]
    except tomllib.TOMLDecodeError:
        return text


def effective_deck(path, sets):
    with open(path, "rb") as f:
        deck = tomllib.load(f)
    for s in sets:
        key, _, value = s.partition("=")
        section, _, name = key.partition(".")
        deck.setdefault(section, {})[name] = toml_value(value)
    return deck


def toml_text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    return str(v)


def grown_problem(problem, study, weak_by, ranks):
    """The [problem] overrides of one run: none for strong, the grown dimension for weak."""
    if study == "strong":
        return {}
    if weak_by == "batch":
        return {"batch": problem.get("batch", 1) * ranks}
    if weak_by == "heads":
        # Query and KV heads grow together: the GQA group (and its K/V reuse) stays the same.
        return {"heads": problem.get("heads", 8) * ranks,
                "kv_heads": problem.get("kv_heads", 8) * ranks}
    # seq_len: the query length grows, the keys stay (non-causal work per rank is then fixed;
    # a causal mask with Lq > Lk leaves the early rows with no key, see docs/SCALING.md).
    lq = problem["seq_len"]
    return {"seq_len": lq * ranks, "kv_len": problem.get("kv_len", lq)}


def launch_command(launcher, extra, np_, threads, cmd, network=""):
    cmdline = " ".join(shlex.quote(c) for c in cmd)
    if network:  # netlab runs the job's mpirun itself (its hostfile, TCP only, no binding)
        extra = (extra + " ") if extra else ""
        return (f"{shlex.quote(os.path.join(REPO, 'scripts', 'netlab.sh'))} --rate "
                f"{shlex.quote(network)} --ranks {np_} -- -np {np_} "
                f"-x OMP_NUM_THREADS={threads} {extra}{cmdline}")
    if "{np}" in launcher:
        return launcher.format(np=np_, threads=threads, cmd=cmdline)
    extra = (extra + " ") if extra else ""
    if launcher == "mpirun":
        return (f"{shlex.quote(os.path.join(REPO, 'scripts', 'mpirun'))} -np {np_} --bind-to none "
                f"-x OMP_NUM_THREADS={threads} {extra}{cmdline}")
    if launcher == "mpiexec":
        return f"OMP_NUM_THREADS={threads} mpiexec -n {np_} {extra}{cmdline}"
    if launcher == "srun":
        return (f"OMP_NUM_THREADS={threads} srun -n {np_} -c {threads} --cpu-bind=cores "
                f"{extra}{cmdline}")
    if launcher == "pjsub":  # the command inside the job script
        return f"OMP_NUM_THREADS={threads} mpiexec -n {np_} {cmdline}"
    sys.exit(f"scaling.py: unknown launcher '{launcher}' (mpirun, mpiexec, srun, pjsub, or a "
             "template with {np}, {threads} and {cmd})")


def pjsub_script(args, tag, np_, threads, command):
    nodes = max(1, math.ceil(np_ * threads / args.cores_per_node))
    return "\n".join([
        "#!/bin/bash",
        f"#PJM -N miniattn_{tag}",
        f"#PJM -L node={nodes}",
        f"#PJM --mpi proc={np_}",
        f"#PJM -o {tag}.out",
        "#PJM -j",
        *([f"#PJM {args.launcher_args}"] if args.launcher_args else []),
        "set -e",
        f"cd {shlex.quote(os.path.abspath(args.out))}",
        command,
        ""])


def plan_runs(args, deck):
    """Every run of the study: dicts with the configuration and its command."""
    runs = []
    problem = deck.get("problem", {})
    exe = os.path.abspath(args.exe)
    modes = args.kv_modes.split(",") if args.kv_modes else [""]
    # Repetitions outermost: on a shared machine a noisy spell then hits every configuration
    # once rather than all repetitions of one.
    for rep, study, mode, threads, np_ in itertools.product(
            range(args.repeat), args.study.split(","), modes, args.threads, args.ranks):
        grown = grown_problem(problem, study, args.weak_by, np_)
        tag = f"{study}{'_' + mode if mode else ''}_np{np_}_t{threads}_r{rep}"
        report = os.path.abspath(os.path.join(args.out, "runs", tag + ".json"))
        sets = list(args.set)
        if mode:
            sets.append(f"run.kv_mode={toml_text(mode)}")
        sets += [f"problem.{k}={toml_text(v)}" for k, v in grown.items()]
        sets += [f"run.threads={threads}", f"output.report={toml_text(report)}"]
        out_file = deck.get("output", {}).get("file", "miniattn_out.h5")
        if out_file:
            out_file = os.path.abspath(os.path.join(args.out, "runs", tag + ".h5"))
            sets.append(f"output.file={toml_text(out_file)}")
        cmd = [exe, os.path.abspath(args.deck)]
        for s in sets:
            cmd += ["--set", s]
        runs.append({"study": study, "ranks": np_, "threads": threads, "rep": rep, "tag": tag,
                     "report": report, "h5": out_file, "network": args.network,
                     "command": launch_command(args.launcher, args.launcher_args, np_, threads,
                                               cmd, args.network)})
    return runs


def row_of(run, r):
    """The CSV fields of one run from its JSON report."""
    ph = r["phases"]
    p = r["problem"]
    ring = r.get("ring") or {}
    io = r.get("io") or {}
    lb = r.get("load_balance") or {}
    row = {"study": run["study"], "network": run.get("network") or "shm",
           "ranks": r["ranks"], "threads": r["threads_per_rank"],
           "cores": r["ranks"] * r["threads_per_rank"], "rep": run["rep"],
           "backend": r["backend"], "kv_mode": r["kv_mode"],
           "batch": p["batch"], "heads": p["heads"], "kv_heads": p["kv_heads"],
           "seq_len": p["seq_len"], "kv_len": p["kv_len"], "head_dim": p["head_dim"],
           "causal": int(bool(p["causal"])),
           "kernel_s": r["kernel"]["seconds_median"], "total_s": ph["total"]["max"],
           "gops": r["kernel"]["gops"], "ops": r["kernel"]["ops"],
           "compute_imbalance": lb.get("compute_imbalance", float("nan")),
           "predicted_imbalance": r.get("predicted_imbalance", float("nan")),
           "read_gbs": io.get("read_gbs", float("nan")), "write_gbs": io.get("write_gbs", float("nan")),
           "ring_hidden": ring.get("hidden_fraction_overall", float("nan")),
           "ring_bytes_sent": (ring.get("bytes_sent") or {}).get("max", float("nan")),
           "verified": (r.get("verification") or {}).get("passed", "")}
    for name in PHASES:
        row[name + "_s"] = ph[name]["avg"]
    return row


def with_efficiency(rows):
    """Adds kernel and total efficiency against the smallest rank count of the same study and
    thread count."""
    for r in rows:
        base = min((b for b in rows if (b["study"], b["kv_mode"], b["threads"]) ==
                    (r["study"], r["kv_mode"], r["threads"])), key=lambda b: b["ranks"])
        for key in ("kernel", "total"):
            t0, p0, t, p = base[key + "_s"], base["ranks"], r[key + "_s"], r["ranks"]
            eff = t0 / t if r["study"] == "weak" else t0 * p0 / (t * p)
            r[key + "_efficiency"] = eff
    return rows


def medians(rows):
    """One row per (study, ranks, threads): medians of the numeric fields over repetitions."""
    groups = {}
    for r in rows:
        groups.setdefault((r["study"], r["kv_mode"], r["ranks"], r["threads"]), []).append(r)
    out = []
    for key in sorted(groups):
        g = groups[key]
        m = dict(g[0])
        m["repeats"] = len(g)
        for k, v in g[0].items():
            if isinstance(v, float):
                m[k] = statistics.median(x[k] for x in g)
        m.pop("rep", None)
        out.append(m)
    return with_efficiency(out)


def write_csv(path, rows):
    if not rows:
        return
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)


def plot(out, rows, cores=0):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {}
    for r in rows:
        series.setdefault((r["study"], r["kv_mode"], r["threads"]), []).append(r)
    # Over a network every label says which (the shared-memory plots stay as they were).
    net = f" over {rows[0]['network']}" if rows and rows[0]["network"] != "shm" else ""
    ranks_all = sorted({r["ranks"] for r in rows})

    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    for (study, mode, threads), rs in sorted(series.items()):
        rs.sort(key=lambda r: r["ranks"])
        x = [r["ranks"] for r in rs]
        name = f"{study} {mode}{net}, {threads} thr/rank"
        ax[0].plot(x, [r["kernel_s"] for r in rs], "o-", label=name)
        ax[1].plot(x, [r["total_s"] for r in rs], "s--", label=name)
    for a, title in zip(ax, ("kernel time (attention compute)", "total time (whole run)")):
        a.set_xscale("log", base=2)
        a.set_xticks(ranks_all, [str(x) for x in ranks_all])
        a.set_xlabel("MPI ranks")
        a.set_ylabel("seconds (median)")
        a.set_title(title)
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "scaling_time.png"), dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for (study, mode, threads), rs in sorted(series.items()):
        x = [r["ranks"] for r in rs]
        ax.plot(x, [100 * r["kernel_efficiency"] for r in rs], "o-",
                label=f"{study} {mode}{net}, {threads} thr/rank (kernel)")
        ax.plot(x, [100 * r["total_efficiency"] for r in rs], "x:",
                label=f"{study} {mode}{net}, {threads} thr/rank (total)")
    ax.axhline(95, color="gray", lw=0.8, ls="--")
    if cores:  # strong scaling cannot beat the cores the ranks share
        for threads in sorted({r["threads"] for r in rows}):
            x = sorted({r["ranks"] for r in rows if r["threads"] == threads})
            ax.plot(x, [100 * min(1.0, cores / (p * threads)) for p in x], color="gray", lw=0.8,
                    ls=":", label=f"{cores} cores / (ranks x {threads} thr)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ranks_all, [str(x) for x in ranks_all])
    ax.set_ylim(0, 110)
    ax.set_xlabel("MPI ranks")
    ax.set_ylabel("parallel efficiency [%]")
    ax.set_title("parallel efficiency (dashed: 95%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "scaling_efficiency.png"), dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(rows) + 2), 4.5))
    labels = [f"{r['study'][0]}{'R' if r['kv_mode'] == 'ring' else ''} {r['ranks']}x{r['threads']}"
              for r in rows]
    bottom = [0.0] * len(rows)
    for name in PHASES:
        vals = [r[name + "_s"] for r in rows]
        ax.bar(labels, vals, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_ylabel("seconds (average over ranks)")
    ax.set_title(f"per-phase breakdown{net} (study ranks x threads)")
    ax.legend(fontsize=8, ncol=2)
    ax.tick_params(axis="x", labelrotation=45)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "scaling_phases.png"), dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("deck", help="base deck (TOML)")
    ap.add_argument("--study", default="strong,weak", help="strong, weak or both (default)")
    ap.add_argument("--ranks", type=parse_list, default=[1, 2], help="rank counts, e.g. 1,2,4")
    ap.add_argument("--threads", type=parse_list, default=[1], help="threads per rank, e.g. 1,2")
    ap.add_argument("--kv-modes", default="",
                    help="compare kv modes in one study, e.g. replicated,ring (default: the deck's)")
    ap.add_argument("--weak-by", choices=["batch", "heads", "seq_len"], default="batch",
                    help="what weak scaling grows with the rank count (default batch)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per configuration; the CSV and plots take medians")
    ap.add_argument("--set", action="append", default=[],
                    help="deck override for every run (as miniattn --set), repeatable")
    ap.add_argument("--exe", default=os.path.join(REPO, "build", "bin", "miniattn"))
    ap.add_argument("--launcher", default="mpirun")
    ap.add_argument("--launcher-args", default="", help="extra launcher flags (pjsub: #PJM lines)")
    ap.add_argument("--network", default="", metavar="RATE",
                    help="run every configuration inside scripts/netlab.sh: each rank on its own "
                         "emulated host, links shaped to RATE (e.g. 1gbit, 10gbit, none); needs "
                         "root with namespace privileges (docs/SCALING.md, 'Emulated network')")
    ap.add_argument("--cores-per-node", type=int, default=48, help="pjsub node count (A64FX: 48)")
    ap.add_argument("--cores", type=int, default=None,
                    help="cores the ranks share, drawn as the efficiency limit (default: this "
                         "machine's with the mpirun launcher, none otherwise)")
    ap.add_argument("--out", default="scaling_out", help="output folder")
    ap.add_argument("--keep-output", action="store_true", help="keep each run's HDF5 output")
    ap.add_argument("--wait-idle", type=float, default=0.0, metavar="FRACTION",
                    help="before each run, wait until the CPU is this idle (e.g. 0.9) on a "
                         "shared machine, at most --wait-timeout seconds")
    ap.add_argument("--wait-timeout", type=float, default=900.0)
    ap.add_argument("--retries", type=int, default=0,
                    help="run again (at most this many times) a run during which other processes "
                         "used more than --max-other-load cores: timings of a shared machine")
    ap.add_argument("--max-other-load", type=float, default=0.15, metavar="CORES")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    ap.add_argument("--collect-only", action="store_true",
                    help="only build the CSV and plots from the reports already in --out")
    args = ap.parse_args()
    for s in args.study.split(","):
        if s not in ("weak", "strong"):
            sys.exit(f"scaling.py: --study {args.study}: expected strong, weak or strong,weak")
    if min(args.ranks + args.threads) < 1 or args.repeat < 1:
        sys.exit("scaling.py: --ranks, --threads and --repeat must be positive")
    for s in args.set:
        if "=" not in s or "." not in s.partition("=")[0]:
            sys.exit(f"scaling.py: --set {s}: expected section.key=value")
    try:
        deck = effective_deck(args.deck, args.set)
    except (OSError, tomllib.TOMLDecodeError) as e:
        sys.exit(f"scaling.py: deck {args.deck}: {e}")
    if "seq_len" not in deck.get("problem", {}) and args.weak_by == "seq_len":
        sys.exit(f"scaling.py: deck {args.deck} has no [problem] seq_len")

    if args.network and args.launcher != "mpirun":
        sys.exit(f"scaling.py: --network runs the job through scripts/netlab.sh; it cannot be "
                 f"combined with --launcher {args.launcher}")
    if args.network and args.retries:
        # Open MPI's daemons started through the lab's rsh agent detach from this process, so
        # the ranks' CPU time is not its children's and would count as other processes' load.
        sys.exit("scaling.py: --retries cannot be used with --network: the lab's ranks are not "
                 "this process's children, so other processes' load cannot be told from theirs "
                 "(use --wait-idle)")
    if args.cores is None:
        args.cores = os.cpu_count() if args.launcher == "mpirun" else 0
    runs = plan_runs(args, deck)
    if args.network and not args.dry_run and not args.collect_only:
        check = subprocess.run([os.path.join(REPO, "scripts", "netlab.sh"), "--check",
                                "--rate", args.network], capture_output=True, text=True)
        if check.returncode != 0:
            reason = (check.stderr.strip().splitlines() or ["no reason given"])[-1]
            sys.exit(f"scaling.py: --network {args.network}: no emulated network here: {reason}")
    if args.dry_run:
        for r in runs:
            print(r["command"])
        return 0
    os.makedirs(os.path.join(args.out, "runs"), exist_ok=True)

    if args.launcher == "pjsub" and not args.collect_only:
        jobs = os.path.join(args.out, "jobs")
        os.makedirs(jobs, exist_ok=True)
        for r in runs:
            path = os.path.join(jobs, r["tag"] + ".sh")
            with open(path, "w") as f:
                f.write(pjsub_script(args, r["tag"], r["ranks"], r["threads"], r["command"]))
            print(f"pjsub {path}")
        print(f"then: {' '.join(shlex.quote(a) for a in sys.argv)} --collect-only", file=sys.stderr)
        return 0

    rows, failed = [], 0
    t_start = time.time()
    for i, r in enumerate(runs, 1):
        idle, other = float("nan"), float("nan")
        if not args.collect_only:
            log = os.path.join(args.out, "runs", r["tag"] + ".log")
            for attempt in range(args.retries + 1):
                if args.wait_idle > 0:
                    idle = wait_idle(args.wait_idle, args.wait_timeout)
                rc, dt, other = run_measured(r["command"], log)
                if args.network:
                    other = float("nan")  # the ranks' own CPU is in it (see --retries)
                if rc != 0 or other <= args.max_other_load or attempt == args.retries:
                    break
                print(f"[{i}/{len(runs)}] {r['tag']}: other processes used {other:.2f} cores "
                      f"during the run; again ({attempt + 1}/{args.retries})", flush=True)
            if r["h5"] and not args.keep_output and os.path.exists(r["h5"]):
                os.remove(r["h5"])
            if rc != 0:
                failed += 1
                print(f"[{i}/{len(runs)}] {r['study']} np={r['ranks']} threads={r['threads']} "
                      f"rep {r['rep'] + 1}: FAILED (exit {rc}) after {dt:.1f} s, see {log}",
                      flush=True)
                continue
        if not os.path.exists(r["report"]):
            failed += 1
            print(f"[{i}/{len(runs)}] {r['tag']}: no report {r['report']}", flush=True)
            continue
        with open(r["report"]) as f:
            row = row_of(r, json.load(f))
        row["idle_before"] = idle
        row["other_load"] = other
        rows.append(row)
        if not args.collect_only:
            print(f"[{i}/{len(runs)}] {r['study']} {row['kv_mode']} np={r['ranks']} "
                  f"threads={r['threads']} rep {r['rep'] + 1}/{args.repeat}: kernel {row['kernel_s']:.4f} s, total "
                  f"{row['total_s']:.3f} s, {row['gops']:.2f} GOP/s, compute imbalance "
                  f"{100 * row['compute_imbalance']:.1f}%, other load {other:.2f} cores "
                  f"({time.time() - t_start:.0f} s elapsed)",
                  flush=True)
    if not rows:
        print("scaling.py: no run produced a report", file=sys.stderr)
        return 1
    write_csv(os.path.join(args.out, "scaling_runs.csv"), rows)
    table = medians(rows)
    write_csv(os.path.join(args.out, "scaling.csv"), table)
    plot(args.out, table, args.cores)
    print(f"{'study':<7}{'kv_mode':<11}{'ranks':>6}{'thr':>4}{'kernel s':>11}{'eff':>8}{'total s':>10}"
          f"{'eff':>8}")
    for t in table:
        print(f"{t['study']:<7}{t['kv_mode']:<11}{t['ranks']:>6}{t['threads']:>4}{t['kernel_s']:>11.4f}"
              f"{100 * t['kernel_efficiency']:>7.1f}%{t['total_s']:>10.3f}"
              f"{100 * t['total_efficiency']:>7.1f}%")
    print(f"wrote {args.out}/scaling.csv, scaling_runs.csv, scaling_time.png, "
          f"scaling_efficiency.png, scaling_phases.png")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
