#!/usr/bin/python3
"""Performance model of miniattn: time per rank from measured kernel rates, I/O volume and the
ring's messages over a network model. docs/MODEL.md explains the equations.

  model.py calibrate REPORT.json [--cores N] [-o machine.json]
      per-thread costs of this machine from one run's JSON report (best: 1 rank)
  model.py predict --machine machine.json --network NET --ranks P --threads T \\
      --problem B,H,HKV,L,D[,causal] [--kv-mode ring --ring-size R]
  model.py predict --report R.json [--machine machine.json] [--network NET]
      the kernel time of the run R.json describes (its problem, ranks, threads, kv_mode), from
      the kernel rates of machine.json (default: of R.json itself) and the link R.json measured
      (ring.link_latency_s, ring.link_bandwidth_Bps; where absent, the NET preset, said so);
      the last line is `predicted_seconds X`
  model.py validate [--machine machine.json] [--network NET] [--max-error 0.15] REPORT.json...
      predicted vs measured kernel and total time of each report (rates and link as predict
      --report); exit 1 beyond max-error
  model.py fit-link-cpu [--machine machine.json] [--link L,B] RING_REPORT.json...
      c_net, the host CPU per byte of a ring step on a kernel TCP link (for --link-cpu), from
      ring runs whose transfers the compute hides
  model.py project --machine machine.json --network tofu-d|ib-hdr [--csv F] [--png F]
      canonical problems (L = 128k and 1M, D = 128, H = 32, causal) from 1 to 1024 ranks,
      replicated and ring mode

Networks (--network): shm (one node, MPI over shared memory: this machine), tofu-d (Fugaku),
ib-hdr (an InfiniBand HDR cluster). Rates come from the calibration, never from constants:
calibrate on the target (one rank on one node) to project for it.
"""
import argparse
import json
import math
import os
import sys

import numpy as np

GiB = 1024.0**3

# Interconnect and node facts. latency: MPI point-to-point, s; link: bandwidth of one
# inter-node flow, B/s; intra: bandwidth of an intra-node MPI copy, B/s; cpu_copy: the receiving
# CPU does the copy (shared memory: it takes a thread away from compute instead of overlapping);
# fs: aggregate parallel file system bandwidth, B/s, and fs_rank the most one rank gets.
NETWORKS = {
    "shm": dict(title="one node, MPI over shared memory (this machine)", latency=1.0e-6,
                link=None, intra=6.0e9, cpu_copy=True, cores_per_node=None, mem_per_node=None,
                fs=None, fs_rank=None),
    # Fugaku: Tofu interconnect D, 6 TNIs x 6.8 GB/s per node, ~0.5 us put latency (Ajima et
    # al., IEEE Cluster 2018); one MPI flow uses one TNI. A64FX: 48 compute cores, 32 GiB HBM2.
    # FEFS second-layer storage is shared; 1.0 TB/s aggregate and 2 GB/s per rank assumed.
    "tofu-d": dict(title="Fugaku (Tofu-D, A64FX nodes)", latency=1.0e-6, link=6.8e9, intra=12.0e9,
                   cpu_copy=False, cores_per_node=48, mem_per_node=32 * GiB, fs=1.0e12,
                   fs_rank=2.0e9),
    # InfiniBand HDR: 200 Gb/s per port (25 GB/s), ~1.1 us MPI latency; dual-socket 64-core
    # nodes with 256 GiB; a Lustre file system of 100 GB/s aggregate, 3 GB/s per rank assumed.
    "ib-hdr": dict(title="InfiniBand HDR cluster (2 x 64-core nodes)", latency=1.1e-6, link=25.0e9,
                   intra=10.0e9, cpu_copy=False, cores_per_node=128, mem_per_node=256 * GiB,
                   fs=100.0e9, fs_rank=3.0e9),
}

KEY_QUANT_BLOCK = 64


# ---------------------------------------------------------------------------------------------
# Work: the app's decomposition, in numpy
# ---------------------------------------------------------------------------------------------

