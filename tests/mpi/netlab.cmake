# scripts/netlab.sh, the emulated multi-host network (docs/SCALING.md, "Emulated network"),
# included by CMakeLists.txt here. The tests that build labs skip (exit 77) with netlab's reason
# where network namespaces, veth, bridges or tc cannot be used, and remove their labs even when
# they fail.
add_executable(mpi_pingpong mpi_pingpong.cpp)
target_link_libraries(mpi_pingpong PRIVATE MPI::MPI_CXX)

set(_netlab ${PROJECT_SOURCE_DIR}/scripts/netlab.sh)
set(_netlab_check ${MINIATTN_PYTHON} ${_here}/check_netlab.py --netlab ${_netlab})

# A 2-rank ring run with each rank on its own host, links shaped to 1 Gbit/s: O within the ring
# tests' bound (scaleout.cmake: rel_l2 4e-6) of the replicated run, and the ring's shards
# crossed the lab's links (link counters >= the report's bytes sent).
miniattn_add_mpi_test(netlab_ring_np2 REQUIRES det_fp32_np1_t1
  COMMAND ${_netlab_check} ring --rate 1gbit
          --miniattn $<TARGET_FILE:miniattn> --verify $<TARGET_FILE:miniattn-verify>
          --deck ${_decks}/determinism.toml --reference det_fp32_np1_t1.h5 --max-rel-l2 4e-6
          --out netlab_ring_np2)
# The ring's report tells the truth where transfers are not hidden: over a 100 Mbit/s link each
# step's 2.6 MB shard takes ~0.2 s against ~10 ms of compute; the waits, the time in flight and
# the hidden fraction must agree with the link rate and the measured kernel time; the same
# report with its waits zeroed (all hidden, what it said before transfers were measured) must
# fail those checks.
miniattn_add_mpi_test(netlab_ring_overlap
  COMMAND ${_netlab_check} overlap --rate 100mbit --miniattn $<TARGET_FILE:miniattn>
          --deck ${_decks}/ring_overlap.toml --out netlab_ring_overlap)
# The shaping holds: MPI bandwidth between two hosts of a 200 Mbit/s lab is below the rate
# (unshaped veth moves several Gbit/s here) and not far below it, and rank 0 is alone on its node.
miniattn_add_mpi_test(netlab_probe
  COMMAND ${_netlab_check} probe --rate 200mbit --pingpong $<TARGET_FILE:mpi_pingpong>)
# Nothing is left after a lab whose netlab.sh got SIGTERM, whose job was SIGKILLed, whose
# netlab.sh was SIGKILLed (its reaper cleans up), or whose netlab.sh and reaper were both
# SIGKILLed (--cleanup-stale).
miniattn_add_mpi_test(netlab_cleanup COMMAND ${_netlab_check} cleanup)
# Without the privileges for namespaces (an ordinary user, root without capabilities; or this
# test's own run where it has none): exit 2 and one line naming what failed.
miniattn_add_mpi_test(netlab_refuses COMMAND ${_netlab_check} refuse)
# scripts/scaling.py --network: a tiny ring study (1 and 2 ranks) run inside labs, its CSV and
# plots, and each run's shards counted on its lab's links.
miniattn_add_mpi_test(scaling_script_network
  COMMAND ${MINIATTN_PYTHON} ${_here}/check_scaling.py network ${PROJECT_SOURCE_DIR}
          $<TARGET_FILE:miniattn> scaling_network 1gbit)
set_tests_properties(netlab_ring_np2 netlab_ring_overlap netlab_probe netlab_cleanup
  netlab_refuses scaling_script_network PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
set_tests_properties(netlab_ring_np2 netlab_ring_overlap netlab_probe scaling_script_network
  PROPERTIES PROCESSORS 2)
