#!/bin/bash
# One Fugaku node (A64FX: 48 cores = 4 CMGs x 12, 8 GiB HBM2 per CMG): the seeds' kernel
# studies on one core, then the deck on 4 ranks (one per CMG) x 12 threads. From the
# repository root:
#   pjsub -g GROUP scripts/fugaku/job_single_node.sh
#   pjsub -g GROUP -x BIN=build-a64fx-gcc/bin,DECK=inputs/gqa.toml scripts/fugaku/job_single_node.sh
# Not run by the project (no A64FX access); docs/a64fx.md says what to expect and check.
#PJM -L "rscunit=rscunit_ft01"
#PJM -L "rscgrp=small"
#PJM -L "node=1"
#PJM -L "elapse=00:30:00"
#PJM -L "freq=2000,eco_state=0"
#PJM --mpi "max-proc-per-node=4"
#PJM -j
#PJM -S
set -euo pipefail
BIN=${BIN:-build-a64fx-fcc-clang/bin}
DECK=${DECK:-inputs/strong.toml}
OUT=${OUT:-fugaku_out/${PJM_JOBID:-local}}
mkdir -p "$OUT"

# One rank per CMG, its 12 threads on its own cores; first-touch memory stays on the CMG's HBM.
export OMP_NUM_THREADS=12
export OMP_PROC_BIND=close
export OMP_PLACES=cores
export PLE_MPI_STD_EMPTYFILE=off  # no empty per-rank output files

"$BIN/miniattn" --list-backends | tee "$OUT/backends.txt"

# The kernel studies (peaks, GEMM efficiency, exp2 overhead, stage 2) on one core.
OMP_NUM_THREADS=1 "$BIN/miniattn-bench" | tee "$OUT/bench.txt"

mpiexec -n 4 "$BIN/miniattn" "$DECK" --backend sve \
  --set output.report="$OUT/report.json" | tee "$OUT/run.txt"
