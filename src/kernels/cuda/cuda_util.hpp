// CUDA runtime helpers: errors become miniattn::Error (exit code 3, run-time failure) naming
// the call, device memory is owned by RAII buffers, events time stream intervals.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <utility>

#include "miniattn/error.hpp"

namespace miniattn::cuda {

inline void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw Error(std::string("cuda: ") + what + " failed: " + cudaGetErrorString(e), ExitCode::RuntimeFailure);
}

[[noreturn]] inline void throw_cuda_shape(int d) {
  throw Error("cuda: no kernel for head_dim " + std::to_string(d), ExitCode::BadInput);
}

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n) { allocate(n); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  ~DeviceBuffer() {
    if (p_) cudaFree(p_);
  }
  // Allocates n elements, zero-filled (pads and unused tails read as zero).
  void allocate(std::size_t n) {
    if (p_) cudaFree(p_);
    p_ = nullptr;
    n_ = n;
    if (n == 0) return;
    check_cuda(cudaMalloc(reinterpret_cast<void**>(&p_), n * sizeof(T)), "cudaMalloc");
    check_cuda(cudaMemset(p_, 0, n * sizeof(T)), "cudaMemset");
    // cudaMemset runs on the legacy stream, which the backend's non-blocking streams do not
    // wait for: finish it before any kernel can read or write the buffer.
    check_cuda(cudaStreamSynchronize(nullptr), "cudaStreamSynchronize (zero fill)");
  }
  T* get() const { return p_; }
  std::size_t size() const { return n_; }
  std::size_t bytes() const { return n_ * sizeof(T); }

 private:
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

class Event {
 public:
  Event() { check_cuda(cudaEventCreate(&e_), "cudaEventCreate"); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { cudaEventDestroy(e_); }
  void record(cudaStream_t s) { check_cuda(cudaEventRecord(e_, s), "cudaEventRecord"); }
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_{};
};

// Seconds between two recorded events (the later one must have completed).
inline double seconds_between(const Event& a, const Event& b) {
  float ms = 0.0f;
  check_cuda(cudaEventElapsedTime(&ms, a.get(), b.get()), "cudaEventElapsedTime");
  return ms * 1e-3;
}

class Stream {
 public:
  Stream() { check_cuda(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), "cudaStreamCreate"); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() { cudaStreamDestroy(s_); }
  cudaStream_t get() const { return s_; }
  void sync() const { check_cuda(cudaStreamSynchronize(s_), "cudaStreamSynchronize"); }

 private:
  cudaStream_t s_{};
};

}  // namespace miniattn::cuda
