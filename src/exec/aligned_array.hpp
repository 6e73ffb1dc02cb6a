// Zero-filled, 64-byte aligned arrays for the executor's work buffers (the kernel library has no
// Kokkos; the app keeps the rank's Q/K/V/O in Kokkos Views). Zero-filling touches every page
// when the array is made, so no timed run pays first-touch page faults.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace miniattn {

template <class T>
class AlignedArray {
 public:
  void allocate(std::size_t n) {
    const std::size_t bytes = (n * sizeof(T) + 63) / 64 * 64;
    void* p = bytes ? std::aligned_alloc(64, bytes) : nullptr;
    if (bytes && !p) throw std::bad_alloc();
    if (p) std::memset(p, 0, bytes);
    mem_.reset(static_cast<T*>(p));
    size_ = n;
  }
  T* data() { return mem_.get(); }
  const T* data() const { return mem_.get(); }
  std::size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> mem_;
  std::size_t size_ = 0;
};

}  // namespace miniattn
