#!/bin/bash
# Weak or strong scaling on Fugaku over 1, 2, 4, ... nodes of the allocation, for each
# process layout in LAYOUTS (ranks per CMG; threads per rank = 12 / that). From the repository
# root, for example:
#   pjsub -g GROUP -L "node=16" -x STUDY=strong scripts/fugaku/job_scaling.sh
#   pjsub -g GROUP -L "node=16" -x STUDY=weak,LAYOUTS="1 3 12" scripts/fugaku/job_scaling.sh
# strong: inputs/strong.toml as it is; weak: inputs/weak.toml with batch = 4 x nodes (one
# batch entry per CMG, whatever the layout). One JSON report per run in OUT; the summary
# line of each run goes to OUT/summary.txt. Not run by the project (no A64FX access).
#PJM -L "rscunit=rscunit_ft01"
#PJM -L "rscgrp=small"
#PJM -L "node=16"
#PJM -L "elapse=01:00:00"
#PJM -L "freq=2000,eco_state=0"
#PJM --mpi "max-proc-per-node=48"
#PJM -j
#PJM -S
set -euo pipefail
BIN=${BIN:-build-a64fx-fcc-clang/bin}
STUDY=${STUDY:-strong}
LAYOUTS=${LAYOUTS:-"1 2 12"}
NODES=${PJM_NODE:-1}
OUT=${OUT:-fugaku_out/${STUDY}_${PJM_JOBID:-local}}
mkdir -p "$OUT"

case $STUDY in
  strong) DECK=inputs/strong.toml ;;
  weak) DECK=inputs/weak.toml ;;
  *) echo "STUDY must be strong or weak" >&2; exit 2 ;;
esac

export OMP_PROC_BIND=close
export OMP_PLACES=cores
export PLE_MPI_STD_EMPTYFILE=off

for ((n = 1; n <= NODES; n *= 2)); do
  for per_cmg in $LAYOUTS; do
    threads=$((12 / per_cmg))
    ranks=$((n * 4 * per_cmg))
    extra=()
    [ "$STUDY" = weak ] && extra=(--set "problem.batch=$((4 * n))")
    tag="nodes${n}_rpc${per_cmg}_t${threads}"
    echo "=== $STUDY $tag: $ranks ranks x $threads threads"
    OMP_NUM_THREADS=$threads mpiexec -n "$ranks" "$BIN/miniattn" "$DECK" --backend sve \
      "${extra[@]}" --set output.report="$OUT/$tag.json" | tee "$OUT/$tag.txt"
    grep -h "^MINIATTN |" "$OUT/$tag.txt" >>"$OUT/summary.txt" || true
  done
done
