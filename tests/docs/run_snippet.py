#!/usr/bin/python3
"""Runs the first ```python block of a Markdown page with the given arguments, so that the
snippets users copy from docs/ stay correct. usage: run_snippet.py PAGE.md [ARGS...]"""
import re
import subprocess
import sys
import tempfile


def main():
    page, args = sys.argv[1], sys.argv[2:]
    blocks = re.findall(r"```python\n(.*?)```", open(page).read(), re.S)
    if not blocks:
        sys.exit(f"FAIL: no python block in {page}")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(blocks[0])
    rc = subprocess.run([sys.executable, f.name] + args).returncode
    if rc != 0:
        sys.exit(f"FAIL: the snippet of {page} exited with {rc}")
    print(f"OK: the snippet of {page} runs")


if __name__ == "__main__":
    main()
