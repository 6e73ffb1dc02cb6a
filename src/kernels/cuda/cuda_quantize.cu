// Quantisation on the GPU, bitwise equal to src/kernels/common/quantize.cpp (the element math
// is layout::q_* with explicit rounding, including the CPU's double path for rows and channels
// whose 127 / amax overflows float; maxima are order-independent, so reductions may run in
// parallel; the K mean is a double sum in key order, one thread per channel, as on the CPU; the
// Hadamard rotation and K smoothing's LSE term are layout::hadamard_row and layout::shift_*).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/cuda_launch.hpp"
#include "kernels/cuda/cuda_layout.hpp"
#include "kernels/cuda/cuda_util.hpp"

namespace miniattn::cuda {
namespace {

constexpr int kMeanKeys = 16;  // keys per staged chunk of the mean kernel

__device__ __forceinline__ void cp_async16(void* dst, const void* src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(static_cast<uint32_t>(__cvta_generic_to_shared(dst))),
               "l"(src));
}

// One CTA per KV head; chunks of kMeanKeys keys are staged through shared memory (two in
// flight) so the strictly sequential per-channel sums are not bound by load latency.
__global__ void k_mean_kernel(const float* k, int64_t lk, int d, float* mean) {
  extern __shared__ __align__(16) float buf[];  // 2 x kMeanKeys x d
  const int64_t g = blockIdx.x;
  const float* src = k + g * lk * d;
  const int64_t chunks = (lk + kMeanKeys - 1) / kMeanKeys;
  auto load = [&](int64_t c) {
    const int64_t j0 = c * kMeanKeys;
    const int n = static_cast<int>(lk - j0 < kMeanKeys ? lk - j0 : kMeanKeys);
    float* dst = buf + (c & 1) * kMeanKeys * d;
    for (int i = threadIdx.x; i < n * d / 4; i += blockDim.x) cp_async16(dst + 4 * i, src + j0 * d + 4 * i);
    asm volatile("cp.async.commit_group;\n" ::);
  };
  double sum = 0.0;
  const int c = threadIdx.x;
  if (chunks > 0) load(0);
  for (int64_t ch = 0; ch < chunks; ++ch) {
    if (ch + 1 < chunks) {
      load(ch + 1);
      asm volatile("cp.async.wait_group 1;\n" ::);
    } else {
      asm volatile("cp.async.wait_group 0;\n" ::);
    }
    __syncthreads();
    const int n = static_cast<int>(lk - ch * kMeanKeys < kMeanKeys ? lk - ch * kMeanKeys : kMeanKeys);
    const float* b = buf + (ch & 1) * kMeanKeys * d;
    if (c < d)
      for (int j = 0; j < n; ++j) sum = __dadd_rn(sum, static_cast<double>(b[j * d + c]));
    __syncthreads();
  }
  if (c < d) mean[g * d + c] = lk > 0 ? static_cast<float>(__ddiv_rn(sum, static_cast<double>(lk))) : 0.0f;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// One CTA (8 warps) per QuantBlock; warp w handles rows w, w + 8, ... . kRotate: each row, minus
// the mean, is rotated in the warp's shared-memory row (layout::hadamard_row) before amax and the
// encoding; a one_scale block rotates its rows twice (for the block's amax, then to encode)
// rather than holding a whole block.
template <bool kRotate>
__global__ void quantize_rows_kernel(const float* src, int d, const QuantBlock* blocks, const float* means,
                                     int8_t* dst, float* scale) {
  __shared__ float warp_amax[8];
  extern __shared__ float rot[];  // kRotate: 8 warps x d
  const QuantBlock b = blocks[blockIdx.x];
  const float* mean = b.mean_row >= 0 ? means + b.mean_row * d : nullptr;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float* row = rot + warp * d;
  // Row r as it is quantised: x - mean (and rotated, into the warp's row, when kRotate).
  auto prepare = [&](int r) {
    if constexpr (kRotate) {
      const float* x = src + (b.src_row + r) * d;
      __syncwarp();  // the previous row's readers are done
      for (int c = lane; c < d; c += 32) row[c] = mean ? layout::q_sub(x[c], mean[c]) : x[c];
      __syncwarp();
      layout::hadamard_row(row, d, lane, 32, [] { __syncwarp(); });
    }
  };
  auto value = [&](int r, int c) -> float {
    if constexpr (kRotate) {
      return row[c];
    } else {
      const float x = src[(b.src_row + r) * d + c];
      return mean ? layout::q_sub(x, mean[c]) : x;
    }
  };
  auto row_amax = [&](int r) {
    float a = 0.0f;
    for (int c = lane; c < d; c += 32) a = fmaxf(a, fabsf(value(r, c)));
    return warp_max(a);
  };
  auto encode = [&](int r, float amax) {
    int8_t* q = dst + (b.dst_row + r) * d;
    const layout::QInverse inv = layout::q_inverse(amax);  // warp-uniform: one path per row
    for (int c = lane; c < d; c += 32) q[c] = amax == 0.0f ? int8_t{0} : layout::q_encode(value(r, c), inv);
    if (lane == 0) scale[b.dst_row + r] = layout::q_scale(amax);
  };
  if (!b.one_scale) {
    for (int r = warp; r < b.rows; r += 8) {
      prepare(r);
      encode(r, row_amax(r));
    }
    return;
  }
  float a = 0.0f;
  for (int r = warp; r < b.rows; r += 8) {
    prepare(r);
    a = fmaxf(a, row_amax(r));
  }
  if (lane == 0) warp_amax[warp] = a;
  __syncthreads();
  float amax = 0.0f;
  for (int w = 0; w < 8; ++w) amax = fmaxf(amax, warp_amax[w]);
  for (int r = warp; r < b.rows; r += 8) {
    prepare(r);
    encode(r, amax);
  }
}

// K smoothing's LSE term of every row of every tile: four lanes per row, lane j summing chain j
// (layout::shift_chain), lane 0 combining them in the CPU's order.
__global__ void lse_shift_kernel(const float* q, int d, const GpuTile* tiles, const float* means, double scale,
                                 float* shift) {
  const GpuTile t = tiles[blockIdx.x];
  const float* mean = means + static_cast<int64_t>(t.group) * d;
  const int j = threadIdx.x & 3;
  for (int r0 = 0; r0 < t.rows; r0 += blockDim.x / 4) {  // uniform over the CTA: every lane shuffles
    const int r = r0 + static_cast<int>(threadIdx.x >> 2);
    const bool valid = r < t.rows;
    const double s = valid ? layout::shift_chain(q + (t.q_row + r) * d, mean, d, j) : 0.0;
    const double s1 = __shfl_down_sync(0xffffffffu, s, 1);
    const double s2 = __shfl_down_sync(0xffffffffu, s, 2);
    const double s3 = __shfl_down_sync(0xffffffffu, s, 3);
    if (valid && j == 0) shift[t.q_row + r] = layout::shift_combine(s, s1, s2, s3, scale);
  }
}

__global__ void v_bf16_kernel(const float* v, int64_t lk, int64_t lk_pad, int d, int64_t total, uint16_t* out) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = i / d, c = i % d;
    const int64_t g = row / lk, j = row % lk;
    out[(g * lk_pad + j) * d + c] = __bfloat16_as_ushort(__float2bfloat16_rn(v[i]));
  }
}

