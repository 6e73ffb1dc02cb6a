#!/usr/bin/python3
"""Runs a miniattn command and checks what it prints where (--quiet, --verbose, progress).

usage: check_progress.py MODE -- CMD...
  verbose    stderr not a terminal: the --verbose note, one line per run and per tenth of the
             items; the table and the measured link (2 ranks) on stdout
  default    no terminal anywhere (a batch job, CI): no progress at all
  quiet      --quiet: stdout is the one summary line, nothing else on stdout or stderr
  tty        under a pseudo-terminal (an interactive mpirun): progress of this long run shows
  tty-quiet  under a pseudo-terminal with --quiet: no progress
  verbose-many  --verbose with many repeats, not a terminal: a line per tenth of the runs,
                the last run's among them
  tty-many   --verbose with many repeats under a pseudo-terminal: kept lines per tenth of the
             runs, and at most one rewritten line per second besides
Commands without a terminal run in a new session, so that no controlling terminal leaks in."""
import math
import os
import pty
import re
import subprocess
import sys
import time

PROGRESS = re.compile(r"\[miniattn\] (run|warmup) \d+/\d+: ")
TENTHS = re.compile(r"\[miniattn\] run \d+/\d+: \d0% of rank 0's \d+ work items")
LAST_RUN = re.compile(r"\[miniattn\] run (\d+)/\1: ")
SUMMARY = re.compile(r"^MINIATTN \| backend=")
KEPT_LINES = 11  # one per tenth of the runs, and the last run's


def run_plain(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, start_new_session=True)
    return p.returncode, p.stdout, p.stderr


def run_tty(cmd):
    """Runs cmd as the session leader of a new pseudo-terminal; returns everything it showed."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    out = b""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace").replace("\r\n", "\n")


def main():
    mode = sys.argv[1]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    errors = []
    if mode.startswith("tty"):
        t0 = time.monotonic()
        rc, shown = run_tty(cmd)
        seconds = time.monotonic() - t0
        print(shown)
        lines = re.split(r"[\r\n]", shown)
        n = sum(bool(PROGRESS.search(l)) for l in lines)
        if mode == "tty" and (n == 0 or not any(TENTHS.search(l) for l in lines)):
            errors.append("no progress on the terminal for a run longer than a second")
        if mode == "tty-quiet" and n:
            errors.append(f"{n} progress lines with --quiet")
        if mode == "tty-many":
            # A kept line ends with a newline; the others are rewritten in place (\r).
            kept = sum(bool(PROGRESS.search(l.split("\r")[-1])) for l in shown.split("\n"))
            if kept > KEPT_LINES:
                errors.append(f"{kept} progress lines kept, expected at most {KEPT_LINES}")
            limit = KEPT_LINES + math.ceil(seconds) + 1
            if n > limit:
                errors.append(f"{n} progress lines in {seconds:.1f} s, expected at most {limit}")
            if not any(LAST_RUN.search(l) for l in lines):
                errors.append("no line for the last run")
    else:
        rc, out, err = run_plain(cmd)
        print(out)
        print(err, file=sys.stderr)
        n = sum(bool(PROGRESS.search(l)) for l in err.splitlines())
        if mode == "verbose":
            if not re.search(r"\[miniattn\] rank 0: \d+ work items, .* memory ", err):
                errors.append("no --verbose note on stderr")
            for label in ("warmup 1/1: ", "run 1/2: ", "run 2/2: "):
                if f"[miniattn] {label}" not in err:
                    errors.append(f"no progress line '{label}' on stderr")
            if not any(TENTHS.search(l) for l in err.splitlines()):
                errors.append("no per-tenth progress lines on stderr")
            if "phase " not in out:
                errors.append("no table on stdout")
            # The link between rank neighbours, measured with --verbose in replicated mode.
            m = re.search(r"^link .*: latency ([\d.]+) us \(8 B\), bandwidth ([\d.e+]+) MB/s", out,
                          re.M)
            if not m or not (0.0 < float(m.group(1)) < 5e4 and float(m.group(2)) > 0.0):
                errors.append("no plausible 'link ... latency ... bandwidth' line on stdout")
        elif mode == "verbose-many":
            if n > KEPT_LINES:
                errors.append(f"{n} progress lines, expected at most {KEPT_LINES}")
            if not any(LAST_RUN.search(l) for l in err.splitlines()):
                errors.append("no line for the last run")
        elif mode == "default":
            if n:
                errors.append(f"{n} progress lines without a terminal")
        elif mode == "quiet":
            lines = out.splitlines()
            if len(lines) != 1 or not SUMMARY.match(lines[0]):
                errors.append(f"stdout is not the one summary line: {lines}")
            if err.strip():
                errors.append("stderr is not empty")
        else:
            sys.exit(f"unknown mode {mode}")
    if rc != 0:
        errors.append(f"exit code {rc}")
    if errors:
        sys.exit("FAIL: " + "; ".join(errors))
    print(f"OK: {mode}")


if __name__ == "__main__":
    main()
