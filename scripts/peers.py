#!/usr/bin/python3
"""miniattn against the peers a user would compare it with, on the same inputs and threads.

For every shape (L, D, H, causal) and thread count, one seeded Q, K, V (B = 1, bhld, float32)
is written to an HDF5 file and run, in rounds, by
  miniattn int8.fp32 / int8.bf16 / int8.int8   the app (build/bin/miniattn, one rank), fused,
                                               int8 Q.K^T with P.V in fp32, bf16 or int8
  torch fp32 / torch bf16                      torch.nn.functional.scaled_dot_product_attention
  openvino f32 / openvino bf16                 OpenVINO's ScaledDotProductAttention op on the
                                               CPU plugin, f32 or bf16 inference precision
Every implementation runs once per round (the order rotates from round to round), so a busy
spell on a shared machine hits all of them; each round's time is the median of --repeat timed
calls after --warmup untimed ones, and the reported time is the median over the rounds. Each
output O is compared with a float64 numpy reference on the same inputs (rel-L2 and cosine over
all of O). Writes into --out-dir:
  peers.csv          one row per implementation x shape x threads (medians, GOP/s, errors,
                     time relative to miniattn int8.bf16 and int8.int8 in the same run)
  peers_rounds.csv   every round's time of every implementation
  peers.png          GOP/s bars per shape; peers_tradeoff.png: time vs error
and prints a table per shape.

What each time covers: miniattn's is its report's kernel.seconds_median (quantising Q, K, V,
packing and the kernels; inputs already in memory). A peer's is the SDPA call alone on tensors
made before (torch: fp32 or bf16 tensors; OpenVINO: an f32 model whose inference precision is
f32 or bf16, so its conversion of Q, K, V to bf16 is inside the call, as miniattn's quantisation
is). torch runs with torch.set_num_threads(T), OpenVINO with INFERENCE_NUM_THREADS = T,
NUM_STREAMS = 1 and no thread pinning (nobody else pins), miniattn with [run] threads = T;
OMP_NUM_THREADS = T for all. Torch and OpenVINO run in child processes of this script (one per
library, started with --python, by default the project venv .venv/bin/python) that stay up for
all rounds of a shape; a library that is missing, or lacks the op, is skipped with one line.

Examples
  scripts/peers.py --quick                                    one small shape, 2 rounds
  scripts/peers.py --L 4096 --D 128 --H 1 --causal 0 --threads 1 --rounds 5
  scripts/peers.py                                            the full study of docs/PERFORMANCE.md
  scripts/peers.py --peers openvino --L 256 --D 64 --H 1 --threads 1 --rounds 2   (CI's case)
"""
import argparse
import csv
import json
import math
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

PV_PRECISIONS = ("fp32", "bf16", "int8")
PEER_VARIANTS = {"torch": ("fp32", "bf16"), "openvino": ("f32", "bf16")}
RATIO_BASES = ("miniattn int8.bf16", "miniattn int8.int8")
FIELDS = ["impl", "L", "D", "H", "causal", "threads", "rounds", "repeat", "median_s", "min_s",
          "gops", "t_over_int8_bf16", "t_over_int8_int8", "rel_l2", "cosine", "own_rel_l2",
          "own_cosine", "others_cores", "version", "note"]
ROUND_FIELDS = ["impl", "L", "D", "H", "causal", "threads", "round", "median_s", "min_s", "runs"]
QUERY_BLOCK = 256  # reference rows per task: a 256 x 16k float64 score block is 32 MiB


def fail(msg, code=2):
    print(f"peers.py: error: {msg}", file=sys.stderr)
    sys.exit(code)


# ---------------------------------------------------------------------------------------------
# Inputs and the float64 reference (parent side: /usr/bin/python3, Debian numpy and h5py)

def make_inputs(heads, length, dim, seed, distribution):
    """Q, K, V (1, H, L, D) float32 from one seeded generator. "outliers" is FlashAttention-3's
    N(0,1) + N(0,100) * Bernoulli(0.001), as miniattn's synthetic input of that name."""
    import numpy as np
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(3):
        x = rng.standard_normal((1, heads, length, dim))
        if distribution == "outliers":
            hit = rng.random(x.shape) < 0.001
            x[hit] += 10.0 * rng.standard_normal(int(hit.sum()))
        out.append(x.astype(np.float32))
    return out