// Per-channel |V| maxima over keys [256 x, 256 x + 256) of head y; non-negative floats order
// like their bit patterns, so atomicMax on the bits is the float maximum.
__global__ void v_amax_kernel(const float* v, int64_t lk, int d, unsigned* amax_bits) {
  const int64_t g = blockIdx.y, j0 = static_cast<int64_t>(blockIdx.x) * 256;
  const int64_t j1 = j0 + 256 < lk ? j0 + 256 : lk;
  for (int c = threadIdx.x; c < d; c += blockDim.x) {
    float a = 0.0f;
    for (int64_t j = j0; j < j1; ++j) a = fmaxf(a, fabsf(v[(g * lk + j) * d + c]));
    atomicMax(amax_bits + g * d + c, __float_as_uint(a));
  }
}

// One CTA per (64-key tile, head): encode with the channel scales, then write the tile as
// V^T rows (channel-major) with keys in slot order.
__global__ void v_pack_kernel(const float* v, int64_t lk, int64_t lk_pad, int d, const unsigned* amax_bits,
                              float* v_scale, int8_t* vt8) {
  extern __shared__ int8_t tile[];  // 64 keys x d
  const int64_t g = blockIdx.y, t = blockIdx.x, j0 = t * 64;
  for (int i = threadIdx.x; i < 64 * d; i += blockDim.x) {
    const int jj = i / d, c = i % d;
    const float amax = __uint_as_float(amax_bits[g * d + c]);
    const layout::QInverse inv = layout::q_inverse(amax);
    const int64_t j = j0 + jj;
    tile[i] = j < lk ? layout::q_encode(v[(g * lk + j) * d + c], inv) : int8_t{0};
    if (t == 0 && jj == 0) v_scale[g * d + c] = layout::q_scale(amax);
  }
  __syncthreads();
  int8_t* out = vt8 + (g * (lk_pad / 64) + t) * d * 64;
  for (int i = threadIdx.x; i < 64 * d; i += blockDim.x) {
    const int c = i / 64, s = i % 64;
    out[i] = tile[layout::vt_key(s) * d + c];
  }
}

}  // namespace

