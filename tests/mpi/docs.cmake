# --- The h5py snippet of docs/output.md reads a real output file ------------------------------
# decks/layout.toml is causal with Lq > Lk: the snippet's check of empty rows has work to do.
miniattn_add_mpi_test(doc_output_snippet REQUIRES layout_np3
  COMMAND ${MINIATTN_PYTHON} ${PROJECT_SOURCE_DIR}/tests/docs/run_snippet.py
          ${PROJECT_SOURCE_DIR}/docs/output.md layout_np3.h5)