def write_inputs(path, q, k, v):
    import h5py
    with h5py.File(path, "w") as f:
        for name, x in (("Q", q), ("K", k), ("V", v)):
            f.create_dataset(name, data=x)


_REF = {}  # the pool's inputs, inherited by its forked workers


def _reference_rows(task):
    """O rows [i0, i1) of head h in float64: softmax(scale Q K^T) V, the causal mask aligned
    bottom-right (query i sees keys j <= i + Lk - Lq); a row that sees no key is 0."""
    import numpy as np
    h, i0, i1 = task
    q, k, v = _REF["q"][h, i0:i1], _REF["k"][h], _REF["v"][h]
    lq, lk = _REF["q"].shape[1], k.shape[0]
    kend = min(lk, max(0, i1 + lk - lq)) if _REF["causal"] else lk
    o = np.zeros((i1 - i0, q.shape[1]))
    if kend == 0:
        return h, i0, o
    s = (q @ k[:kend].T) * _REF["scale"]
    if _REF["causal"]:
        rows = np.arange(i0, i1)[:, None] + (lk - lq)
        s[np.arange(kend)[None, :] > rows] = -np.inf
    seen = np.isfinite(s).any(axis=1)
    m = np.where(seen, s.max(axis=1), 0.0)
    p = np.exp(s - m[:, None])
    o[seen] = (p[seen] @ v[:kend]) / p[seen].sum(axis=1)[:, None]
    return h, i0, o


def reference(q, k, v, causal, jobs):
    """float64 O (H, L, D) of (1, H, L, D) inputs, by query blocks over `jobs` processes (no
    L x L matrix: at L = 16k one would be 2 GiB per head)."""
    import numpy as np
    _REF.update(q=q[0].astype(np.float64), k=k[0].astype(np.float64),
                v=v[0].astype(np.float64), causal=causal, scale=1.0 / math.sqrt(q.shape[-1]))
    heads, length, dim = _REF["q"].shape
    out = np.empty((heads, length, dim))
    tasks = [(h, i, min(length, i + QUERY_BLOCK)) for h in range(heads)
             for i in range(0, length, QUERY_BLOCK)]
    with ProcessPoolExecutor(max(1, jobs), mp_context=multiprocessing.get_context("fork")) as ex:
        for h, i0, o in ex.map(_reference_rows, tasks):
            out[h, i0:i0 + o.shape[0]] = o
    _REF.clear()
    return out


def errors(o, ref):
    """rel-L2 and cosine of O against the reference over all elements (miniattn's definitions)."""
    import numpy as np
    diff = num = den_o = den_r = 0.0
    for h in range(ref.shape[0]):  # a head at a time: bounded float64 temporaries
        a = np.asarray(o[h], dtype=np.float64)
        b = ref[h]
        diff += float(np.sum((a - b) ** 2))
        num += float(np.sum(a * b))
        den_o += float(np.sum(a * a))
        den_r += float(np.sum(b * b))
    if not math.isfinite(diff + den_o):
        return float("nan"), float("nan")
    return math.sqrt(diff / den_r), num / math.sqrt(den_o * den_r) if den_o > 0 else 0.0


def unmasked_scores(length, causal):
    return length * (length + 1) // 2 if causal else length * length


# ---------------------------------------------------------------------------------------------
# Peer workers (child side: --python, the project venv; torch and OpenVINO live there)

def worker_setup_torch(args, q, k, v):
    try:
        import torch
        import torch.nn.functional as F
    except Exception as e:  # absent, or an install that fails to load
        return None, f"torch not importable ({type(e).__name__}: {e})"
    if not hasattr(F, "scaled_dot_product_attention"):
        return None, f"torch {torch.__version__} has no scaled_dot_product_attention"
    torch.set_num_threads(args.threads)
    causal = bool(args.causal)
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    tensors = {name: [torch.from_numpy(x).to(dtypes[name]).contiguous() for x in (q, k, v)]
               for name in PEER_VARIANTS["torch"]}
    notes = {}
    for name, t in tensors.items():
        try:  # which SDPA kernel the dispatcher picks for these tensors (FLASH_ATTENTION, MATH)
            from torch.nn.attention import SDPBackend
            kernel = SDPBackend(torch._fused_sdp_choice(*t, is_causal=causal)).name
        except Exception:
            kernel = "kernel unknown"
        notes[name] = f"{kernel}, {torch.get_num_threads()} thread(s)"

    def call(name):
        with torch.inference_mode():
            return F.scaled_dot_product_attention(*tensors[name], is_causal=causal)

    def output(name):
        return call(name).float().numpy()

    return (call, output, torch.__version__, notes), None


