// The rank's arrays: Kokkos host Views when built with Kokkos, aligned heap blocks otherwise.
// Both are zero-filled when allocated, so their pages are touched before anything is timed.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#if MINIATTN_HAVE_KOKKOS
#include <Kokkos_Core.hpp>
#endif

namespace miniattn {

template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(const std::string& label, std::size_t n) { allocate(label, n); }

  void allocate(const std::string& label, std::size_t n) {
#if MINIATTN_HAVE_KOKKOS
    view_ = Kokkos::View<T*, Kokkos::HostSpace>(label, n);
    data_ = view_.data();
#else
    (void)label;
    const std::size_t bytes = ((n * sizeof(T) + 63) / 64) * 64;
    void* p = bytes ? std::aligned_alloc(64, bytes) : nullptr;
    if (bytes && !p) throw std::bad_alloc();
    if (p) std::memset(p, 0, bytes);
    mem_.reset(static_cast<T*>(p));
    data_ = mem_.get();
#endif
    size_ = n;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }

 private:
#if MINIATTN_HAVE_KOKKOS
  Kokkos::View<T*, Kokkos::HostSpace> view_;
#else
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> mem_;
#endif
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace miniattn
