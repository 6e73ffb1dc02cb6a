// cuda: INT8 tensor-core FlashAttention on NVIDIA GPUs (sm_80 and newer). A rank runs on one
// device (local rank % devices) through the backend's RankExecutor: upload, quantise (GPU),
// pack, fused kernel, download. See docs/CUDA.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "miniattn/kernel.hpp"

namespace miniattn {

std::unique_ptr<Backend> make_cuda_backend();

// Empty if this machine can run the cuda backend, else why not ("no CUDA device: ...").
// Never throws and never crashes without a driver.
std::string cuda_unsupported();

namespace cuda {

// One rank's attention on the device: owns every device array of the rank (inputs, quantised
// operands, outputs) and runs the steps on its own stream. The bench and the correctness check
// drive the steps one by one; the executor runs them in order with CUDA event timing.
class DeviceAttention {
 public:
  // rows: the rank's flattened query rows, groups: its KV heads. Selects no device: the caller
  // has (cudaSetDevice) before constructing.
  DeviceAttention(const AttnParams& p, const Range& rows, const Range& groups);
  ~DeviceAttention();
  DeviceAttention(const DeviceAttention&) = delete;
  DeviceAttention& operator=(const DeviceAttention&) = delete;

  // Host q: rows x d; k, v: groups x lk x d.
  void upload(const float* q, const float* k, const float* v);
  void quantize();
  void pack();  // int8 P.V: V^T per-channel int8 in slot order; bf16: nothing left to do
  // The fused kernel; with cycles, the per-phase clock64 sums are collected (cycle_split).
  void attend(bool cycles);
  void download(float* o, float* lse);
  void sync();

  // Per-phase fractions (qk, softmax, pv) of the last timed attend, summing to 1.
  std::array<double, 3> cycle_split();
  // Quantised operands back on the host (tests: bitwise equality with the CPU quantiser).
  struct HostQuant {
    std::vector<int8_t> q8, k8;  // rows x d; groups x lk x d (pads dropped)
    std::vector<float> q_scale, k_scale, k_mean, v_scale;
    std::vector<uint16_t> v_bf16;
    std::vector<float> lse_shift;  // rows (empty without smoothing)
  };
  HostQuant download_quantised();
  // Replaces q8 (rows x d) and k8 (groups x lk x d) with host values, for scores().
  void set_quantised_qk(const int8_t* q8, const int8_t* k8);
  // int32 scores of every rank row against every key of its KV head, rows x lk.
  std::vector<int32_t> scores();

  std::size_t device_bytes() const;
  void* stream() const;  // cudaStream_t
  int64_t num_tiles() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Selects this rank's device (local rank % count) and returns its index.
int select_device();

}  // namespace cuda
}  // namespace miniattn
