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

# --- Many repeats: progress stays short -------------------------------------------------------
# 1000 timed runs of a tiny deck: a batch log keeps a line per tenth of the runs, a terminal
# also sees a line rewritten at most once a second (before the limit: 3000 lines).
foreach(_mode verbose-many tty-many)
  miniattn_add_mpi_test(mpi_messages_${_mode}_np2
    COMMAND ${MINIATTN_PYTHON} ${_here}/check_progress.py ${_mode} -- ${_progress_run} --verbose
            --set run.repeat=1000 --set verify.mode=\"none\")
  set_property(TEST mpi_messages_${_mode}_np2 APPEND PROPERTY ENVIRONMENT "OMP_NUM_THREADS=1")
endforeach()

# --- Warnings and command-line errors ---------------------------------------------------------
# More threads than a rank's cores (one core, from taskset): one warning with the numbers.
find_program(MINIATTN_TASKSET taskset)
if(MINIATTN_TASKSET)
  miniattn_add_mpi_test(mpi_messages_threads_warning_np2
    COMMAND ${MINIATTN_PYTHON} ${_here}/expect_failure.py --code 0
            "--message=miniattn: warning: \\[run\\] threads = 2 is more than the 1 core\\(s\\) available to a rank"
            -- ${MINIATTN_TASKSET} -c 0 ${_progress_run} --quiet --set run.threads=2)
endif()
# Unknown options and extra arguments: the same "miniattn: error:" as every other error.
miniattn_add_mpi_test(mpi_messages_unknown_option_np2
  COMMAND ${MINIATTN_PYTHON} ${_here}/expect_failure.py --code 2
          "--message=miniattn: error: [^\\n]*not expected: --frobnicate"
          -- ${_progress_run} --frobnicate)
miniattn_add_mpi_test(mpi_messages_extra_argument_np2
  COMMAND ${MINIATTN_PYTHON} ${_here}/expect_failure.py --code 2
          "--message=miniattn: error: [^\\n]*not expected: second.toml"
          -- ${_run} 2 ${MINIATTN_MPI_FLAGS} $<TARGET_FILE:miniattn> ${_decks}/faults.toml second.toml)
miniattn_add_mpi_test(verify_tool_not_a_number
  COMMAND ${MINIATTN_PYTHON} ${_here}/expect_failure.py --code 2
          "--message=miniattn-verify: error: --max-rel-l2: 'abc' is not a number\\n"
          -- $<TARGET_FILE:miniattn-verify> a.h5 b.h5 --max-rel-l2 abc)
miniattn_add_mpi_test(verify_tool_extra_argument
  COMMAND ${MINIATTN_PYTHON} ${_here}/expect_failure.py --code 2
          "--message=miniattn-verify: error: [^\\n]*not expected: c.h5"
          -- $<TARGET_FILE:miniattn-verify> a.h5 b.h5 c.h5)
# Two identical empty datasets compare equal, even under the strictest tolerances.
foreach(_f empty_a empty_b)
  miniattn_add_mpi_test(verify_tool_${_f}_file FIXTURE verify_${_f}
    COMMAND ${MINIATTN_PYTHON} ${_here}/empty_dataset.py verify_${_f}.h5)
endforeach()
miniattn_add_mpi_test(verify_tool_empty_equal REQUIRES "verify_empty_a;verify_empty_b"
  COMMAND $<TARGET_FILE:miniattn-verify> verify_empty_a.h5 verify_empty_b.h5
          --max-rel-l2 0 --min-cosine 1 --max-abs 0)
