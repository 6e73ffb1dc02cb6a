# Scale-out tests: ring mode (kv_mode = "ring") against the replicated mode, included by CMakeLists.txt here (it
# uses miniattn_add_mpi_test). The two modes sum the same products in another order (the K/V
# blocks come round the ring in a rotated order, and the K smoothing mean is a sum of per-shard
# sums), so O agrees to the rounding of P's format, not bitwise:
#   fp32 P (fp32 P.V, and int8 P.V, whose u8 P is taken against the maximum of each 64-key P
#   block aligned to key 0, which neither the tiles nor the ring's 64-key chunk units change:
#   the int8 cases run the backends' default 256-key tiles): rel_l2 <= 4e-6, i.e. 2^-18, 64
#   units of fp32 rounding, against the 8e-8 to 4e-7 measured on these decks; the quantisation
#   error these runs are verified for is ~1e-2, and a lost or doubled key block moves O by 1e-2
#   or more.
#   bf16 P: P is rounded to bf16 against the running maximum, which depends on the order:
#   rel_l2 <= 4e-3 (2^-8, one bf16 rounding unit; measured ~9e-4).
# LSE, absolute (natural log; rows that see no key must be -inf in both): fp32 m and l summed in
# another order, 1e-5 (about 10 float ulps at the |LSE| ~ 5 of this deck; measured 4.8e-7);
# bf16 P, 2e-3 (measured 5.5e-4 and 6.6e-4).
set(_ring --set run.kv_mode=\"ring\")
set(_int8 --set verify.min_cosine=0.999 --set run.pv_precision=\"int8\"
          --set run.qk_scales=\"per_block\" --set run.variant=\"two_pass\" --set run.exp2=\"fixed\")
set(_bf16 --set run.pv_precision=\"bf16\" --set problem.causal=false)

# name | np | threads | ring_size | reference fixture | reference file | O bound | LSE bound | args
set(_ring_cases
  "fp32_np2|2|1|0|det_fp32_np1_t1|det_fp32_np1_t1.h5|4e-6|1e-5|"
  "fp32_np4|4|1|0|det_fp32_np1_t1|det_fp32_np1_t1.h5|4e-6|1e-5|"
  "fp32_np4_rings2|4|2|2|det_fp32_np1_t1|det_fp32_np1_t1.h5|4e-6|1e-5|"
  "int8_np2|2|1|0|ring_int8_replicated|ring_int8_replicated.h5|4e-6|1e-5|int8"
  "int8_np4|4|1|0|ring_int8_replicated|ring_int8_replicated.h5|4e-6|1e-5|int8"
  "bf16_np2|2|1|0|ring_bf16_replicated|ring_bf16_replicated.h5|4e-3|2e-3|bf16"
  "bf16_np4|4|1|0|ring_bf16_replicated|ring_bf16_replicated.h5|4e-3|2e-3|bf16")

miniattn_add_mpi_test(mpi_ring_int8_replicated_np1 NP 1 THREADS 1 FIXTURE ring_int8_replicated
  COMMAND $<TARGET_FILE:miniattn> ${_decks}/determinism.toml ${_int8}
          --set output.file=\"ring_int8_replicated.h5\")
miniattn_add_mpi_test(mpi_ring_bf16_replicated_np2 NP 2 THREADS 1 FIXTURE ring_bf16_replicated
  COMMAND $<TARGET_FILE:miniattn> ${_decks}/determinism.toml ${_bf16}
          --set output.file=\"ring_bf16_replicated.h5\")

foreach(_case IN LISTS _ring_cases)
  string(REPLACE "|" ";" _f "${_case}")
  list(GET _f 0 _name)
  list(GET _f 1 _np)
  list(GET _f 2 _nt)
  list(GET _f 3 _size)
  list(GET _f 4 _ref_fixture)
  list(GET _f 5 _ref)
  list(GET _f 6 _o_bound)
  list(GET _f 7 _lse_bound)
  list(GET _f 8 _kind)
  set(_args "")
  if(_kind)
    set(_args ${_${_kind}})
  endif()
  set(_out ring_${_name}.h5)
  miniattn_add_mpi_test(mpi_ring_${_name} NP ${_np} THREADS ${_nt} FIXTURE ring_${_name}
    COMMAND $<TARGET_FILE:miniattn> ${_decks}/determinism.toml ${_args} ${_ring}
            --set run.ring_size=${_size} --set output.file=\"${_out}\"
            --set output.report=\"ring_${_name}.json\")
  miniattn_add_mpi_test(mpi_ring_${_name}_O REQUIRES "ring_${_name};${_ref_fixture}"
    COMMAND $<TARGET_FILE:miniattn-verify> ${_out} ${_ref} --max-rel-l2 ${_o_bound})
  miniattn_add_mpi_test(mpi_ring_${_name}_LSE REQUIRES "ring_${_name};${_ref_fixture}"
    COMMAND $<TARGET_FILE:miniattn-verify> ${_out} ${_ref} --dataset LSE --max-abs ${_lse_bound})
  miniattn_add_mpi_test(mpi_ring_${_name}_report REQUIRES ring_${_name}
    COMMAND ${MINIATTN_PYTHON} ${_here}/check_ring_report.py ring_${_name}.json ${_np})
endforeach()

# An HDF5 input read as zig-zag chunks (several hyperslabs per rank) gives the replicated O.
miniattn_add_mpi_test(mpi_ring_from_file_np3 NP 3 THREADS 1 FIXTURE ring_from_file REQUIRES gen_file
  COMMAND $<TARGET_FILE:miniattn> ${PROJECT_SOURCE_DIR}/inputs/from_file.toml ${_ring}
          --set input.file=\"gen_input.h5\" --set output.file=\"ring_from_file_out.h5\")
miniattn_add_mpi_test(mpi_ring_from_file_np3_O REQUIRES "ring_from_file;from_file"
  COMMAND $<TARGET_FILE:miniattn-verify> ring_from_file_out.h5 from_file_out.h5 --max-rel-l2 4e-6)

# A ring size that does not divide the ranks: one message from rank 0, exit 2, no output.
miniattn_add_mpi_test(mpi_ring_bad_size_np4
  COMMAND ${MINIATTN_PYTHON} ${_here}/expect_failure.py --code 2
          "--message=ring_size = 3 must divide the number of ranks \\(4\\)" --no-file ring_bad_out.h5
          -- ${_run} 4 ${MINIATTN_MPI_FLAGS} $<TARGET_FILE:miniattn> ${_decks}/determinism.toml
             ${_ring} --set run.ring_size=3 --set output.file=\"ring_bad_out.h5\")

# --- scripts/scaling.py: the dry run's commands, and a tiny real study making CSV and PNG ----
miniattn_add_mpi_test(scaling_script_dry_run
  COMMAND ${MINIATTN_PYTHON} ${_here}/check_scaling.py dry-run ${PROJECT_SOURCE_DIR}
          $<TARGET_FILE:miniattn> scaling_dry)
miniattn_add_mpi_test(scaling_script_tiny_study
  COMMAND ${MINIATTN_PYTHON} ${_here}/check_scaling.py run ${PROJECT_SOURCE_DIR}
          $<TARGET_FILE:miniattn> scaling_tiny
          "${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} {np} ${MINIATTN_MPI_FLAGS} {cmd}")
set_tests_properties(scaling_script_tiny_study PROPERTIES PROCESSORS 2 FIXTURES_SETUP scaling_tiny)

# --- scripts/model.py on that study's reports: calibration, validation, projection -----------
miniattn_add_mpi_test(model_script REQUIRES scaling_tiny
  COMMAND ${MINIATTN_PYTHON} ${_here}/check_model.py ${PROJECT_SOURCE_DIR} scaling_tiny model_check)
