// Index arithmetic shared by the cuda kernels and their host-side tests: the shared-memory
// swizzle, the address each lane hands to ldmatrix for every operand, the key permutation of
// the int8 P.V operand, and the element-wise quantisation math. Everything here compiles for
// host and device, so tests/unit/test_backend_cuda.cpp checks on a CPU (with an emulation of
// ldmatrix and mma.sync written from the PTX ISA tables) exactly the indices the kernels use.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define MINIATTN_HD __host__ __device__ __forceinline__
#else
#define MINIATTN_HD inline
#endif

namespace miniattn::cuda::layout {

// Shared-memory tiles are rows of C 16-byte chunks. ldmatrix reads 8 rows at one chunk
// column; XOR-ing the chunk index with bits of the row spreads those 8 rows over the 8
// distinct 16-byte slots of a 128-byte bank line (no bank conflicts), for C >= 2.
// Returns the tile offset in 16-byte units.
template <int C>
MINIATTN_HD int swizzle(int row, int chunk) {
  static_assert(C >= 2 && (C & (C - 1)) == 0, "power-of-two chunks per row");
  constexpr int kRowsPerLine = C >= 8 ? 1 : 8 / C;
  constexpr int kMask = (C >= 8 ? 8 : C) - 1;
  return row * C + (chunk ^ ((row / kRowsPerLine) & kMask));
}

// ldmatrix.x4: lanes 8i..8i+7 give the row addresses of matrix i, and matrix i lands in the
// i-th destination register. The operand layouts (PTX ISA, mma.m16n8k32 / m16n8k16):
//
// A (Q int8, rows x 16-byte chunks): regs a0..a3 = (rows 0-7, k 0-15), (rows 8-15, k 0-15),
// (rows 0-7, k 16-31), (rows 8-15, k 16-31) of the m16 x k32 step.
MINIATTN_HD int a_row(int lane) { return (lane & 7) + ((lane >> 3) & 1) * 8; }
MINIATTN_HD int a_chunk(int lane, int kstep) { return 2 * kstep + (lane >> 4); }

// B from row-major [n][k] storage (K int8 by key, V^T int8 by channel): regs = (b0, b1) of
// n-tile 0 and (b0, b1) of n-tile 1 of a 16-wide n pair: (n 0-7, k 0-15), (n 0-7, k 16-31),
// (n 8-15, k 0-15), (n 8-15, k 16-31).
MINIATTN_HD int b_row(int lane) { return (lane & 7) + (lane >> 4) * 8; }
MINIATTN_HD int b_chunk(int lane, int kstep) { return 2 * kstep + ((lane >> 3) & 1); }

// B of the bf16 m16n8k16 from row-major [k][n] storage (V bf16 by key), ldmatrix.trans:
// regs = (b0, b1) of channel tile 0 and of channel tile 1: (keys 0-7, ch 0-7), (keys 8-15,
// ch 0-7), (keys 0-7, ch 8-15), (keys 8-15, ch 8-15).
MINIATTN_HD int vt_row(int lane) { return (lane & 7) + ((lane >> 3) & 1) * 8; }
MINIATTN_HD int vt_chunk(int lane, int cpair) { return 2 * cpair + (lane >> 4); }

// int8 P.V: the u8 A operand is built from the int32 score accumulators in registers. A
// thread holds keys 2t, 2t+1 of every 8-key n-tile (t = lane % 4), but an m16n8k32 A register
// holds 4 consecutive k slots 4t..4t+3. Slots are relabelled instead of moved: in every
// 16-key half of a k32 step, slot s holds key slot_key(s); the pack kernel stores V^T in the
// same slot order, so the dot product pairs each P with its own V row.
MINIATTN_HD int slot_key(int s) {
  const int t = s >> 2, i = s & 3;
  return i < 2 ? 2 * t + i : 8 + 2 * t + (i - 2);
}

// Slot s (0..63) of a packed 64-key V^T row holds key vt_key(s) of the tile.
MINIATTN_HD int vt_key(int s) { return (s & ~15) + slot_key(s & 15); }

// Where the P operands come from in the score accumulators S[n-tile][e] (e: c0..c3, rows
// g (e < 2) and g + 8 (e >= 2), keys 2t, 2t+1 of the n-tile). bf16, k16 step t, register r:
// the pair of elements 2 p_half(r), 2 p_half(r) + 1 of n-tile p16_ntile(t, r).
MINIATTN_HD int p16_ntile(int t, int r) { return 2 * t + (r >> 1); }
MINIATTN_HD int p_half(int r) { return r & 1; }
// u8, k32 step t, register r, byte b: element p8_elem(r, b) of n-tile p8_ntile(t, r, b).
MINIATTN_HD int p8_ntile(int t, int r, int b) { return 4 * t + 2 * (r >> 1) + (b >> 1); }
MINIATTN_HD int p8_elem(int r, int b) { return 2 * (r & 1) + (b & 1); }

// Quantisation, element by element, with the rounding of src/kernels/common/quantize.cpp:
// no contraction into FMA, round to nearest even. On the device the intrinsics make each
// rounding explicit; on the host (built without FMA flags, as quantize.cpp is) plain float
// arithmetic does the same.
MINIATTN_HD float q_sub(float x, float mean) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(x, mean);
#else
  return x - mean;
#endif
}