def worker_setup_openvino(args, q, k, v):
    try:
        import openvino as ov
    except Exception as e:
        return None, f"openvino not importable ({type(e).__name__}: {e})"
    ops = None
    for module in ("openvino.opset13", "openvino.runtime.opset13"):
        try:
            ops = __import__(module, fromlist=["scaled_dot_product_attention"])
            break
        except ImportError:
            continue
    if ops is None or not hasattr(ops, "scaled_dot_product_attention"):
        return None, f"openvino {ov.__version__} has no opset13 ScaledDotProductAttention"
    core = ov.Core()
    requests, notes = {}, {}
    for name in PEER_VARIANTS["openvino"]:
        params = [ops.parameter(list(x.shape), ov.Type.f32, name=n) for n, x in zip("qkv", (q, k, v))]
        sdpa = ops.scaled_dot_product_attention(*params, causal=bool(args.causal))
        model = ov.Model([sdpa.output(0)], params, "sdpa")
        compiled = core.compile_model(model, "CPU", {
            "INFERENCE_PRECISION_HINT": name, "INFERENCE_NUM_THREADS": args.threads,
            "NUM_STREAMS": 1, "ENABLE_CPU_PINNING": False})
        request = compiled.create_infer_request()
        for i, x in enumerate((q, k, v)):
            request.set_input_tensor(i, ov.Tensor(x, shared_memory=True))
        requests[name] = request
        # What the CPU plugin made of the op (the node that keeps its name: a fused "Subgraph"
        # where it tokenised the decomposed SDPA, else MatMul) and the precision it runs in.
        made = [f"{info['layerType'].astype(str)} {info['runtimePrecision'].astype(str)}"
                for op in compiled.get_runtime_model().get_ordered_ops()
                for info in [op.get_rt_info()]
                if op.get_friendly_name() == sdpa.get_friendly_name()
                and "layerType" in info and "runtimePrecision" in info]
        hint = compiled.get_property("INFERENCE_PRECISION_HINT")
        notes[name] = (f"SDPA node: {', '.join(made) or '?'}; inference precision "
                       f"{getattr(hint, 'get_type_name', lambda: hint)()}, "
                       f"{compiled.get_property('INFERENCE_NUM_THREADS')} thread(s)")

    def call(name):
        requests[name].infer()

    def output(name):
        requests[name].infer()
        return requests[name].get_output_tensor(0).data.copy()

    return (call, output, ov.__version__.split("-")[0], notes), None


