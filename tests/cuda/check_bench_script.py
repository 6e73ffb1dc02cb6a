#!/usr/bin/python3
"""scripts/cuda_bench.sh's control flow on a machine without a GPU.

    check_bench_script.py BIN_DIR     (BIN_DIR: this build's miniattn-cuda-check and miniattn-bench-cuda)

The real tools run with CUDA_VISIBLE_DEVICES emptied, so they find no device even on a GPU
machine: the script must say so and exit 4, twice in a row. The other cases put stand-ins on
PATH and PYTHONPATH for what this machine lacks (nvidia-smi with or without compute_cap, cmake
and the tools of a GPU build, PyTorch without CUDA, without sdpa_kernel or failing) and check
each step's reported status, the exit status and the final "correctness:" line, on a rerun too.
"""
import os
import stat
import subprocess
import sys
import tempfile
import textwrap
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "cuda_bench.sh")
BIN_DIR = None  # set from argv

PTXAS = """\
ptxas info    : Compiling entry function '_Z20quantize_rows_kernelPKfiPK10QuantBlockS0_PaPf' for 'sm_90'
ptxas info    : Function properties for _Z20quantize_rows_kernelPKfiPK10QuantBlockS0_PaPf
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 48 registers, used 1 barriers, 32 bytes smem
"""

# The tools of a GPU build, as far as the script sees them: output, files, exit status.
CHECK_STUB = """\
#!/bin/bash
echo "$*" >>"$STUB_LOG.check"
case ${STUB_CHECK:-pass} in
  pass) echo "B1 H2/1 L77/133 D64 bf16 per_token equal PASS"; echo "5 passed, 0 failed"; exit 0 ;;
  fail) echo "B1 H2/1 L77/133 D64 bf16 per_token DIFF FAIL"; echo "4 passed, 1 failed"; exit 1 ;;
  abort) echo "B1 H2/1 L77/133 D64 bf16 per_token equal PASS"
         echo "miniattn-cuda-check: cuda: an illegal memory access was encountered" >&2; exit 3 ;;
esac
"""
BENCH_STUB = """\
#!/bin/bash
echo "$*" >>"$STUB_LOG.bench"
while [ $# -gt 0 ]; do [ "$1" = --csv ] && csv=$2; shift; done
echo "device,batch,heads,seq,dim,causal,pv,kernel_ms,kernel_ms_min,tops,peak_tops,pct_peak,quant_ms,tops_with_quant,int8_peak_tops,bf16_peak_tflops" >"$csv"
echo '"stub",1,16,4096,128,1,bf16,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0,1.0' >>"$csv"
[ "${STUB_BENCH:-ok}" = ok ] && exit 0
echo "miniattn-bench-cuda: cuda: out of memory" >&2
exit 3
"""
# cmake: configure makes the directory; --build "compiles" the .cu objects that are missing
# (printing ptxas's report for them, as nvcc -Xptxas -v does) and installs the tool stand-ins.
CMAKE_STUB = """\
#!/bin/bash
echo "$*" >>"$STUB_LOG.cmake"
if [ "$1" = --build ]; then
  [ -n "${STUB_BUILD_FAIL:-}" ] && { echo "cuda_attention.cu(1): error: stub"; exit 2; }
  obj=$2/src/CMakeFiles/miniattn_cuda.dir/kernels/cuda
  mkdir -p "$obj" "$2/bin"
  for f in cuda_attention cuda_quantize; do
    [ -e "$obj/$f.cu.o" ] && continue
    cat "$STUB_DIR/ptxas.txt"
    touch "$obj/$f.cu.o"
  done
  cp "$STUB_DIR/miniattn-cuda-check" "$STUB_DIR/miniattn-bench-cuda" "$2/bin/"
  exit 0
fi
[ -n "${STUB_CONFIGURE_FAIL:-}" ] && { echo "CMake Error: stub"; exit 1; }
while [ $# -gt 0 ]; do [ "$1" = -B ] && mkdir -p "$2"; shift; done
"""
SMI_OK = """\
#!/bin/bash
case "$*" in
  *noheader*) echo "9.0" ;;
  *) echo "name, compute_cap, clocks.max.sm [MHz], memory.total [MiB]"; echo "NVIDIA H100, 9.0, 1980 MiB, 81559 MiB" ;;
esac
"""
SMI_NO_CC = """\
#!/bin/bash
case "$*" in
  *compute_cap*) echo 'Field "compute_cap" is not a valid field to query.'; exit 2 ;;
  *) echo "name, clocks.max.sm [MHz], memory.total [MiB]"; echo "Tesla V100, 1530 MiB, 16160 MiB" ;;
esac
"""
# PyTorch stand-ins: the module attributes cuda_vs_sdpa.py looks at, nothing more.
TORCH = {
    "no_sdpa": {"torch/__init__.py": "__version__ = '2.1.0'\nclass cuda:\n    is_available = staticmethod(lambda: True)\n",
                "torch/nn/__init__.py": ""},
    "no_cuda": {"torch/__init__.py": "__version__ = '2.4.0'\nclass cuda:\n    is_available = staticmethod(lambda: False)\n"},
    # Passes the probe, then fails where the SDPA timing starts (no get_device_properties).
    "failing": {"torch/__init__.py": "__version__ = '2.4.0'\nclass cuda:\n    is_available = staticmethod(lambda: True)\n",
                "torch/nn/__init__.py": "",
                "torch/nn/attention/__init__.py":
                    "class SDPBackend:\n    FLASH_ATTENTION = 0\ndef sdpa_kernel(backend):\n    raise RuntimeError('stub')\n"},
}


