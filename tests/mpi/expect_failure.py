#!/usr/bin/python3
"""Runs a command that must fail cleanly: it exits with the expected code within the time
limit (no hang), prints the expected message exactly once (from rank 0 only), leaves no
output file (nor a temporary one) behind, and leaves the files it must not touch as they were.

usage: expect_failure.py --code N --message REGEX [--no-file PATH] [--timeout S]
                         [--copy SRC DST] [--symlink TARGET LINK] [--fifo PATH]
                         [--char-device PATH] [--keep PATH] -- CMD...
  --copy SRC DST     copies SRC to DST before the run (a fresh deck, input or earlier output)
  --symlink T LINK   makes LINK a symbolic link to T before the run
  --fifo PATH        makes PATH a FIFO before the run
  --char-device PATH makes PATH a character device (1, 3: what /dev/null is) before the run;
                     exits 77 (CTest's SKIP_RETURN_CODE) where mknod is not permitted
  --keep PATH        PATH must be the same kind of file afterwards (same bytes for a regular
                     file, same target for a link), with no PATH.tmp* beside it"""
import argparse
import glob
import os
import re
import shutil
import stat
import subprocess
import sys

SKIP = 77


def remove(path):
    if os.path.islink(path) or os.path.exists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)
        else:
            os.remove(path)


def snapshot(path):
    """What --keep compares: the file type and the bytes or link target."""
    st = os.lstat(path)
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            return stat.S_IFMT(st.st_mode), f.read()
    if stat.S_ISLNK(st.st_mode):
        return stat.S_IFMT(st.st_mode), os.readlink(path)
    return stat.S_IFMT(st.st_mode), (st.st_rdev if stat.S_ISCHR(st.st_mode) else None)


def prepare(a):
    for src, dst in a.copy:
        remove(dst)
        shutil.copyfile(src, dst)
    for target, link in a.symlink:
        remove(link)
        os.symlink(target, link)
    for path in a.fifo:
        remove(path)
        os.mkfifo(path)
    for path in a.char_device:
        remove(path)
        try:
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            print(f"SKIP: mknod {path} is not permitted here")
            sys.exit(SKIP)
    return {p: snapshot(p) for p in a.keep}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--code", type=int, required=True)
    ap.add_argument("--message", required=True)
    ap.add_argument("--no-file", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--copy", nargs=2, action="append", default=[], metavar=("SRC", "DST"))
    ap.add_argument("--symlink", nargs=2, action="append", default=[], metavar=("TARGET", "LINK"))
    ap.add_argument("--fifo", action="append", default=[])
    ap.add_argument("--char-device", action="append", default=[])
    ap.add_argument("--keep", action="append", default=[])
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    for f in a.no_file:
        for old in [f] + glob.glob(f + ".tmp*"):
            if os.path.exists(old):
                os.remove(old)
    kept = prepare(a)
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
    for path, before in kept.items():
        if not os.path.lexists(path):
            errors.append(f"{path} was removed")
        elif snapshot(path) != before:
            errors.append(f"{path} was changed or replaced")
        left = glob.glob(glob.escape(path) + ".tmp*")
        if left:
            errors.append(f"temporary files left behind: {left}")
    if errors:
        sys.exit("FAIL: " + "; ".join(errors))
    print("OK: failed as expected" if a.code else "OK: ran as expected")


if __name__ == "__main__":
    main()