MINIATTN_HD float q_add(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

MINIATTN_HD float q_mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

MINIATTN_HD float q_inv(float amax) {  // 127 / amax
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(127.0f, amax);
#else
  return 127.0f / amax;
#endif
}

MINIATTN_HD float q_scale(float amax) {  // amax / 127
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(amax, 127.0f);
#else
  return amax / 127.0f;
#endif
}

MINIATTN_HD int8_t q_encode(float xs, float inv) {  // rint(xs * inv) clamped to [-127, 127]
#if defined(__CUDA_ARCH__)
  float r = rintf(__fmul_rn(xs, inv));
#else
  float r = std::nearbyint(xs * inv);
#endif
  r = r < -127.0f ? -127.0f : (r > 127.0f ? 127.0f : r);
  return static_cast<int8_t>(r);
}

// The inverse scale of one row (or V channel) with the CPU's two paths: 127 / amax in float,
// or, where that overflows (amax < 127 / FLT_MAX: subnormal rows), 127 / amax in double and the
// element rounding in double too (quantize.cpp, encode and quantize_v_with_absmax). amax = 0
// gives inverse 0, hence all-zero codes, as on the CPU.
struct QInverse {
  float f = 0.0f;
  double d = 0.0;
  bool wide = false;  // encode in double
};

MINIATTN_HD QInverse q_inverse(float amax) {
  QInverse r;
  if (!(amax > 0.0f)) return r;
  r.f = q_inv(amax);
  if (r.f > FLT_MAX) {  // +inf: 127 / amax is finite in double (at most 127 * 2^149)
    r.wide = true;
#if defined(__CUDA_ARCH__)
    r.d = __ddiv_rn(127.0, static_cast<double>(amax));
#else
    r.d = 127.0 / static_cast<double>(amax);
#endif
  }
  return r;
}

MINIATTN_HD int8_t q_encode(float xs, const QInverse& inv) {
  if (!inv.wide) return q_encode(xs, inv.f);
#if defined(__CUDA_ARCH__)
  double r = rint(__dmul_rn(static_cast<double>(xs), inv.d));
#else
  double r = std::nearbyint(static_cast<double>(xs) * inv.d);
#endif
  r = r < -127.0 ? -127.0 : (r > 127.0 ? 127.0 : r);
  return static_cast<int8_t>(r);
}

// The Hadamard rotation of one row (x <- x H), with the float operations of
// src/kernels/common/rotation.cpp in its order: per power-of-two block of d's binary
// decomposition (largest first), butterflies (a + b, a - b) for h = 1, 2, ..., n / 2, then one
// multiply by float(1 / sqrt(n)). A level's butterflies touch disjoint pairs, so `lanes` threads
// share each level (lane takes butterflies lane, lane + lanes, ...); only the levels are ordered.
MINIATTN_HD int hadamard_block(int at, int d) {  // size of the block that starts at channel at
  int n = 1;
  while (2 * n <= d - at) n *= 2;
  return n;
}

MINIATTN_HD float hadamard_norm(int n) {
#if defined(__CUDA_ARCH__)
  return __double2float_rn(__ddiv_rn(1.0, __dsqrt_rn(static_cast<double>(n))));
#else
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(n)));
#endif
}

// Level h of the block [at, at + n): this lane's butterflies.
MINIATTN_HD void hadamard_level(float* x, int at, int n, int h, int lane, int lanes) {
  for (int p = lane; p < n / 2; p += lanes) {
    const int j = at + 2 * (p & ~(h - 1)) + (p & (h - 1));  // the p-th index with bit h clear
    const float a = x[j], b = x[j + h];
    x[j] = q_add(a, b);
    x[j + h] = q_sub(a, b);
  }
}

// The block's normalisation, this lane's channels.
MINIATTN_HD void hadamard_scale(float* x, int at, int n, int lane, int lanes) {
  const float norm = hadamard_norm(n);
  for (int c = at + lane; c < at + n; c += lanes) x[c] = q_mul(x[c], norm);
}

// The whole row by `lanes` threads; sync() orders the levels (__syncwarp on the device).
template <class Sync>
MINIATTN_HD void hadamard_row(float* x, int d, int lane, int lanes, Sync sync) {
  for (int at = 0; at < d;) {
    const int n = hadamard_block(at, d);
    for (int h = 1; h < n; h *= 2) {
      hadamard_level(x, at, n, h, lane, lanes);
      sync();
    }
    hadamard_scale(x, at, n, lane, lanes);  // channels no later block touches: no sync before the next
    at += n;
  }
  sync();
}

// K smoothing's LSE term of one query row, quant::smoothing_lse_shift's operations in its order
// (bit for bit where the CPU compiler does not contract its multiply-add): four double partial
// sums of q[c] * mean[c], chain j over channels j, j + 4, ... (d % 4 == 0), then
// float(scale * ((s0 + s1) + (s2 + s3))).
MINIATTN_HD double shift_chain(const float* q, const float* mean, int d, int j) {
  double s = 0.0;
  for (int c = j; c < d; c += 4) {
#if defined(__CUDA_ARCH__)
    s = __dadd_rn(s, __dmul_rn(static_cast<double>(q[c]), static_cast<double>(mean[c])));
#else
    s += static_cast<double>(q[c]) * static_cast<double>(mean[c]);
#endif
  }
  return s;
}

MINIATTN_HD float shift_combine(double s0, double s1, double s2, double s3, double scale) {
#if defined(__CUDA_ARCH__)
  return __double2float_rn(__dmul_rn(scale, __dadd_rn(__dadd_rn(s0, s1), __dadd_rn(s2, s3))));
#else
  return static_cast<float>(scale * ((s0 + s1) + (s2 + s3)));
#endif
}

}  // namespace miniattn::cuda::layout