def write(path, text, executable=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    if executable:
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


class BenchScript(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="cuda_bench_flow.")
        self.dir = self.tmp.name
        self.stubs = os.path.join(self.dir, "stubs")
        self.path_dir = os.path.join(self.dir, "path")
        os.makedirs(self.path_dir)
        write(os.path.join(self.stubs, "ptxas.txt"), PTXAS)
        write(os.path.join(self.stubs, "miniattn-cuda-check"), CHECK_STUB, True)
        write(os.path.join(self.stubs, "miniattn-bench-cuda"), BENCH_STUB, True)
        write(os.path.join(self.stubs, "nvcc"), "#!/bin/bash\necho 'Build cuda_stub'\n", True)
        for name, files in TORCH.items():
            for rel, text in files.items():
                write(os.path.join(self.dir, "torch_" + name, rel), text)
        self.build = os.path.join(self.dir, "build")
        self.log = os.path.join(self.dir, "calls")

    def tearDown(self):
        self.tmp.cleanup()

    def path_tool(self, name, text):
        write(os.path.join(self.path_dir, name), text, True)

    def run_script(self, torch=None, **env):
        e = {k: v for k, v in os.environ.items()
             if k not in ("QUICK", "MINIATTN_CUDA_ARCHS", "MINIATTN_CUDA_SKIP_BUILD", "CUDACXX", "PYTHONPATH")}
        e.update(PATH=self.path_dir + os.pathsep + e.get("PATH", "/usr/bin:/bin"), QUICK="1",
                 MINIATTN_CUDA_BUILD_DIR=self.build, CUDACXX=os.path.join(self.stubs, "nvcc"),
                 STUB_DIR=self.stubs, STUB_LOG=self.log)
        if torch:
            e["PYTHONPATH"] = os.path.join(self.dir, "torch_" + torch)
        e.update(env)
        p = subprocess.run(["bash", SCRIPT], env=e, capture_output=True, text=True, timeout=120)
        out = p.stdout + p.stderr
        self.last = out
        return p.returncode, p.stdout.rstrip("\n").splitlines(), out

    def step(self, lines, name):
        """The step's status in the summary."""
        start = lines.index("=== summary")
        for line in lines[start + 1:]:
            if line.split(None, 1)[0] == name:
                return line.split(None, 1)[1]
        self.fail("no summary line for %s:\n%s" % (name, "\n".join(lines)))

    def calls(self, tool):
        with open(self.log + "." + tool) as f:
            return f.read()

    def test_no_gpu_with_the_real_tools_twice(self):
        os.makedirs(self.build)
        os.symlink(BIN_DIR, os.path.join(self.build, "bin"))
        write(os.path.join(self.build, "build.log"), PTXAS)
        for run in (1, 2):
            with self.subTest(run=run):
                rc, lines, out = self.run_script(torch="failing", MINIATTN_CUDA_SKIP_BUILD="1", CUDA_VISIBLE_DEVICES="")
                self.assertEqual(rc, 4, out)
                self.assertRegex(lines[-1], r"^correctness: not run: no usable GPU \(no CUDA device", out)
                self.assertEqual(self.step(lines, "check"), "not run: no usable GPU")
                self.assertEqual(self.step(lines, "bench"), "skipped (no usable GPU)")
                self.assertEqual(self.step(lines, "SDPA"), "skipped (no usable GPU)")
                self.assertEqual(self.step(lines, "resources"), "ok")
                if not any(os.access(os.path.join(d, "nvidia-smi"), os.X_OK)
                           for d in os.environ.get("PATH", "").split(os.pathsep) if d):
                    self.assertRegex(self.step(lines, "nvidia-smi"), "^not found")

    def test_smi_without_compute_cap_failing_bench_torch_without_sdpa_kernel_rerun(self):
        self.path_tool("nvidia-smi", SMI_NO_CC)
        self.path_tool("cmake", CMAKE_STUB)
        for run in (1, 2):
            with self.subTest(run=run):
                rc, lines, out = self.run_script(torch="no_sdpa", STUB_BENCH="fail")
                self.assertEqual(rc, 0, out)
                self.assertEqual(lines[-1], "correctness: 5 passed, 0 failed", out)
                self.assertRegex(self.step(lines, "nvidia-smi"), "^no compute_cap field")
                self.assertIn("Tesla V100", out)
                self.assertEqual(self.step(lines, "build")[:2], "ok")
                # The rerun compiles the .cu objects again, so the register report is there.
                self.assertEqual(self.step(lines, "resources"), "ok", out)
                self.assertIn("quantize_rows_kernel", out)
                self.assertEqual(self.step(lines, "check"), "passed")
                self.assertEqual(self.step(lines, "bench"), "FAILED (exit 3): miniattn-bench-cuda: cuda: out of memory")
                self.assertRegex(self.step(lines, "SDPA"), r"^skipped \(PyTorch 2\.1\.0 lacks torch\.nn\.attention\.sdpa_kernel")
                self.assertRegex(out, r"\n4096 +128 +yes", "miniattn's table of the shapes measured")
        self.assertIn("-DMINIATTN_CUDA_ARCHITECTURES=80-real;89-real;90", self.calls("cmake"))
        self.assertEqual(self.calls("check").split("\n")[0], "--quick")

    def test_failing_check_torch_without_cuda(self):
        self.path_tool("nvidia-smi", SMI_OK)
        self.path_tool("cmake", CMAKE_STUB)
        rc, lines, out = self.run_script(torch="no_cuda", STUB_CHECK="fail")
        self.assertEqual(rc, 1, out)
        self.assertEqual(lines[-1], "correctness: 4 passed, 1 failed", out)
        self.assertEqual(self.step(lines, "nvidia-smi"), "ok (compute capability 9.0)")
        self.assertIn("-DMINIATTN_CUDA_ARCHITECTURES=90-real", self.calls("cmake"))
        self.assertEqual(self.step(lines, "check"), "FAILED: 4 passed, 1 failed")
        self.assertEqual(self.step(lines, "bench"), "ok")
        self.assertIn("--seq 4096 --dims 128", self.calls("bench"))
        self.assertEqual(self.step(lines, "SDPA"), "skipped (PyTorch 2.4.0 sees no CUDA device)")

    def test_aborted_check_failing_sdpa(self):
        self.path_tool("nvidia-smi", SMI_OK)
        self.path_tool("cmake", CMAKE_STUB)
        rc, lines, out = self.run_script(torch="failing", STUB_CHECK="abort")
        self.assertEqual(rc, 3, out)
        self.assertEqual(lines[-1], "correctness: aborted (exit 3): miniattn-cuda-check: cuda: an illegal memory "
                                    "access was encountered", out)
        self.assertEqual(self.step(lines, "bench"), "ok")
        self.assertRegex(self.step(lines, "SDPA"), r"^FAILED \(exit 1\): AttributeError: .*get_device_properties")
        self.assertRegex(out, r"\n4096 +128 +yes", "miniattn's table after SDPA failed")

    def test_build_failures_stop_with_status_5(self):
        self.path_tool("cmake", CMAKE_STUB)
        for what in ("configure", "build"):
            with self.subTest(what=what):
                rc, lines, out = self.run_script(**{"STUB_%s_FAIL" % what.upper(): "1"})
                self.assertEqual(rc, 5, out)
                self.assertRegex(self.step(lines, what), r"^FAILED \(exit [12], ")
                self.assertEqual(lines[-1], "correctness: not run: %s failed (see %s/%s.log)" % (what, self.build, what))
        rc, lines, out = self.run_script(MINIATTN_CUDA_SKIP_BUILD="1")
        self.assertEqual(rc, 5, out)
        self.assertEqual(lines[-1], "correctness: not run: no %s/bin/miniattn-cuda-check" % self.build)


if __name__ == "__main__":
    if len(sys.argv) < 2 or not os.path.isdir(sys.argv[1]):
        sys.exit("usage: check_bench_script.py BIN_DIR")
    BIN_DIR = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
