# --- Progress and messages: --quiet, --verbose, and progress only where someone watches ------
# decks/faults.toml: warmup 1 + repeat 2. The terminal cases run a kernel of a few seconds
# (the float64 reference backend on 4000 x 4000, ~4 s on the CI machine) so that per-tenth progress is due.
set(_progress_run ${_run} 2 ${MINIATTN_MPI_FLAGS} $<TARGET_FILE:miniattn> ${_decks}/faults.toml
    --set output.file=\"\")
set(_long --backend reference --set problem.seq_len=4000 --set problem.kv_len=4000
    --set problem.head_dim=64 --set run.repeat=1 --set run.warmup=0 --set verify.mode=\"none\")
foreach(_mode verbose default quiet tty tty-quiet)
  set(_args "")
  if(_mode STREQUAL "verbose")
    set(_args --verbose)
  elseif(_mode MATCHES "quiet")
    set(_args --quiet)
  endif()
  if(_mode MATCHES "tty")
    list(APPEND _args ${_long})
  endif()
  miniattn_add_mpi_test(mpi_messages_${_mode}_np2
    COMMAND ${MINIATTN_PYTHON} ${_here}/check_progress.py ${_mode} -- ${_progress_run} ${_args})
  set_property(TEST mpi_messages_${_mode}_np2 APPEND PROPERTY ENVIRONMENT "OMP_NUM_THREADS=1")
endforeach()
