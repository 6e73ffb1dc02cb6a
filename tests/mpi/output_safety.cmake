# --- Outputs never destroy anything -----------------------------------------------------------
# An output that is the deck, an input, the other output, a link or not a regular file is refused
# before any compute (exit 2, one message from rank 0); a run that fails later (exit 3, or a
# rank killed) leaves existing outputs byte-identical and no temporary file behind. Every case
# works on copies in this build directory, made fresh by expect_failure.py (--copy, --fifo,
# --symlink, --char-device) and checked afterwards (--keep: same kind, same bytes).
set(_safe_app ${_run} 2 ${MINIATTN_MPI_FLAGS} $<TARGET_FILE:miniattn>)
set(_safe_gen ${_run} 2 ${MINIATTN_MPI_FLAGS} $<TARGET_FILE:miniattn-gen>)
set(_safe_deck ${_decks}/faults.toml)

# _safety_test(NAME CODE MESSAGE [PREPARE expect_failure.py options...] COMMAND cmd...)
function(_safety_test name code msg)
  cmake_parse_arguments(S "" "" "PREPARE;COMMAND" ${ARGN})
  miniattn_add_mpi_test(safety_${name}
    COMMAND ${MINIATTN_PYTHON} ${_here}/expect_failure.py --code ${code} --timeout 30
            "--message=${msg}" ${S_PREPARE} -- ${S_COMMAND})
  set_property(TEST safety_${name} APPEND PROPERTY ENVIRONMENT "OMP_NUM_THREADS=1")
endfunction()

