# The app's own verification on hard inputs (included by CMakeLists.txt here): LSE against the
# float64 reference with K smoothing on (k_bias: a per-channel K offset that smoothing removes,
# so the LSE term it takes out of the scores is large), in replicated and ring mode; the outlier
# distribution with and without the Hadamard rotation; a FAIL that explains itself.
set(_num ${_decks}/numerics.toml)
foreach(_mode replicated ring)
  foreach(_dist k_bias outliers)
    miniattn_add_mpi_test(mpi_numerics_${_dist}_${_mode}_np3 NP 3 THREADS 1
      COMMAND $<TARGET_FILE:miniattn> ${_num} --set input.distribution=\"${_dist}\"
              --set run.kv_mode=\"${_mode}\" --set run.rotate=\"hadamard\"
              --set output.file=\"numerics_${_dist}_${_mode}.h5\"
              --set output.report=\"numerics_${_dist}_${_mode}.json\")
  endforeach()
endforeach()
# smooth_k off on k_bias: the offset costs O accuracy (cosine ~0.9994, a FAIL whose hint names
# smooth_k); LSE needs no shift then and stays inside its bound.
miniattn_add_mpi_test(mpi_numerics_k_bias_nosmooth_fails_np2
  COMMAND ${MINIATTN_PYTHON} ${_here}/expect_failure.py --code 1
          "--message=LSE max_abs [0-9.]+e-0[1-9] -> FAIL(.|\n)*smooth_k = true \\(a K channel bias"
          -- ${_run} 2 ${MINIATTN_MPI_FLAGS} $<TARGET_FILE:miniattn> ${_num}
             --set input.distribution=\"k_bias\" --set run.smooth_k=false --set output.file=\"\")

# Outliers without the rotation: the default bounds are missed (cosine ~0.9997 on this deck),
# exit 1, the file kept with /verification passed = 0, and the FAIL line says to rotate.
miniattn_add_mpi_test(mpi_numerics_outliers_unrotated_fails_np2
  COMMAND ${MINIATTN_PYTHON} ${_here}/expect_failure.py --code 1
          "--message=hint: .*rotate = \"hadamard\" \\(largest value"
          -- ${_run} 2 ${MINIATTN_MPI_FLAGS} $<TARGET_FILE:miniattn> ${_num}
             --set input.distribution=\"outliers\" --set run.rotate=\"none\"
             --set output.file=\"numerics_outliers_unrotated.h5\")
# An LSE bound no run can meet: the LSE check alone fails the run.
miniattn_add_mpi_test(mpi_numerics_lse_bound_fails_np2
  COMMAND ${MINIATTN_PYTHON} ${_here}/expect_failure.py --code 1
          "--message=LSE max_abs [0-9.e+-]+ -> FAIL .*max_lse_abs 1e-09\\)"
          -- ${_run} 2 ${MINIATTN_MPI_FLAGS} $<TARGET_FILE:miniattn> ${_num}
             --set verify.max_lse_abs=1e-9 --set output.file=\"\")

# miniattn-verify --dataset LSE: rows that see no key (causal, Lq > Lk) are -inf and must match
# exactly; a finite value where the reference has -inf fails.
miniattn_add_mpi_test(mpi_numerics_empty_rows_np2 NP 2 THREADS 1 FIXTURE numerics_empty_rows
  COMMAND $<TARGET_FILE:miniattn> ${_num} --set problem.causal=true --set problem.kv_len=200
          --set output.file=\"numerics_empty_rows.h5\")
miniattn_add_mpi_test(verify_tool_lse_minus_inf REQUIRES numerics_empty_rows
  COMMAND ${MINIATTN_PYTHON} ${_here}/check_lse_rows.py $<TARGET_FILE:miniattn-verify>
          numerics_empty_rows.h5)

# KV heads whose float K and V are larger than the quantisation's batch (8 MiB: 1100 keys x
# D = 1024 x 2 x 4 bytes = 9 MB), two of them, so K/V are quantised one batch at a time and the
# batch size cannot round down to zero heads (it did: any run with Lk x D above 1M hung). int8
# P.V at D = 1024 on normal inputs reaches cosine ~0.99989, so its bound is 0.999 here.
foreach(_pv fp32 int8)
  miniattn_add_mpi_test(mpi_numerics_large_kv_head_${_pv}_np1 NP 1 THREADS 1
    COMMAND $<TARGET_FILE:miniattn> ${_num} --set problem.heads=2 --set problem.kv_heads=2
            --set problem.seq_len=70 --set problem.kv_len=1100 --set problem.head_dim=1024
            --set run.pv_precision=\"${_pv}\" --set input.distribution=\"normal\"
            --set verify.min_cosine=0.999
            --set output.file=\"numerics_large_kv_head_${_pv}.h5\")
  set_tests_properties(mpi_numerics_large_kv_head_${_pv}_np1 PROPERTIES TIMEOUT 60)
endforeach()
