// Compiled into every executable of an AddressSanitizer build (cmake/MiniattnSanitizers.cmake).
// LLVM's OpenMP runtime keeps the descriptors of its pool threads until after LeakSanitizer's
// end-of-process check; those blocks, allocated inside libomp, are not leaks of ours.
extern "C" const char* __lsan_default_suppressions() { return "leak:libomp.so\n"; }