def worker(args):
    """Serves one library: JSON lines in (run, save, quit), JSON lines out, on a copy of
    stdout; the libraries' own prints go to stderr."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def say(obj):
        proto.write(json.dumps(obj) + "\n")

    import h5py
    with h5py.File(args.input, "r") as f:
        q, k, v = (f[n][...] for n in ("Q", "K", "V"))
    setup = {"torch": worker_setup_torch, "openvino": worker_setup_openvino}[args.worker]
    ready, why = setup(args, q, k, v)
    if ready is None:
        say({"skip": why})
        return 0
    call, output, version, notes = ready
    say({"ready": True, "version": version, "notes": notes})
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "run":
            times = []
            for it in range(cmd["warmup"] + cmd["repeat"]):
                t0 = time.perf_counter()
                call(cmd["variant"])
                t = time.perf_counter() - t0
                if it >= cmd["warmup"]:
                    times.append(t)
            say({"times": times})
        elif cmd["cmd"] == "save":
            import numpy as np
            np.save(cmd["path"], output(cmd["variant"]).astype(np.float32))
            say({"saved": cmd["path"]})
        else:
            break
    return 0


class Worker:
    """A peer library's child process, up for all rounds of one shape and thread count."""

    def __init__(self, lib, python, input_path, causal, threads, log_path):
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        self.lib, self.log_path = lib, log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [python, os.path.abspath(__file__), "--worker", lib, "--input", input_path,
             "--causal", str(int(causal)), "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        self.hello = self.receive()

    def receive(self):
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.log.flush()
            with open(self.log_path) as f:
                tail = "".join(f.readlines()[-15:])
            raise RuntimeError(f"the {self.lib} process ended (exit {self.proc.returncode}):\n{tail}")
        return json.loads(line)

    def ask(self, **cmd):
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        except OSError:  # it has ended: receive() says how
            pass
        return self.receive()

    def cpu_seconds(self):
        """CPU seconds of the child so far (Linux /proc), for the load check."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------------------------------------
# miniattn runs

DECK = """[problem]
batch = 1
heads = {H}
kv_heads = {H}
seq_len = {L}
head_dim = {D}
causal = {causal}

[input]
source = "hdf5"
file = {input}

[run]
variant = "fused"
threads = {T}
"""


def run_miniattn(args, deck, pv, threads, repeat, warmup, report, out_file):
    """One process of the app; returns its JSON report."""
    sets = {"run.pv_precision": json.dumps(pv), "run.repeat": str(repeat),
            "run.warmup": str(warmup), "output.report": json.dumps(report),
            "output.file": json.dumps(out_file or ""),
            "verify.mode": json.dumps("sampled" if out_file else "none")}
    cmd = [args.miniattn, deck, "--quiet"]
    for key, value in sets.items():
        cmd += ["--set", f"{key}={value}"]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", MINIATTN_PEAK_SECONDS="0")
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    # Exit 1 is a completed run whose own verification failed: its figures still count.
    if p.returncode not in (0, 1) or not os.path.exists(report):
        fail(f"{' '.join(cmd)} failed with exit {p.returncode}:\n{p.stdout}{p.stderr}", 3)
    with open(report) as f:
        r = json.load(f)
    os.remove(report)
    return r


# ---------------------------------------------------------------------------------------------
# The study

def own_cpu_seconds(workers):
    ru_self = resource.getrusage(resource.RUSAGE_SELF)
    ru_kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (ru_self.ru_utime + ru_self.ru_stime + ru_kids.ru_utime + ru_kids.ru_stime
            + sum(w.cpu_seconds() for w in workers))


def run_config(args, shape, threads, inputs, ref, skipped, work):
    """Every implementation on one shape and thread count, in rounds; returns (rows, rounds)."""
    from scaling import busy_seconds
    L, D, H, causal = shape
    tag = f"L{L}_D{D}_H{H}_c{int(causal)}_t{threads}"
    deck = os.path.join(work, f"{tag}.toml")
    with open(deck, "w") as f:
        f.write(DECK.format(H=H, L=L, D=D, causal=str(bool(causal)).lower(),
                            input=json.dumps(inputs), T=threads))
    impls = [(f"miniattn int8.{pv}", "miniattn", pv) for pv in args.pv]
    workers, versions, notes = {}, {}, {}
    for lib in args.peers:
        if lib in skipped:
            continue
        try:
            w = Worker(lib, args.python, inputs, causal, threads, os.path.join(work, f"{lib}.log"))
        except (OSError, RuntimeError) as e:  # crashed setting up (memory?): this shape only
            print(f"peers.py: {lib} left out of {tag}: {str(e).strip()}", flush=True)
            continue
        if "skip" in w.hello:  # not installed, or without the op: for the whole study
            w.close()
            skipped[lib] = w.hello["skip"]
            print(f"peers.py: skipping {lib}: {skipped[lib]}", flush=True)
            continue
        workers[lib] = w
        for variant in PEER_VARIANTS[lib]:
            name = f"{lib} {variant}"
            impls.append((name, lib, variant))
            versions[name] = w.hello["version"]
            notes[name] = w.hello["notes"].get(variant, "")
    times = {name: [] for name, _, _ in impls}   # per round: list of timed calls
    outputs, own = {}, {}
    busy0, own0, t0 = busy_seconds(), own_cpu_seconds(workers.values()), time.time()
    try:
        for rnd in range(args.rounds):
            order = impls[rnd % len(impls):] + impls[:rnd % len(impls)]
            for name, lib, variant in order:
                first = rnd == 0
                if lib == "miniattn":
                    out = os.path.join(work, f"{tag}_{variant}_out.h5") if first else ""
                    r = run_miniattn(args, deck, variant, threads, args.repeat, args.warmup,
                                     os.path.join(work, f"{tag}_{variant}.json"), out)
                    times[name].append(r["kernel"]["runs"])
                    if first:
                        outputs[name] = out
                        v = r.get("verification") or {}
                        own[name] = (v.get("rel_l2"), v.get("cosine"))
                        versions[name] = f"{r.get('miniattn_version', '?')} git {r.get('git', '?')}"
                        notes[name] = f"{r['backend']} {r['variant']}, {r['threads_per_rank']} thread(s)"
                else:
                    w = workers[lib]
                    times[name].append(w.ask(cmd="run", variant=variant, warmup=args.warmup,
                                             repeat=args.repeat)["times"])
                    if first:
                        path = os.path.join(work, f"{tag}_{lib}_{variant}.npy")
                        w.ask(cmd="save", variant=variant, path=path)
                        outputs[name] = path
            line = "  ".join(f"{n} {1e3 * statistics.median(times[n][-1]):.2f}" for n, _, _ in impls)
            print(f"  round {rnd + 1}/{args.rounds} [ms]: {line}", flush=True)
        wall = time.time() - t0
        others = max(0.0, (busy_seconds() - busy0) - (own_cpu_seconds(workers.values()) - own0))
    except RuntimeError as e:  # a peer's process died mid-study
        fail(str(e), 3)
    finally:
        for w in workers.values():
            w.close()
    others_cores = others / max(wall, 1e-9)
    if others_cores > 0.25:
        print(f"peers.py: warning: other processes used {others_cores:.2f} cores during the "
              f"rounds of {tag}: its times are disturbed", flush=True)

    import numpy as np
    ops = 4.0 * D * H * unmasked_scores(L, causal)
    rows, rounds = [], []
    medians = {n: statistics.median(statistics.median(t) for t in times[n]) for n in times}
    for name, lib, variant in impls:
        if lib == "miniattn":
            import h5py
            with h5py.File(outputs[name], "r") as f:
                o = f["O"][0]
            os.remove(outputs[name])
        else:
            o = np.load(outputs[name])[0]
            os.remove(outputs[name])
        rel_l2, cosine = errors(o, ref)
        med, (own_rel_l2, own_cosine) = medians[name], own.get(name, (None, None))
        row = {"impl": name, "L": L, "D": D, "H": H, "causal": int(causal), "threads": threads,
               "rounds": args.rounds, "repeat": args.repeat, "median_s": med,
               "min_s": min(min(t) for t in times[name]), "gops": ops / med / 1e9,
               "rel_l2": rel_l2, "cosine": cosine, "own_rel_l2": own_rel_l2,
               "own_cosine": own_cosine, "others_cores": others_cores,
               "version": versions.get(name, ""), "note": notes.get(name, "")}
        for base, key in zip(RATIO_BASES, ("t_over_int8_bf16", "t_over_int8_int8")):
            row[key] = med / medians[base] if base in medians else None
        rows.append(row)
        for rnd, t in enumerate(times[name]):
            rounds.append({"impl": name, "L": L, "D": D, "H": H, "causal": int(causal),
                           "threads": threads, "round": rnd, "median_s": statistics.median(t),
                           "min_s": min(t), "runs": ";".join(f"{x:.6g}" for x in t)})
    os.remove(deck)
    return rows, rounds


def fmt(x, spec):
    """x formatted, or "-" right-aligned to the same width when there is none."""
    return format("-", ">" + spec.split(".")[0]) if x is None else format(x, spec)


def print_table(rows):
    by_config = {}
    for r in rows:
        by_config.setdefault((r["L"], r["D"], r["H"], r["causal"], r["threads"]), []).append(r)
    for (L, D, H, causal, threads), rs in by_config.items():
        print(f"\nL={L} D={D} H={H} causal={'yes' if causal else 'no'} threads={threads}  "
              f"({rs[0]['rounds']} rounds x {rs[0]['repeat']} timed calls; other load "
              f"{rs[0]['others_cores']:.2f} cores)")
        print(f"{'implementation':20} {'median ms':>10} {'min ms':>9} {'GOP/s':>8} "
              f"{'/int8.bf16':>10} {'/int8.int8':>10} {'rel-L2':>9} {'cosine':>10}  note")
        for r in rs:
            print(f"{r['impl']:20} {1e3 * r['median_s']:10.3f} {1e3 * r['min_s']:9.3f} "
                  f"{r['gops']:8.1f} {fmt(r['t_over_int8_bf16'], '10.2f')} "
                  f"{fmt(r['t_over_int8_int8'], '10.2f')} {r['rel_l2']:9.2e} {r['cosine']:10.7f}  "
                  f"{r['note']}")
    print("\n/int8.bf16, /int8.int8: the time over miniattn int8.bf16's (int8.int8's) in the same "
          "rounds: how many times faster miniattn is. GOP/s: 4 D x unmasked scores per second.")


def write_csv(path, rows, fields):
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else
                            format(r[k], ".6g") if isinstance(r[k], float) else r[k])
                        for k in fields})
    os.replace(path + ".tmp", path)


def plot(out_dir, rows):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    impls = list(dict.fromkeys(r["impl"] for r in rows))
    colors = {n: plt.cm.tab10(i % 10) for i, n in enumerate(impls)}
    panels = list(dict.fromkeys((r["H"], r["causal"], r["threads"]) for r in rows))
    cols = min(2, len(panels))
    nrows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(8 * cols, 4 * nrows), squeeze=False)
    for ax, (H, causal, threads) in zip(axes.flat, panels):
        rs = [r for r in rows if (r["H"], r["causal"], r["threads"]) == (H, causal, threads)]
        groups = list(dict.fromkeys((r["L"], r["D"]) for r in rs))
        width = 0.8 / len(impls)
        for j, name in enumerate(impls):
            xs, ys = [], []
            for g, (L, D) in enumerate(groups):
                hit = [r for r in rs if (r["L"], r["D"], r["impl"]) == (L, D, name)]
                if hit:
                    xs.append(g + (j - (len(impls) - 1) / 2) * width)
                    ys.append(hit[0]["gops"])
            ax.bar(xs, ys, width, color=colors[name], label=name)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([f"L={L}\nD={D}" for L, D in groups])
        ax.set_ylabel("GOP/s (4 D x unmasked scores / s)")
        ax.set_title(f"H={H}, causal={'yes' if causal else 'no'}, {threads} thread(s)")
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(impls)), fontsize=9)
    fig.suptitle("miniattn and its peers: median over interleaved rounds")
    fig.tight_layout(rect=(0, 0.04 + 0.02 * math.ceil(len(impls) / 4), 1, 1))
    fig.savefig(os.path.join(out_dir, "peers.png"), dpi=110)
    plt.close(fig)

    # Speed against accuracy: one point per implementation and configuration; the time over
    # miniattn int8.bf16's, or GOP/s when that was not run.
    relative = any(r["t_over_int8_bf16"] for r in rows)
    key = "t_over_int8_bf16" if relative else "gops"
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for name in impls:
        rs = [r for r in rows if r["impl"] == name and r[key] and r["rel_l2"] > 0]
        ax.scatter([r["rel_l2"] for r in rs], [r[key] for r in rs], color=colors[name],
                   label=name, s=25)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%.3g"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%.3g"))
    ax.set_xlabel("rel-L2 error of O against float64")
    ax.set_ylabel("time / miniattn int8.bf16's time (same rounds)" if relative else "GOP/s")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title("speed and accuracy, every shape and thread count")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "peers_tradeoff.png"), dpi=110)
    plt.close(fig)


def int_list(text):
    try:
        v = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of integers")
    if not v:
        raise argparse.ArgumentTypeError("an empty list")
    return v


def name_list(allowed):
    def parse(text):
        v = [x.strip() for x in text.split(",") if x.strip()]
        bad = [x for x in v if x not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {', '.join(bad)} (choose from "
                                             f"{', '.join(allowed)})")
        return list(dict.fromkeys(v))
    return parse


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="peers.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--L", type=int_list, default=[1024, 4096, 16384], help="sequence lengths (Lq = Lk)")
    ap.add_argument("--D", type=int_list, default=[64, 128], help="head dims (multiples of 16)")
    ap.add_argument("--H", type=int_list, default=[1, 8], help="heads")
    ap.add_argument("--causal", type=int_list, default=[0, 1], help="0 and/or 1")
    ap.add_argument("--threads", type=int_list, default=[1, 2])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3, help="timed calls per implementation and round")
    ap.add_argument("--warmup", type=int, default=1, help="untimed calls before them")
    ap.add_argument("--quick", action="store_true",
                    help="L 1024, D 128, H 1, causal 0, 1 thread, 2 rounds of 2 calls")
    ap.add_argument("--peers", type=name_list(list(PEER_VARIANTS)), default=list(PEER_VARIANTS),
                    help="torch,openvino (each skipped with a message where missing); '' for none")
    ap.add_argument("--pv", type=name_list(list(PV_PRECISIONS)), default=list(PV_PRECISIONS),
                    help="miniattn P.V precisions")
    ap.add_argument("--distribution", choices=("normal", "outliers"), default="normal")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out-dir", default="peers_out")
    ap.add_argument("--miniattn", default=os.path.join(REPO, "build", "bin", "miniattn"))
    ap.add_argument("--python", default=os.path.join(REPO, ".venv", "bin", "python"),
                    help="the interpreter that runs torch and OpenVINO")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="processes for the float64 reference")
    ap.add_argument("--worker", choices=list(PEER_VARIANTS), help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        a.causal, a.threads = a.causal[0], a.threads[0]
        return a
    if a.quick:
        a.L, a.D, a.H, a.causal, a.threads, a.rounds, a.repeat = [1024], [128], [1], [0], [1], 2, 2
    for d in a.D:
        if d % 16 or not 16 <= d <= 1024:
            ap.error(f"--D {d}: miniattn needs a multiple of 16 in [16, 1024]")
    if any(x < 1 for x in a.L + a.H + a.threads) or a.rounds < 1 or a.repeat < 1 or a.warmup < 0:
        ap.error("--L, --H, --threads, --rounds and --repeat must be >= 1, --warmup >= 0")
    if any(c not in (0, 1) for c in a.causal):
        ap.error("--causal takes 0 and/or 1")
    if not os.access(a.miniattn, os.X_OK):
        ap.error(f"--miniattn {a.miniattn}: not an executable (build it: scripts/build.sh)")
    a.miniattn = os.path.abspath(a.miniattn)
    if not a.pv and not a.peers:
        ap.error("nothing to run (--pv and --peers are both empty)")
    return a


def main(argv):
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    sys.path.insert(0, HERE)
    os.makedirs(args.out_dir, exist_ok=True)
    work = os.path.join(args.out_dir, "work")
    os.makedirs(work, exist_ok=True)
    skipped = {}
    if args.peers and not os.access(args.python, os.X_OK):
        for lib in args.peers:
            skipped[lib] = f"no interpreter {args.python} (run scripts/setup_python.sh)"
            print(f"peers.py: skipping {lib}: {skipped[lib]}", flush=True)
    rows, rounds = [], []
    shapes = [(L, D, H, c) for L in args.L for D in args.D for H in args.H for c in args.causal]
    for n, (L, D, H, causal) in enumerate(shapes):
        print(f"[{n + 1}/{len(shapes)}] L={L} D={D} H={H} causal={causal}: inputs and the "
              f"float64 reference", flush=True)
        q, k, v = make_inputs(H, L, D, args.seed, args.distribution)
        inputs = os.path.abspath(os.path.join(work, f"qkv_L{L}_D{D}_H{H}.h5"))
        write_inputs(inputs, q, k, v)
        ref = reference(q, k, v, bool(causal), args.jobs)
        del q, k, v
        for threads in args.threads:
            print(f"[{n + 1}/{len(shapes)}] L={L} D={D} H={H} causal={causal} threads={threads}",
                  flush=True)
            r, rr = run_config(args, (L, D, H, bool(causal)), threads, inputs, ref, skipped, work)
            rows += r
            rounds += rr
            write_csv(os.path.join(args.out_dir, "peers.csv"), rows, FIELDS)
            write_csv(os.path.join(args.out_dir, "peers_rounds.csv"), rounds, ROUND_FIELDS)
        os.remove(inputs)
    shutil.rmtree(work, ignore_errors=True)
    print_table(rows)
    plot(args.out_dir, rows)
    print(f"\nwrote {args.out_dir}/peers.csv, peers_rounds.csv, peers.png, peers_tradeoff.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