class Problem:
    def __init__(self, batch, heads, kv_heads, lq, lk, d, causal, tile_q=64, tile_kv=64,
                 pv="fp32"):
        self.batch, self.heads, self.kv_heads = batch, heads, kv_heads
        self.lq, self.lk, self.d, self.causal = lq, lk, d, causal
        self.tile_q, self.tile_kv, self.pv = tile_q, tile_kv, pv

    @staticmethod
    def from_report(r):
        p = r["problem"]
        return Problem(p["batch"], p["heads"], p["kv_heads"], p["seq_len"], p["kv_len"],
                       p["head_dim"], bool(p["causal"]), r["tile"]["q"], r["tile"]["kv"],
                       r["pv_precision"])

    def visible(self, rows):
        if not self.causal:
            return np.full_like(rows, self.lk)
        return np.clip(rows + self.lk - self.lq + 1, 0, self.lk)

    def tiles(self):
        """Rows and computed keys (whole K/V tiles) of every query tile of one head."""
        row0 = np.arange(0, self.lq, self.tile_q, dtype=np.int64)
        rows = np.minimum(self.tile_q, self.lq - row0)
        seen = self.visible(row0 + rows - 1)
        keys = np.minimum(-(-seen // self.tile_kv) * self.tile_kv, self.lk)
        return row0, rows, keys

    def group_size(self):
        return self.heads // self.kv_heads

    def v_bytes(self):
        return {"fp32": 4, "bf16": 2, "int8": 1}[self.pv] * self.d


ROW_OVERHEAD_KEYS = 16.0  # decomp.cpp: per-row work in key equivalents


def replicated_ranks(pb, nranks):
    """Per rank: query rows, computed scores, KV heads touched (contiguous cost-balanced ranges of
    (batch, head, tile) items, as decomp.cpp cuts them)."""
    _, rows, keys = pb.tiles()
    nh = pb.batch * pb.heads
    t = len(rows)
    cost = np.tile(rows * (keys + ROW_OVERHEAD_KEYS), nh)
    prefix = np.concatenate([[0.0], np.cumsum(cost)])
    targets = prefix[-1] * np.arange(1, nranks) / nranks
    cuts = np.concatenate([[0], np.searchsorted(prefix, targets), [len(cost)]]).astype(np.int64)
    rows_all, scores_all = np.tile(rows, nh), np.tile(rows * keys, nh)
    prow = np.concatenate([[0], np.cumsum(rows_all)])
    pscore = np.concatenate([[0], np.cumsum(scores_all)])
    out = []
    for r in range(nranks):
        a, b = cuts[r], cuts[r + 1]
        groups = 0
        if b > a:
            g0 = (a // t) // pb.group_size()
            g1 = ((b - 1) // t) // pb.group_size()
            groups = g1 - g0 + 1
        out.append(dict(rows=float(prow[b] - prow[a]), scores=float(pscore[b] - pscore[a]),
                        keys=float(groups * pb.lk), groups=groups))
    return out


def ring_chunks(units, unit, length, nchunks):
    return [(min(units * c // nchunks * unit, length), min(units * (c + 1) // nchunks * unit, length))
            for c in range(nchunks)]


def ring_ranks(pb, nranks, ring_size):
    """Per rank in ring mode (ring_plan.cpp): rows, computed scores, keys held, shard bytes."""
    R = ring_size or nranks
    rings = nranks // R
    groups = pb.batch * pb.kv_heads
    nchunks = 2 * R if pb.causal else R
    key_unit = math.lcm(KEY_QUANT_BLOCK, pb.tile_kv)
    kchunks = ring_chunks(-(-pb.lk // key_unit), key_unit, pb.lk, nchunks)
    qchunks = ring_chunks(-(-pb.lq // pb.tile_q), pb.tile_q, pb.lq, nchunks)
    row0, rows, keys = pb.tiles()
    bpk = pb.d + 4 + pb.v_bytes()  # int8 K, its scale, V in the P.V precision
    per_j = []  # one head's rows, scores and keys of ring rank j
    for j in range(R):
        ids = [j, 2 * R - 1 - j] if pb.causal else [j]
        sel = np.zeros(len(row0), bool)
        for c in ids:
            sel |= (row0 >= qchunks[c][0]) & (row0 < qchunks[c][1])
        per_j.append((float(rows[sel].sum()), float((rows * keys)[sel].sum()),
                      float(sum(kchunks[c][1] - kchunks[c][0] for c in ids))))
    out = []
    for rank in range(nranks):
        ring, j = rank // R, rank % R
        g = groups * (ring + 1) // rings - groups * ring // rings
        heads = g * pb.group_size()
        r, sc, k = per_j[j]
        out.append(dict(rows=r * heads, scores=sc * heads, keys=g * k, groups=g,
                        shard_bytes=g * k * bpk))
    return out


# ---------------------------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------------------------

def effective_threads(ranks, threads, cores):
    """Threads' worth of cores a rank gets: all of them unless ranks x threads oversubscribe."""
    return threads * min(1.0, cores / float(ranks * threads)) if cores else float(threads)


def rank_work(pb, r):
    if r.get("kv_mode") == "ring":
        ring = r.get("ring") or {}
        size = int(ring.get("ring_size", {}).get("max", r["ranks"]))
        return ring_ranks(pb, r["ranks"], size)
    return replicated_ranks(pb, r["ranks"])


def calibrate(r, cores):
    pb = Problem.from_report(r)
    ranks, threads = r["ranks"], r["threads_per_rank"]
    eff = effective_threads(ranks, threads, cores)
    work = rank_work(pb, r)
    avg = lambda k: sum(w[k] for w in work) / ranks
    ph = {k: v["avg"] for k, v in r["phases"].items()}
    compute = ph["qk_gemm"] + ph["softmax"] + ph["pv_gemm"]
    d = pb.d
    q_elems, kv_elems = avg("rows") * d, avg("keys") * d
    verified = (r.get("verification") or {}).get("rows_checked", 0) / ranks
    io = r.get("io") or {}
    m = dict(
        source=os.path.basename(r.get("_path", "")), cpu=r.get("cpu", ""), backend=r["backend"],
        cores=cores,
        # seconds per unit of work on one thread: the two GEMMs per score and channel, the
        # softmax per score
        gemm_per_score_channel=(ph["qk_gemm"] + ph["pv_gemm"]) * eff / (avg("scores") * d),
        softmax_per_score=ph["softmax"] * eff / avg("scores"),
        # quantise and pack (K/V once per head into the backend's layout), per input element
        quantize_per_elem=(ph["quantize"] + ph.get("pack", 0.0)) * eff / (q_elems + kv_elems),
        # outside the timed kernel phases: finalisation and threads waiting, per query row
        finalize_per_row=r["kernel"]["seconds_outside_phases"] * eff / avg("rows"),
        generate_per_elem=ph["read"] * eff / (q_elems + 2 * kv_elems),
        verify_per_elem=(ph["verify"] * eff / (verified * pb.lk * d)) if verified else 0.0,
        write_bandwidth=(io.get("write_bytes", 0) / ph["write"]) if ph["write"] > 0 else 0.0,
        gops_per_thread=r["kernel"]["ops"] / (compute * eff * ranks) * 1e-9,
    )
    # The rest of the run's total (set-up, allocation, reductions). It may come out slightly
    # negative: the runs are counted at their median, and the warm-up run or the others may
    # have been faster; keeping the sign makes the calibration run predict itself exactly.
    m["overhead"] = ph["total"] - (ph["read"] + (r["kernel"]["warmup"] + len(r["kernel"]["runs"]))
                                   * r["kernel"]["seconds_median"] + ph["verify"] + ph["write"])
    return m


# ---------------------------------------------------------------------------------------------
# Prediction
# ---------------------------------------------------------------------------------------------

def hop_seconds(net, nbytes, ring_size, ranks_per_node):
    """One ring step's transfer: the slowest hop; a ring wider than a node has inter-node hops."""
    if nbytes <= 0:
        return 0.0
    inter = net["link"] is not None and ranks_per_node and ring_size > ranks_per_node
    bw = net["link"] if inter else net["intra"]
    return net["latency"] + nbytes / bw


def predict(m, net, pb, ranks, threads, kv_mode="replicated", ring_size=0, input_source="synthetic",
            verify_rows=0, write_output=False, runs=1, ranks_per_node=None, file_bytes=4,
            shard_bytes=None):
    cores = m["cores"] if net is NETWORKS["shm"] or net.get("cores_per_node") is None else None
    eff = effective_threads(ranks, threads, cores)
    if ranks_per_node is None:
        cpn = net.get("cores_per_node") or m["cores"]
        ranks_per_node = max(1, cpn // threads)
    ring = kv_mode == "ring"
    work = ring_ranks(pb, ranks, ring_size) if ring else replicated_ranks(pb, ranks)
    if ring and shard_bytes:  # a report's own (the backend's packed layout included)
        scale = shard_bytes / max(w["shard_bytes"] for w in work)
        work = [dict(w, shard_bytes=w["shard_bytes"] * scale) for w in work]
    d = pb.d
    out = []
    for w in work:
        t = {}
        t["quantize"] = m["quantize_per_elem"] * (w["rows"] + w["keys"]) * d / eff
        t["compute"] = (m["gemm_per_score_channel"] * d + m["softmax_per_score"]) * w["scores"] / eff
        t["finalize"] = m["finalize_per_row"] * w["rows"] / eff
        t["comm"] = 0.0
        if ring:
            R = ring_size or ranks
            steps = R - 1
            hop = hop_seconds(net, w["shard_bytes"], R, ranks_per_node)
            step_compute = t["compute"] / R
            if net["cpu_copy"]:
                t["comm"] = steps * hop / threads      # a thread copies while the others compute
            else:
                # What compute does not hide, or, on a kernel TCP stack, the host CPU that moving
                # the shard takes from the rank, whichever is longer (that work runs while the
                # rank would otherwise wait for the link).
                # CPU work like the compute: ranks sharing a core share it too (eff).
                host = w["shard_bytes"] * net.get("cpu_per_byte", 0.0) / eff
                t["comm"] = steps * max(host, hop - step_compute)
        t["kernel"] = t["quantize"] + t["compute"] + t["finalize"] + t["comm"]
        elems = (w["rows"] + 2 * w["keys"]) * d
        if input_source == "synthetic":
            t["read"] = m["generate_per_elem"] * elems / eff
        else:
            per_rank = min(net["fs_rank"] or 1e30, (net["fs"] or 1e30) / ranks)
            t["read"] = elems * file_bytes / per_rank
        t["verify"] = m["verify_per_elem"] * (verify_rows / ranks) * pb.lk * d / eff if verify_rows else 0.0
        out_bytes = w["rows"] * (d + 1) * 4
        if not write_output:
            t["write"] = 0.0
        elif net["fs"]:
            t["write"] = out_bytes / min(net["fs_rank"], net["fs"] / ranks)
        else:
            t["write"] = out_bytes * ranks / m["write_bandwidth"] if m["write_bandwidth"] else 0.0
        # K/V memory: the float inputs, plus the quantised copy (replicated) or the two ring
        # buffers (ring).
        v_copy = 0 if pb.pv == "fp32" else pb.v_bytes()  # fp32 P.V reads the float V
        quantised = 2 * w["shard_bytes"] if ring else w["keys"] * (pb.d + 4 + v_copy)
        t["kv_bytes"] = w["keys"] * d * 8 + quantised
        # All of the rank's arrays: K/V, float Q and O, int8 Q, scales and LSE, and in ring mode
        # the online-softmax state of every row.
        t["mem_bytes"] = t["kv_bytes"] + w["rows"] * (d * 9 + 8 + ((d + 2) * 4 if ring else 0))
        out.append(t)
    # The run waits for its slowest rank.
    res = {k: max(t[k] for t in out) for k in out[0]}
    res["total"] = res["read"] + runs * res["kernel"] + res["verify"] + res["write"] + m["overhead"]
    res["imbalance"] = max(t["compute"] for t in out) / (sum(t["compute"] for t in out) / ranks) - 1
    return res


def ring_field(r, name, stat):
    """A per-rank figure of the report's ring section ({min, avg, max}, or a plain number);
    None when the report does not have it."""
    v = (r.get("ring") or {}).get(name)
    if isinstance(v, dict):
        v = v.get(stat)
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def parse_link(text):
    """--link LATENCY_S,BANDWIDTH_BPS (e.g. 1e-5,1.19e8 for a 1 Gbit/s TCP link)."""
    try:
        lat, bw = (float(x) for x in text.split(","))
    except ValueError:
        sys.exit(f"model.py: --link {text}: expected LATENCY_S,BANDWIDTH_BPS, e.g. 1e-5,1.19e8")
    if not (lat >= 0 and bw > 0):
        sys.exit(f"model.py: --link {text}: latency must be >= 0 and bandwidth > 0")
    return lat, bw


def link_network(fallback, lat, bw, title):
    """A network between hosts: transfers overlap the compute (the ring drives them between
    tiles) instead of taking a thread, as a shared-memory copy does."""
    return dict(fallback, title=title, latency=lat, link=bw, intra=bw, cpu_copy=False,
                cores_per_node=None, cpu_per_byte=0.0)


def report_network(r, fallback, given=None):
    """The network a report's run had: its measured link where the report has one (latency: the
    ranks' mean; bandwidth: the slowest rank's, which paces the ring), else the --link given,
    else the fallback preset. Returns (network, description)."""
    lat = ring_field(r, "link_latency_s", "avg")
    bw = ring_field(r, "link_bandwidth_Bps", "min")
    if lat is not None and bw is not None and bw > 0:
        net = link_network(fallback, lat, bw, "the report's measured link")
        return net, f"measured: latency {lat * 1e6:.1f} us, bandwidth {bw * 8e-9:.3f} Gbit/s"
    missing = "assumed (the report has no ring.link_latency_s/link_bandwidth_Bps): "
    if given:
        lat, bw = given
        return (link_network(fallback, lat, bw, "--link"),
                f"{missing}--link: latency {lat * 1e6:.1f} us, bandwidth {bw * 8e-9:.3f} Gbit/s")
    bw_text = f"{(fallback['link'] or fallback['intra']) * 8e-9:.1f} Gbit/s"
    return fallback, (f"{missing}{fallback['title']}, latency {fallback['latency'] * 1e6:.1f} us, "
                      f"{bw_text}" + (", a CPU copy" if fallback["cpu_copy"] else ""))


def predict_report(r, m, fallback, cores, given_link=None, cpu_per_byte=0.0):
    """Prediction of the run a report describes: (prediction, machine used, link description).
    cpu_per_byte: host CPU seconds a rank spends per byte of a ring step on a kernel TCP stack
    (0: the NIC moves the data, as RDMA does)."""
    if m is None:  # the report's own kernel rates
        m = calibrate(r, cores or os.cpu_count())
    elif cores:  # the cores the run had, where they differ from the calibration machine's
        m = dict(m, cores=cores)
    net, link = report_network(r, fallback, given_link)
    if cpu_per_byte and not net["cpu_copy"]:
        net = dict(net, cpu_per_byte=cpu_per_byte)
        link += f"; host CPU {cpu_per_byte * 1e9:.2f} ns per byte of a step (--link-cpu)"
    if r["kv_mode"] != "ring":
        link = "not used (replicated mode: no transfers in the kernel)"
    pb = Problem.from_report(r)
    p = predict(m, net, pb, r["ranks"], r["threads_per_rank"], **report_config(r),
                shard_bytes=ring_field(r, "shard_bytes", "max"))
    return p, m, link


def report_config(r):
    ring = r.get("ring") or {}
    return dict(kv_mode=r["kv_mode"],
                ring_size=int(ring.get("ring_size", {}).get("max", 0)) if ring else 0,
                input_source=(r.get("io") or {}).get("input", "synthetic"),
                verify_rows=(r.get("verification") or {}).get("rows_checked", 0),
                write_output=bool(r.get("output_file")),
                runs=r["kernel"]["warmup"] + len(r["kernel"]["runs"]))


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------

def load_report(path):
    try:
        with open(path) as f:
            r = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"model.py: report {path}: {e}")
    missing = [k for k in ("problem", "ranks", "threads_per_rank", "kv_mode", "kernel", "phases",
                           "tile", "pv_precision") if not isinstance(r, dict) or k not in r]
    if missing:
        sys.exit(f"model.py: report {path}: not a miniattn JSON report (no {', '.join(missing)})")
    r["_path"] = path
    return r


def cmd_calibrate(a):
    m = calibrate(load_report(a.report), a.cores)
    text = json.dumps(m, indent=2)
    if a.output:
        with open(a.output, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


def cmd_validate(a):
    m = json.load(open(a.machine)) if a.machine else None
    net = NETWORKS[a.network]
    worst = 0.0
    print(f"kernel rates: {'from ' + a.machine if m else 'each report its own'}; link: each "
          f"report's measured one, else {'--link ' + a.link if a.link else a.network} (assumed)")
    print(f"{'report':<34}{'ranks':>6}{'thr':>4} {'mode':<11}{'link':<9}{'kernel meas':>12}"
          f"{'model':>9}{'err':>7}{'total meas':>12}{'model':>9}{'err':>7}")
    rows = []
    for path in a.reports:
        r = load_report(path)
        p, _, link = predict_report(r, m, net, a.cores, a.link and parse_link(a.link),
                                    a.link_cpu * 1e-9)
        km, tm = r["kernel"]["seconds_median"], r["phases"]["total"]["max"]
        ke, te = p["kernel"] / km - 1, p["total"] / tm - 1
        worst = max(worst, abs(ke), abs(te))
        link_kind = ("-" if r["kv_mode"] != "ring" else
                     "measured" if link.startswith("measured") else "assumed")
        rows.append(dict(report=os.path.basename(path), ranks=r["ranks"],
                         threads=r["threads_per_rank"], kv_mode=r["kv_mode"], link=link_kind,
                         kernel_measured=km, kernel_model=p["kernel"], kernel_error=ke,
                         comm_model=p["comm"], total_measured=tm, total_model=p["total"],
                         total_error=te))
        print(f"{os.path.basename(path)[:33]:<34}{r['ranks']:>6}{r['threads_per_rank']:>4} "
              f"{r['kv_mode']:<11}{link_kind:<9}{km:>12.4f}{p['kernel']:>9.4f}{100 * ke:>6.1f}%"
              f"{tm:>12.3f}{p['total']:>9.3f}{100 * te:>6.1f}%")
    if a.csv:
        write_csv(a.csv, rows)
    print(f"largest error {100 * worst:.1f}% (bound {100 * a.max_error:.0f}%)")
    return 0 if worst <= a.max_error else 1


def write_csv(path, rows):
    import csv
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)


def parse_problem(text):
    f = text.split(",")
    b, h, hkv, L, d = (int(x) for x in f[:5])
    causal = len(f) > 5 and f[5] in ("causal", "1", "true")
    return Problem(b, h, hkv, L, L, d, causal)


def cmd_fit_link_cpu(a):
    """c_net from ring runs over a link: the host CPU per byte of a step that makes the model
    give each run's measured kernel time, where that term (not the link's wait) is what binds."""
    m = json.load(open(a.machine)) if a.machine else None
    net = NETWORKS[a.network]
    fits = []
    print(f"{'report':<34}{'shard B':>11}{'measured':>10}{'no host':>10}{'wait':>9}{'ns/B':>7}")
    for path in a.reports:
        r = load_report(path)
        if r["kv_mode"] != "ring" or r["ranks"] < 2:
            print(f"{os.path.basename(path)[:33]:<34} skipped: not a ring of 2 or more ranks")
            continue
        p, used, _ = predict_report(r, m, net, a.cores, a.link and parse_link(a.link))
        eff = effective_threads(r["ranks"], r["threads_per_rank"], used["cores"])
        pb = Problem.from_report(r)
        ring = r.get("ring") or {}
        size = int(ring.get("ring_size", {}).get("max", r["ranks"])) or r["ranks"]
        shard = (ring_field(r, "shard_bytes", "max") or
                 max(w["shard_bytes"] for w in ring_ranks(pb, r["ranks"], size)))
        steps = size - 1
        measured = r["kernel"]["seconds_median"]
        no_comm = p["kernel"] - p["comm"]
        # Host work shows only where it outlasts the link's wait (the model takes the longer).
        # (CPU time: ranks sharing a core take eff of one)
        per_byte = (measured - no_comm) * eff / (steps * shard)
        binds = measured - no_comm > p["comm"]
        if binds:
            fits.append(per_byte)
        print(f"{os.path.basename(path)[:33]:<34}{shard:>11.0f}{measured:>10.4f}{no_comm:>10.4f}"
              f"{p['comm']:>9.4f}{per_byte * 1e9:>7.2f}"
              + ("" if binds else "  (the link's wait binds: not used)"))
    if not fits:
        print("no run where the host term binds: c_net cannot be fitted from these reports")
        return 1
    fits.sort()
    print(f"link_cpu_ns_per_byte {1e9 * fits[len(fits) // 2]:.3g}  (median of {len(fits)})")
    return 0


def cmd_predict_report(a):
    r = load_report(a.report)
    m = json.load(open(a.machine)) if a.machine else None
    p, m, link = predict_report(r, m, NETWORKS[a.network], a.cores, a.link and parse_link(a.link),
                                a.link_cpu * 1e-9)
    pb = Problem.from_report(r)
    print(f"run: {a.report}: B={pb.batch} H={pb.heads} Hkv={pb.kv_heads} Lq={pb.lq} Lk={pb.lk} "
          f"D={pb.d} causal={int(pb.causal)} pv={pb.pv}, {r['ranks']} rank(s) x "
          f"{r['threads_per_rank']} thread(s), {r['kv_mode']}")
    print(f"kernel rates: {'from ' + a.machine if a.machine else 'the report its own phases'} "
          f"({m['backend']}, {m['gops_per_thread']:.1f} GOP/s per thread)")
    print(f"link: {link}")
    eff = effective_threads(r["ranks"], r["threads_per_rank"], m["cores"])
    print(f"cores: {m['cores']} for {r['ranks']} rank(s) x {r['threads_per_rank']} thread(s): "
          f"{eff:.3g} thread(s)' worth of cores per rank")
    measured = ring_field(r, "bytes_per_step", "max")
    if r["kv_mode"] == "ring" and measured is not None:
        print(f"bytes_per_step {measured:.6g} (report)")
    for k in ("quantize", "compute", "finalize", "comm", "kernel"):
        print(f"{k:<10} {p[k]:.6g}")
    print(f"measured_seconds {r['kernel']['seconds_median']:.9g}")
    print(f"predicted_seconds {p['kernel']:.9g}")
    return 0


def cmd_predict(a):
    if a.report:
        return cmd_predict_report(a)
    if not a.machine or not a.problem:
        sys.exit("model.py predict: give --report R.json, or --machine and --problem")
    m = json.load(open(a.machine))
    net = NETWORKS[a.network]
    pb = parse_problem(a.problem)
    p = predict(m, net, pb, a.ranks, a.threads, a.kv_mode, a.ring_size, a.input, 0, a.write, 1)
    for k, v in p.items():
        print(f"{k:<10} {v:.6g}")
    return 0


def best_ring(m, net, pb, ranks, threads, rank_mem):
    """The ring size with the least kernel time among those whose ranks fit in rank_mem bytes
    (ring sizes dividing the ranks and leaving every ring a KV head); the one with the least
    memory when none fits."""
    options = []
    for R in [x for x in range(1, ranks + 1) if ranks % x == 0 and ranks // x <= pb.batch * pb.kv_heads]:
        p = predict(m, net, pb, ranks, threads, "ring", R)
        options.append((p["mem_bytes"] > rank_mem, p["kernel"] if p["mem_bytes"] <= rank_mem
                        else p["mem_bytes"], R, p))
    _, _, R, p = min(options, key=lambda o: (o[0], o[1]))
    return R, p


def cmd_project(a):
    m = json.load(open(a.machine))
    if a.kernel_speedup != 1.0:  # a faster backend: GEMM and softmax costs divided
        for k in ("gemm_per_score_channel", "softmax_per_score"):
            m[k] /= a.kernel_speedup
        m["gops_per_thread"] *= a.kernel_speedup
    net = NETWORKS[a.network]
    cpn = net["cores_per_node"]
    threads = a.threads or cpn // 4
    rows = []
    for L in (131072, 1048576):
        for hkv in (32, 8):
            pb = Problem(1, 32, hkv, L, L, 128, True)
            for ranks in [2**k for k in range(0, 11)]:
                rep = predict(m, net, pb, ranks, threads, input_source="hdf5", write_output=True)
                rank_mem = net["mem_per_node"] / (cpn // threads)
                R, ring = best_ring(m, net, pb, ranks, threads, rank_mem)
                full = predict(m, net, pb, ranks, threads, "ring", ranks)
                ring_io = predict(m, net, pb, ranks, threads, "ring", R, input_source="hdf5",
                                  write_output=True)
                rows.append(dict(L=L, H=32, Hkv=hkv, D=128, ranks=ranks, threads=threads,
                                 nodes=math.ceil(ranks * threads / cpn),
                                 replicated_kernel_s=rep["kernel"], replicated_read_s=rep["read"],
                                 replicated_kv_gib=rep["kv_bytes"] / GiB,
                                 replicated_mem_gib=rep["mem_bytes"] / GiB,
                                 replicated_fits=int(rep["mem_bytes"] <= rank_mem),
                                 ring_size=R, ring_kernel_s=ring["kernel"], ring_comm_s=ring["comm"],
                                 ring_read_s=ring_io["read"], ring_kv_gib=ring["kv_bytes"] / GiB,
                                 ring_mem_gib=ring["mem_bytes"] / GiB,
                                 ring_fits=int(ring["mem_bytes"] <= rank_mem),
                                 full_ring_kernel_s=full["kernel"], full_ring_comm_s=full["comm"],
                                 full_ring_kv_gib=full["kv_bytes"] / GiB,
                                 full_ring_mem_gib=full["mem_bytes"] / GiB,
                                 full_ring_fits=int(full["mem_bytes"] <= rank_mem),
                                 imbalance=ring["imbalance"]))
    print(f"network: {net['title']}; {threads} threads per rank, {cpn // threads} ranks per node "
          f"({rank_mem / GiB:.0f} GiB each); kernel rates of {m['backend']} on {m['cpu'][:30]} x "
          f"{a.kernel_speedup:g} ({m['gops_per_thread']:.1f} GOP/s per thread)")
    print(f"{'L':>8}{'Hkv':>4}{'ranks':>6}{'nodes':>6} |{'repl s':>9}{'read s':>8}{'mem GiB':>8}{'fits':>5} |"
          f"{'ring R':>7}{'ring s':>9}{'exposed':>8}{'read s':>8}{'mem GiB':>8}{'fits':>5} |{'R=P s':>9}"
          f"{'exposed':>8}{'mem GiB':>8}{'fits':>5}")
    for r in rows:
        print(f"{r['L']:>8}{r['Hkv']:>4}{r['ranks']:>6}{r['nodes']:>6} |{r['replicated_kernel_s']:>9.3g}"
              f"{r['replicated_read_s']:>8.2g}{r['replicated_mem_gib']:>8.3g}"
              f"{'yes' if r['replicated_fits'] else 'no':>5} |{r['ring_size']:>7}{r['ring_kernel_s']:>9.3g}"
              f"{r['ring_comm_s']:>8.2g}{r['ring_read_s']:>8.2g}{r['ring_mem_gib']:>8.3g}"
              f"{'yes' if r['ring_fits'] else 'no':>5} |"
              f"{r['full_ring_kernel_s']:>9.3g}{r['full_ring_comm_s']:>8.2g}{r['full_ring_mem_gib']:>8.3g}"
              f"{'yes' if r['full_ring_fits'] else 'no':>5}")
    if a.csv:
        write_csv(a.csv, rows)
    if a.png:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for ax, L in zip(axes, (131072, 1048576)):
            for hkv, style in ((32, "-"), (8, "--")):
                rs = [r for r in rows if r["L"] == L and r["Hkv"] == hkv]
                x = [r["ranks"] for r in rs]
                ax.plot(x, [r["replicated_kernel_s"] for r in rs], "o" + style, label=f"replicated, Hkv={hkv}")
                ax.plot(x, [r["ring_kernel_s"] for r in rs], "s" + style, label=f"ring (best R), Hkv={hkv}")
                ax.plot(x, [r["full_ring_kernel_s"] for r in rs], "x" + style, label=f"one ring (R=P), Hkv={hkv}")
            ideal = rs[0]["replicated_kernel_s"]
            ax.plot(x, [ideal / p for p in x], "k:", lw=0.8, label="ideal")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel(f"ranks ({threads} threads each)")
            ax.set_ylabel("kernel seconds per run")
            ax.set_title(f"L = {L // 1024}k, H = 32, D = 128, causal")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        fig.suptitle(f"model: {net['title']}", fontsize=10)
        fig.tight_layout()
        fig.savefig(a.png, dpi=110)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("calibrate")
    c.add_argument("report")
    c.add_argument("--cores", type=int, default=os.cpu_count(), help="cores of the machine it ran on")
    c.add_argument("-o", "--output")
    def report_options(parser):  # predict --report and validate: where rates and link come from
        parser.add_argument("--machine", help="kernel rates (with reports: default their own)")
        parser.add_argument("--network", choices=sorted(NETWORKS), default="shm",
                            help="network (with reports: assumed only for a ring report without "
                                 "a measured link; default shm)")
        parser.add_argument("--link", metavar="LATENCY_S,BANDWIDTH_BPS",
                            help="the link assumed for a ring report that measured none (e.g. "
                                 "from scripts/netlab.sh --probe), instead of the --network preset")
        parser.add_argument("--link-cpu", type=float, default=0.0, metavar="NS_PER_BYTE",
                            help="host CPU a rank spends per byte of a ring step on a kernel TCP "
                                 "stack, in ns (default 0: the NIC moves the data; docs/MODEL.md "
                                 "gives the figures fitted on the netlab)")
        parser.add_argument("--cores", type=int,
                            help="cores the reports' ranks shared (ranks x threads beyond them "
                                 "share them, as on the netlab, whose hosts are one machine); "
                                 "default: the calibration's (--machine), else this machine's")
    v = sub.add_parser("validate")
    report_options(v)
    v.add_argument("--max-error", type=float, default=0.15)
    v.add_argument("--csv")
    v.add_argument("reports", nargs="+")
    p = sub.add_parser("predict")
    p.add_argument("--report", help="predict the run this JSON report describes")
    report_options(p)
    p.add_argument("--problem", help="B,H,HKV,L,D[,causal]")
    p.add_argument("--ranks", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--kv-mode", choices=["replicated", "ring"], default="replicated")
    p.add_argument("--ring-size", type=int, default=0)
    p.add_argument("--input", choices=["synthetic", "hdf5"], default="synthetic")
    p.add_argument("--write", action="store_true")
    f = sub.add_parser("fit-link-cpu", help="c_net (--link-cpu) from ring runs over a link")
    report_options(f)
    f.add_argument("reports", nargs="+")
    j = sub.add_parser("project")
    j.add_argument("--machine", required=True)
    j.add_argument("--network", choices=["tofu-d", "ib-hdr"], default="tofu-d")
    j.add_argument("--threads", type=int, default=0, help="threads per rank (default: a quarter node)")
    j.add_argument("--kernel-speedup", type=float, default=1.0,
                   help="divide the calibrated kernel costs by this (a faster backend)")
    j.add_argument("--csv")
    j.add_argument("--png")
    a = ap.parse_args()
    return {"calibrate": cmd_calibrate, "validate": cmd_validate, "predict": cmd_predict,
            "fit-link-cpu": cmd_fit_link_cpu,
            "project": cmd_project}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
