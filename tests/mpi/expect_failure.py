#!/usr/bin/python3
"""Runs a command that must fail cleanly: it exits with the expected code within the time
limit (no hang), prints the expected message exactly once (from rank 0 only), and leaves no
output file (nor a temporary one) behind.

usage: expect_failure.py --code N --message REGEX [--no-file PATH] [--timeout S] -- CMD..."""
import argparse
import glob
import os
import re
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--code", type=int, required=True)
    ap.add_argument("--message", required=True)
    ap.add_argument("--no-file", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    for f in a.no_file:
        for old in [f] + glob.glob(f + ".tmp*"):
            if os.path.exists(old):
                os.remove(old)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
    except subprocess.TimeoutExpired:
        sys.exit(f"FAIL: no exit within {a.timeout} s (a hang): {' '.join(cmd)}")
    out = p.stdout + p.stderr
    print(out)
    errors = []
    if p.returncode != a.code:
        errors.append(f"exit code {p.returncode}, expected {a.code}")
    hits = len(re.findall(a.message, out))
    if hits != 1:
        errors.append(f"message /{a.message}/ printed {hits} times, expected once")
    for f in a.no_file:
        left = [x for x in [f] + glob.glob(f + ".tmp*") if os.path.exists(x)]
        if left:
            errors.append(f"output left behind: {left}")
    if errors:
        sys.exit("FAIL: " + "; ".join(errors))
    print("OK: failed as expected")


if __name__ == "__main__":
    main()
