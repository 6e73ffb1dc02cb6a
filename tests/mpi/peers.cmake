# --- scripts/peers.py: miniattn against its peers (docs/PERFORMANCE.md, "Peers") ---------------
# A tiny study against OpenVINO, from the venv .venv/ that scripts/setup_python.sh makes (as CI's
# set-up does; the test skips, saying so, without it): CSV, table and PNGs, miniattn within its
# default verification bounds and the script's float64 reference equal to the app's own,
# OpenVINO f32 at float32 accuracy. Then peers that cannot run (a torch that fails to import, an
# OpenVINO without the SDPA op, no interpreter) skipped with a line each, one that crashes setting
# up a shape left out of it, and bad arguments.
miniattn_add_mpi_test(peers_script_tiny_openvino
  COMMAND ${MINIATTN_PYTHON} ${_here}/check_peers.py openvino ${PROJECT_SOURCE_DIR}
          $<TARGET_FILE:miniattn> peers_tiny)
set_tests_properties(peers_script_tiny_openvino PROPERTIES SKIP_RETURN_CODE 77)
miniattn_add_mpi_test(peers_script_missing_peers
  COMMAND ${MINIATTN_PYTHON} ${_here}/check_peers.py missing ${PROJECT_SOURCE_DIR}
          $<TARGET_FILE:miniattn> peers_missing)