_safety_test(output_is_deck 2
  "\\[output\\] file = \"safe_output_is_deck.toml\" is the same file as the deck"
  PREPARE --copy ${_safe_deck} safe_output_is_deck.toml --keep safe_output_is_deck.toml
  COMMAND ${_safe_app} safe_output_is_deck.toml --set output.file=\"safe_output_is_deck.toml\")
_safety_test(report_is_deck 2
  "\\[output\\] report = \"safe_report_is_deck.toml\" is the same file as the deck"
  PREPARE --copy ${_safe_deck} safe_report_is_deck.toml --keep safe_report_is_deck.toml
          --no-file safe_report_is_deck.h5
  COMMAND ${_safe_app} safe_report_is_deck.toml --set output.file=\"safe_report_is_deck.h5\"
          --set output.report=\"safe_report_is_deck.toml\")
# The input is found by its inode, whatever the spelling ("./x" and "x").
_safety_test(output_is_input 2
  "\\[output\\] file = \"./safe_output_is_input.h5\" is the same file as \\[input\\] file"
  PREPARE --copy ${_safe_deck} safe_output_is_input.h5 --keep safe_output_is_input.h5
  COMMAND ${_safe_app} ${_safe_deck} --set input.source=\"hdf5\"
          --set input.file=\"safe_output_is_input.h5\" --set output.file=\"./safe_output_is_input.h5\")
_safety_test(report_is_input 2
  "\\[output\\] report = \"safe_report_is_input.h5\" is the same file as \\[input\\] file"
  PREPARE --copy ${_safe_deck} safe_report_is_input.h5 --keep safe_report_is_input.h5
          --no-file safe_report_is_input_out.h5
  COMMAND ${_safe_app} ${_safe_deck} --set input.source=\"hdf5\"
          --set input.file=\"safe_report_is_input.h5\" --set output.file=\"safe_report_is_input_out.h5\"
          --set output.report=\"safe_report_is_input.h5\")
_safety_test(report_is_output 2
  "\\[output\\] report = \"safe_report_is_output.h5\" is the same file as \\[output\\] file"
  PREPARE --copy ${_safe_deck} safe_report_is_output.h5 --keep safe_report_is_output.h5
  COMMAND ${_safe_app} ${_safe_deck} --set output.file=\"safe_report_is_output.h5\"
          --set output.report=\"safe_report_is_output.h5\")
# Neither exists yet: the same resolved directory and name.
_safety_test(report_is_new_output 2
  "\\[output\\] report = \"./safe_new_output.h5\" is the same file as \\[output\\] file"
  PREPARE --no-file safe_new_output.h5
  COMMAND ${_safe_app} ${_safe_deck} --set output.file=\"safe_new_output.h5\"
          --set output.report=\"./safe_new_output.h5\")
_safety_test(output_fifo 2 "\\[output\\] file = \"safe_fifo_out\" exists and is a FIFO"
  PREPARE --fifo safe_fifo_out --keep safe_fifo_out
  COMMAND ${_safe_app} ${_safe_deck} --set output.file=\"safe_fifo_out\")
_safety_test(report_fifo 2 "\\[output\\] report = \"safe_fifo_report\" exists and is a FIFO"
  PREPARE --fifo safe_fifo_report --keep safe_fifo_report
  COMMAND ${_safe_app} ${_safe_deck} --set output.file=\"\" --set output.report=\"safe_fifo_report\")
# What /dev/null is, made here: a test that failed would replace this node, not the system's.
_safety_test(output_char_device 2
  "\\[output\\] file = \"safe_null\" exists and is a character device"
  PREPARE --char-device safe_null --keep safe_null
  COMMAND ${_safe_app} ${_safe_deck} --set output.file=\"safe_null\")
set_property(TEST safety_output_char_device PROPERTY SKIP_RETURN_CODE 77)
_safety_test(output_directory 2 "\\[output\\] file = \".\" exists and is a directory"
  COMMAND ${_safe_app} ${_safe_deck} --set output.file=\".\")
_safety_test(output_symlink 2
  "\\[output\\] file = \"safe_link.h5\" is a symbolic link \\(to \"safe_link_target.h5\"\\)"
  PREPARE --copy ${_safe_deck} safe_link_target.h5 --symlink safe_link_target.h5 safe_link.h5
          --keep safe_link.h5 --keep safe_link_target.h5
  COMMAND ${_safe_app} ${_safe_deck} --set output.file=\"safe_link.h5\")
_safety_test(gen_output_is_deck 2 "-o \"safe_gen_deck.toml\" is the same file as the deck"
  PREPARE --copy ${_safe_deck} safe_gen_deck.toml --keep safe_gen_deck.toml
  COMMAND ${_safe_gen} safe_gen_deck.toml -o safe_gen_deck.toml)
_safety_test(gen_output_fifo 2 "-o \"safe_gen_fifo\" exists and is a FIFO"
  PREPARE --fifo safe_gen_fifo --keep safe_gen_fifo
  COMMAND ${_safe_gen} ${_safe_deck} -o safe_gen_fifo)

# A fault after the output is written (write, report: the JSON report, commit: just before the
# renames) leaves the existing output and report as they were. rank | stage | mode | exit code
foreach(_case "1|write|throw|3" "0|report|throw|3" "1|report|kill|137" "1|commit|throw|3"
              "0|commit|exit|3" "0|commit|kill|137")
  string(REPLACE "|" ";" _f "${_case}")
  list(GET _f 0 _rank)
  list(GET _f 1 _stage)
  list(GET _f 2 _mode)
  list(GET _f 3 _code)
  set(_tag r${_rank}_${_stage}_${_mode})
  _safety_test(fault_keeps_outputs_${_tag} ${_code}
    "rank ${_rank}: .*injected fault at stage '${_stage}'"
    PREPARE --copy ${_safe_deck} safe_fault_${_tag}.h5 --copy ${_safe_deck} safe_fault_${_tag}.json
            --keep safe_fault_${_tag}.h5 --keep safe_fault_${_tag}.json
    COMMAND ${_safe_app} ${_safe_deck} --set output.file=\"safe_fault_${_tag}.h5\"
            --set output.report=\"safe_fault_${_tag}.json\")
  set_property(TEST safety_fault_keeps_outputs_${_tag} APPEND PROPERTY ENVIRONMENT
               "MINIATTN_FAULT=${_rank}:${_stage}:${_mode}")
endforeach()

# A failed verification (exit 1) is a completed run: its outputs replace the old ones, marked
# /verification passed = 0 (max_rel_l2 = 1e-9 fails any int8 run: its error is ~1e-3).
miniattn_add_mpi_test(safety_verify_fail_np2 FIXTURE safe_verify_fail
  COMMAND ${MINIATTN_PYTHON} ${_here}/expect_failure.py --code 1 --timeout 30 "--message=verify=FAIL"
          --copy ${_safe_deck} safe_verify_fail.h5 --copy ${_safe_deck} safe_verify_fail.json
          -- ${_safe_app} ${_safe_deck} --set verify.max_rel_l2=1e-9
             --set output.file=\"safe_verify_fail.h5\" --set output.report=\"safe_verify_fail.json\")
miniattn_add_mpi_test(safety_verify_fail_keeps_outputs REQUIRES safe_verify_fail
  COMMAND ${MINIATTN_PYTHON} ${_here}/check_kept_outputs.py safe_verify_fail.h5
          safe_verify_fail.json)