void launch_k_mean(const float* k, int64_t groups, int64_t lk, int d, float* mean, cudaStream_t stream) {
  if (groups == 0) return;
  const int threads = d <= 128 ? 128 : 256;
  k_mean_kernel<<<static_cast<unsigned>(groups), threads, 2 * kMeanKeys * d * sizeof(float), stream>>>(k, lk, d, mean);
  check_cuda(cudaGetLastError(), "k mean launch");
}

void launch_quantize_rows(const float* src, int d, const QuantBlock* blocks, int64_t nblocks, const float* means,
                          bool rotate, int8_t* dst, float* scale, cudaStream_t stream) {
  if (nblocks == 0) return;
  if (rotate)
    quantize_rows_kernel<true><<<static_cast<unsigned>(nblocks), 256, 8 * d * sizeof(float), stream>>>(
        src, d, blocks, means, dst, scale);
  else
    quantize_rows_kernel<false><<<static_cast<unsigned>(nblocks), 256, 0, stream>>>(src, d, blocks, means, dst, scale);
  check_cuda(cudaGetLastError(), "quantize rows launch");
}

void launch_lse_shift(const float* q, int d, const GpuTile* tiles, int64_t ntiles, const float* means, double scale,
                      float* shift, cudaStream_t stream) {
  if (ntiles == 0) return;
  lse_shift_kernel<<<static_cast<unsigned>(ntiles), 128, 0, stream>>>(q, d, tiles, means, scale, shift);
  check_cuda(cudaGetLastError(), "lse shift launch");
}

void launch_v_bf16(const float* v, int64_t groups, int64_t lk, int64_t lk_pad, int d, uint16_t* out,
                   cudaStream_t stream) {
  const int64_t total = groups * lk * d;
  if (total == 0) return;
  const int64_t blocks = std::min<int64_t>((total + 255) / 256, 65535);
  v_bf16_kernel<<<static_cast<unsigned>(blocks), 256, 0, stream>>>(v, lk, lk_pad, d, total, out);
  check_cuda(cudaGetLastError(), "v bf16 launch");
}

void launch_v_int8(const float* v, int64_t groups, int64_t lk, int64_t lk_pad, int d, unsigned* amax_bits,
                   float* v_scale, int8_t* vt8, cudaStream_t stream) {
  if (groups == 0) return;
  check_cuda(cudaMemsetAsync(amax_bits, 0, groups * d * sizeof(unsigned), stream), "cudaMemsetAsync");
  // Key chunks on x (up to 2^31 - 1 blocks), KV heads on y (up to 65535 per rank).
  v_amax_kernel<<<dim3(static_cast<unsigned>((lk + 255) / 256), static_cast<unsigned>(groups)), 256, 0, stream>>>(
      v, lk, d, amax_bits);
  check_cuda(cudaGetLastError(), "v amax launch");
  v_pack_kernel<<<dim3(static_cast<unsigned>(lk_pad / 64), static_cast<unsigned>(groups)), 256, 64 * d, stream>>>(
      v, lk, lk_pad, d, amax_bits, v_scale, vt8);
  check_cuda(cudaGetLastError(), "v pack launch");
}

}  // namespace miniattn::cuda
