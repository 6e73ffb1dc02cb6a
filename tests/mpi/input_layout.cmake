# [input] layout: a blhd file (batch, len, heads, dim) written by miniattn-gen gives the O and
# LSE of the synthetic run bit for bit (the gen promise, through the strided reads), replicated
# and in ring mode (several row ranges per head); read as bhld it is refused, naming the layout.
# Included by CMakeLists.txt here (it uses miniattn_add_mpi_test). (";" in a message regex is
# written "." : CMake would split the argument there.)
set(_blhd_deck ${_decks}/blhd.toml)
set(_blhd_file --set input.source=\"hdf5\" --set input.file=\"gen_blhd.h5\")
miniattn_add_mpi_test(mpi_gen_blhd_np2 NP 2 THREADS 1 FIXTURE gen_blhd
  COMMAND $<TARGET_FILE:miniattn-gen> ${_blhd_deck} --set input.layout=\"blhd\" -o gen_blhd.h5)
foreach(_mode replicated ring)
  miniattn_add_mpi_test(mpi_blhd_${_mode}_from_file_np3 NP 3 THREADS 1 FIXTURE blhd_${_mode}_file
    REQUIRES gen_blhd
    COMMAND $<TARGET_FILE:miniattn> ${_blhd_deck} ${_blhd_file} --set input.layout=\"blhd\"
            --set run.kv_mode=\"${_mode}\" --set output.file=\"blhd_${_mode}_file_out.h5\")
  miniattn_add_mpi_test(mpi_blhd_${_mode}_synthetic_np3 NP 3 THREADS 1
    FIXTURE blhd_${_mode}_synthetic
    COMMAND $<TARGET_FILE:miniattn> ${_blhd_deck} --set run.kv_mode=\"${_mode}\"
            --set output.file=\"blhd_${_mode}_synthetic_out.h5\")
  foreach(_ds O LSE)
    miniattn_add_mpi_test(blhd_${_mode}_file_equals_synthetic_${_ds}
      REQUIRES "blhd_${_mode}_file;blhd_${_mode}_synthetic"
      COMMAND ${MINIATTN_H5DIFF} blhd_${_mode}_file_out.h5 blhd_${_mode}_synthetic_out.h5
              /${_ds} /${_ds})
  endforeach()
endforeach()
miniattn_add_mpi_test(mpi_bad_input_blhd_read_as_bhld_np2 REQUIRES gen_blhd
  COMMAND ${MINIATTN_PYTHON} ${_here}/expect_failure.py --code 2
          "--message=dataset 'K' has shape \\(2, 40, 4, 32\\). expected \\(batch, kv_heads, kv_len, head_dim\\) = \\(2, 4, 40, 32\\) from the deck, as \\[input\\] layout = .bhld. orders it. that is the shape in \\[input\\] layout = .blhd."
          --no-file blhd_as_bhld_out.h5
          -- ${_run} 2 ${MINIATTN_MPI_FLAGS} $<TARGET_FILE:miniattn> ${_blhd_deck} ${_blhd_file}
             --set output.file=\"blhd_as_bhld_out.h5\")
