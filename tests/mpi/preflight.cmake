# --- Runs that cannot fit fail before allocating, naming the deck keys to change -------------
# name | np | message regex | extra args (the deck is decks/faults.toml)
set(_preflight_cases
  # The cap a test (or a shared node) sets: the small deck needs ~200 KiB per rank.
  "memory_limit|2|not enough memory: the 2 rank\\(s\\) on node .*\\(MINIATTN_MEMORY_LIMIT=64K\\)|"
  # Beyond any machine (Q and O: 64 heads x 4M rows x 1024 x 8 B = 2 TiB): seq_len first.
  "memory_q|2|not enough memory: .* To fit: lower \\[problem\\] seq_len|--set,problem.seq_len=4000000,--set,problem.head_dim=1024,--set,problem.heads=64,--set,problem.kv_heads=64,--set,problem.kv_len=64"
  # K/V dominate: kv_len first, and the ring mode.
  "memory_kv|4|not enough memory: .* To fit: lower \\[problem\\] kv_len .* kv_mode = \"ring\"|--set,problem.seq_len=64,--set,problem.kv_len=400000000"
  # The JSON report is written last; a bad path is found first.
  "unwritable_report|2|\\[output\\] report = \"/nonexistent_dir/r.json\": cannot write the JSON report \\(No such file|--set,output.report=\"/nonexistent_dir/r.json\"")
foreach(_case IN LISTS _preflight_cases)
  string(REPLACE "|" ";" _f "${_case}")
  list(GET _f 0 _name)
  list(GET _f 1 _np)
  list(GET _f 2 _msg)
  list(GET _f 3 _extra)
  string(REPLACE "," ";" _extra "${_extra}")
  miniattn_add_mpi_test(mpi_preflight_${_name}_np${_np}
    COMMAND ${MINIATTN_PYTHON} ${_here}/expect_failure.py --code 2 --timeout 30 "--message=${_msg}"
            --no-file preflight_${_name}.h5
            -- ${_run} ${_np} ${MINIATTN_MPI_FLAGS} $<TARGET_FILE:miniattn> ${_decks}/faults.toml
               --set output.file=\"preflight_${_name}.h5\" ${_extra})
endforeach()
set_property(TEST mpi_preflight_memory_limit_np2 APPEND PROPERTY ENVIRONMENT
             "MINIATTN_MEMORY_LIMIT=64K")

# A cap the run fits in changes nothing.
miniattn_add_mpi_test(mpi_preflight_memory_fits_np2 NP 2 THREADS 1
  COMMAND $<TARGET_FILE:miniattn> ${_decks}/faults.toml --set output.file=\"preflight_fits.h5\")
set_property(TEST mpi_preflight_memory_fits_np2 APPEND PROPERTY ENVIRONMENT
             "MINIATTN_MEMORY_LIMIT=64M")
