# --- A fault on one rank ends every rank within seconds, with one message, and no file -------
# MINIATTN_FAULT=RANK:STAGE[:MODE] (src/driver/failure.hpp) makes rank RANK fail at STAGE:
# throw (an exception on that rank alone), exit (exits without MPI_Finalize), kill (SIGKILL).
# Each case must end within 20 s (a hang fails), print the injected message once, and leave
# neither the output file nor its temporary behind.
# np | rank | stage | mode | exit code (mpirun's: MPI_Abort's code, the exit code, 128 + 9)
set(_fault_cases
  "2|1|setup|throw|3" "2|1|allocate|throw|3" "2|1|read|throw|3" "2|1|attention|throw|3"
  "2|1|verify|throw|3" "2|1|write|throw|3" "2|0|attention|throw|3"
  "2|1|read|exit|3" "2|1|attention|kill|137"
  "4|1|read|throw|3" "4|1|attention|throw|3" "4|1|write|throw|3"
  "4|1|attention|exit|3" "4|1|write|kill|137")
foreach(_case IN LISTS _fault_cases)
  string(REPLACE "|" ";" _f "${_case}")
  list(GET _f 0 _np)
  list(GET _f 1 _rank)
  list(GET _f 2 _stage)
  list(GET _f 3 _mode)
  list(GET _f 4 _code)
  set(_name mpi_fault_r${_rank}_${_stage}_${_mode}_np${_np})
  miniattn_add_mpi_test(${_name}
    COMMAND ${MINIATTN_PYTHON} ${_here}/expect_failure.py --code ${_code} --timeout 20
            "--message=rank ${_rank}: .*injected fault at stage '${_stage}'"
            --no-file ${_name}.h5
            -- ${_run} ${_np} ${MINIATTN_MPI_FLAGS} $<TARGET_FILE:miniattn> ${_decks}/faults.toml
               --set output.file=\"${_name}.h5\")
  set_property(TEST ${_name} APPEND PROPERTY ENVIRONMENT
               "MINIATTN_FAULT=${_rank}:${_stage}:${_mode};OMP_NUM_THREADS=1")
endforeach()

# A malformed hook is a bad-input error like any other: one message, exit 2.
miniattn_add_mpi_test(mpi_fault_malformed_np2
  COMMAND ${MINIATTN_PYTHON} ${_here}/expect_failure.py --code 2 --timeout 20
          "--message=MINIATTN_FAULT=1:nowhere: expected RANK:STAGE"
          --no-file mpi_fault_malformed.h5
          -- ${_run} 2 ${MINIATTN_MPI_FLAGS} $<TARGET_FILE:miniattn> ${_decks}/faults.toml
             --set output.file=\"mpi_fault_malformed.h5\")
set_property(TEST mpi_fault_malformed_np2 APPEND PROPERTY ENVIRONMENT "MINIATTN_FAULT=1:nowhere")

# A run that a fault does not reach (rank 5 of 2) is an ordinary run.
miniattn_add_mpi_test(mpi_fault_other_rank_np2 NP 2 THREADS 1
  COMMAND $<TARGET_FILE:miniattn> ${_decks}/faults.toml --set output.file=\"mpi_fault_none.h5\")
set_property(TEST mpi_fault_other_rank_np2 APPEND PROPERTY ENVIRONMENT "MINIATTN_FAULT=5:attention")
