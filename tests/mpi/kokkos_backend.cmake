# The kokkos backend through the app (built when miniattn_kokkos is): the README deck on two
# ranks of two threads verifies (its executor: one TeamPolicy kernel per rank on Kokkos' OpenMP
# space); O and LSE are bitwise those of one rank of one thread, and of the determinism deck run
# the same way; ring mode (attend() from the ring executor's threads) verifies with int8 P.V,
# two_pass and the fast exp2; a rank with no work item takes part; the deck's thread count is
# Kokkos'.
# Included by CMakeLists.txt here (it uses miniattn_add_mpi_test).
if(NOT TARGET miniattn_kokkos)
  return()
endif()
set(_kk --backend kokkos --set run.repeat=1 --set run.warmup=0)
foreach(_pt 1x1 2x2)
  string(REPLACE "x" ";" _npt ${_pt})
  list(GET _npt 0 _np)
  list(GET _npt 1 _nt)
  miniattn_add_mpi_test(mpi_kokkos_small_np${_np}_t${_nt} NP ${_np} THREADS ${_nt} FIXTURE kokkos_small_${_pt}
    COMMAND $<TARGET_FILE:miniattn> ${PROJECT_SOURCE_DIR}/inputs/small.toml ${_kk}
            --set output.file=\"kokkos_small_${_pt}.h5\" --set output.report=\"kokkos_small_${_pt}.json\")
  miniattn_add_mpi_test(mpi_kokkos_determinism_np${_np}_t${_nt} NP ${_np} THREADS ${_nt}
    FIXTURE kokkos_det_${_pt}
    COMMAND $<TARGET_FILE:miniattn> ${_decks}/determinism.toml ${_kk} --set run.variant=\"two_pass\"
            --set run.pv_precision=\"int8\" --set verify.min_cosine=0.999
            --set output.file=\"kokkos_det_${_pt}.h5\")
endforeach()
foreach(_case small det)
  foreach(_ds O LSE)
    miniattn_add_mpi_test(mpi_kokkos_${_case}_np2_t2_${_ds}_bitwise REQUIRES "kokkos_${_case}_1x1;kokkos_${_case}_2x2"
      COMMAND ${MINIATTN_H5DIFF} kokkos_${_case}_1x1.h5 kokkos_${_case}_2x2.h5 /${_ds} /${_ds})
  endforeach()
endforeach()
miniattn_add_mpi_test(mpi_kokkos_ring_np2_t2 NP 2 THREADS 2
  COMMAND $<TARGET_FILE:miniattn> ${PROJECT_SOURCE_DIR}/inputs/small.toml ${_kk} --set run.kv_mode=\"ring\"
          --set run.pv_precision=\"int8\" --set run.variant=\"two_pass\" --set run.exp2=\"fast\"
          --set verify.min_cosine=0.999 --set output.file=\"kokkos_ring.h5\")
miniattn_add_mpi_test(mpi_kokkos_idle_rank_np3 NP 3 THREADS 1
  COMMAND $<TARGET_FILE:miniattn> ${PROJECT_SOURCE_DIR}/inputs/small.toml ${_kk} --set problem.heads=1
          --set problem.kv_heads=1 --set problem.seq_len=100 --set problem.kv_len=70
          --set output.file=\"kokkos_idle_rank.h5\")
# Kokkos starts with the deck's threads: [run] threads = 2 is what the kokkos backend's launch
# gets, whatever OMP_NUM_THREADS says.
miniattn_add_mpi_test(mpi_kokkos_deck_threads
  COMMAND env OMP_NUM_THREADS=1 ${_run} 1 ${MINIATTN_MPI_FLAGS} $<TARGET_FILE:miniattn>
          ${PROJECT_SOURCE_DIR}/inputs/small.toml ${_kk} --set run.threads=2
          --set output.file=\"kokkos_threads.h5\")
set_tests_properties(mpi_kokkos_deck_threads PROPERTIES
  PASS_REGULAR_EXPRESSION "1 rank\\(s\\) x 2 thread\\(s\\).*verify=PASS")
