// Linked into the executables that initialise MPI, in AddressSanitizer builds only
// (cmake/MiniattnSanitizers.cmake). Open MPI loads its components with dlopen, allocates in
// them without freeing and unloads them at MPI_Finalize: LeakSanitizer then reports leaks in
// "<unknown module>" frames, which no suppression can match, and can crash reading the
// unloaded modules' thread-local storage. Leak checking is therefore off in these executables;
// ASan and UBSan stay on, and LeakSanitizer still checks the executables without MPI (kernel
// tests, deck and memory-estimate tests, fuzz_deck). An absurd allocation (a corrupt HDF5
// file's sizes, a deck beyond the machine) returns null as it would without ASan, so that the
// code's own handling of it runs. ASAN_OPTIONS still overrides these.
extern "C" const char* __asan_default_options() {
  return "detect_leaks=0:allocator_may_return_null=1";
}
