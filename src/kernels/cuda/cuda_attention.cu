// The fused INT8 attention kernel (FlashAttention-2 structure, SageAttention numerics):
//   S   = Q8 . K8^T            mma.sync m16n8k32 s8.s8.s32 (exact, bitwise equal to the CPU)
//   x   = a_r * (float(S) * k_scale[key])       a_r = q_scale[row] * scale * log2 e
//   P   = 2^(x - m)            ex2.approx.ftz (SFU), online softmax in registers
//   O  += P . V                bf16: mma m16n8k16 bf16 with fp32 accumulators;
//                              int8: P as u8 against the row's maximum over the 64-key tile
//                                    (= the CPU's P block, kPBlock keys aligned to key 0),
//                                    V^T s8 per channel, mma m16n8k32 u8.s8.s32, folded into
//                                    fp32 O per tile.
// References: Dao, FlashAttention-2 (2023), sec. 3 (online softmax, warp partition of Q);
// Zhang et al., SageAttention (2024) (INT8 Q.K^T with K smoothing); PTX ISA 8.x, "Warp-level
// matrix fragments for mma.m16n8k16 / m16n8k32", "ldmatrix", "cp.async".
//
// One CTA = one GpuTile (<= 128 query rows of one head); warps own 16 * kMt rows each. K/V
// tiles of Bc keys go through a 2-stage cp.async pipeline into XOR-swizzled shared memory;
// fragments come out with ldmatrix (.trans for bf16 V). Causal tiles past the diagonal are
// never loaded; only tiles crossing it (or the end of the keys) evaluate the mask.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/cuda/cuda_config.hpp"
#include "kernels/cuda/cuda_launch.hpp"
#include "kernels/cuda/cuda_layout.hpp"
#include "kernels/cuda/cuda_util.hpp"

namespace miniattn::cuda {
namespace {

using layout::swizzle;

constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23: integer <-> float by one add
constexpr int kMagicBits = 0x4B400000;

__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }

// Exact float of an int32 with |v| < 2^22 (|S| <= 127^2 * 256 < 2^22; int8 P.V tile sums
// <= 255 * 127 * 64): an integer add and a float add instead of the quarter-rate I2F.
__device__ __forceinline__ float exact_float(int32_t v) { return __int_as_float(kMagicBits + v) - kMagic; }

__device__ __forceinline__ float ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldsm_x4(uint32_t addr, uint32_t (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldsm_x4_trans(uint32_t addr, uint32_t (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

__device__ __forceinline__ void mma_s8(int32_t (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void mma_u8s8(int32_t (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void mma_bf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats to a bf16x2 register (lo in the low half), round to nearest even.
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

template <bool kOn>
__device__ __forceinline__ long long tick() {
  if constexpr (kOn) return clock64();
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Tile loads (all threads of the CTA; cp.async, no wait).
// ---------------------------------------------------------------------------------------------
template <class T>
struct Smem {
  unsigned char* base;
  __device__ unsigned char* q() const { return base; }
  __device__ float* vs() const { return reinterpret_cast<float*>(base + T::kQBytes); }
  __device__ unsigned char* k(int stage) const {
    return base + T::kQBytes + T::kVsBytes + stage * T::kStageBytes;
  }
  __device__ float* ks(int stage) const { return reinterpret_cast<float*>(k(stage) + T::kKBytes); }
  __device__ unsigned char* v(int stage) const { return k(stage) + T::kKBytes + T::kKsBytes; }
};

template <class T>
__device__ __forceinline__ void load_q(const Smem<T>& sm, const AttnArgs& a, const GpuTile& t) {
  constexpr int C = T::kD / 16;
  const uint32_t dst = smem_addr(sm.q());
  for (int i = threadIdx.x; i < T::kBr * C; i += T::kThreads) {
    const int r = i / C, c = i % C;
    const int64_t row = t.q_row + min(r, t.rows - 1);  // rows past the tile repeat its last row
    cp_async16(dst + swizzle<C>(r, c) * 16, a.q8 + row * T::kD + c * 16);
  }
  if constexpr (T::kInt8Pv) {
    const float* vs = a.v_scale + static_cast<int64_t>(t.group) * T::kD;
    for (int i = threadIdx.x; i < T::kD / 4; i += T::kThreads) cp_async16(smem_addr(sm.vs() + 4 * i), vs + 4 * i);
  }
}

template <class T>
__device__ __forceinline__ void load_k(const Smem<T>& sm, const AttnArgs& a, const GpuTile& t, int j, int stage) {
  constexpr int D = T::kD, Bc = T::kBc, C = D / 16;
  const int64_t key0 = static_cast<int64_t>(t.group) * a.lk_pad + static_cast<int64_t>(j) * Bc;
  const uint32_t dk = smem_addr(sm.k(stage));
  for (int i = threadIdx.x; i < Bc * C; i += T::kThreads) {
    const int r = i / C, c = i % C;
    cp_async16(dk + swizzle<C>(r, c) * 16, a.k8 + (key0 + r) * D + c * 16);
  }
  if (threadIdx.x < Bc / 4) cp_async16(smem_addr(sm.ks(stage) + 4 * threadIdx.x), a.k_scale + key0 + 4 * threadIdx.x);
}

template <class T>
__device__ __forceinline__ void load_v(const Smem<T>& sm, const AttnArgs& a, const GpuTile& t, int j, int stage) {
  constexpr int D = T::kD, Bc = T::kBc;
  const uint32_t dv = smem_addr(sm.v(stage));
  if constexpr (T::kInt8Pv) {
    // V^T tile: D rows (channels) x Bc slots, contiguous in the packed layout.
    constexpr int C = Bc / 16;
    const int8_t* src = a.vt8 + (static_cast<int64_t>(t.group) * (a.lk_pad / Bc) + j) * D * Bc;
    for (int i = threadIdx.x; i < D * C; i += T::kThreads) {
      const int r = i / C, c = i % C;
      cp_async16(dv + swizzle<C>(r, c) * 16, src + r * Bc + c * 16);
    }
  } else {
    constexpr int C = D / 8;
    const int64_t key0 = static_cast<int64_t>(t.group) * a.lk_pad + static_cast<int64_t>(j) * Bc;
    for (int i = threadIdx.x; i < Bc * C; i += T::kThreads) {
      const int r = i / C, c = i % C;
      cp_async16(dv + swizzle<C>(r, c) * 16, a.v_bf16 + (key0 + r) * D + c * 8);
    }
  }
}

// S[mt][n] (m16n8 int32 accumulators) of this warp's rows against the Bc keys in stage.
template <class T>
__device__ __forceinline__ void qk_tile(const Smem<T>& sm, int stage, int warp, int lane,
                                        int32_t (&s)[T::kMt][T::kBc / 8][4]) {
  constexpr int D = T::kD, Bc = T::kBc, Mt = T::kMt, C = D / 16;
#pragma unroll
  for (int mt = 0; mt < Mt; ++mt)
#pragma unroll
    for (int n = 0; n < Bc / 8; ++n)
#pragma unroll
      for (int i = 0; i < 4; ++i) s[mt][n][i] = 0;
  const uint32_t sq = smem_addr(sm.q()), sk = smem_addr(sm.k(stage));
  // Not unrolled: the k steps share nothing, and unrolling lets ptxas hoist fragment loads of
  // later steps, which costs registers the O accumulators need (spills at D = 128, bf16).
#pragma unroll 1
  for (int kk = 0; kk < D / 32; ++kk) {
    uint32_t qa[Mt][4];
#pragma unroll
    for (int mt = 0; mt < Mt; ++mt)
      ldsm_x4(sq + swizzle<C>(warp * 16 * Mt + mt * 16 + layout::a_row(lane), layout::a_chunk(lane, kk)) * 16, qa[mt]);
#pragma unroll
    for (int np = 0; np < Bc / 16; ++np) {
      uint32_t kb[4];
      ldsm_x4(sk + swizzle<C>(np * 16 + layout::b_row(lane), layout::b_chunk(lane, kk)) * 16, kb);
#pragma unroll
      for (int mt = 0; mt < Mt; ++mt) {
        mma_s8(s[mt][2 * np], qa[mt], kb[0], kb[1]);
        mma_s8(s[mt][2 * np + 1], qa[mt], kb[2], kb[3]);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The fused kernel.
// ---------------------------------------------------------------------------------------------
// kTimed: per-phase clock64 sums for the executor's phase split (a separate instantiation, so
// the benchmarked kernel carries no timing registers or instructions).
template <class T, bool kTimed>
__global__ void __launch_bounds__(T::kThreads, T::kMinBlocks) fused_attention(const AttnArgs a) {
  constexpr int D = T::kD, Bc = T::kBc, Mt = T::kMt, NT = Bc / 8, ND = D / 8;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  const Smem<T> sm{smem_raw};
  const GpuTile tile = a.tiles[blockIdx.x];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, tig = lane & 3;
  long long cyc_qk = 0, cyc_sm = 0, cyc_pv = 0;

  // Rows of this thread: (mt, h) -> tile row warp*16*Mt + mt*16 + g + 8h.
  float a_r[Mt][2], m[Mt][2], l[Mt][2];
  const int off = a.lk - a.lq;
#pragma unroll
  for (int mt = 0; mt < Mt; ++mt)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int r = warp * 16 * Mt + mt * 16 + g + 8 * h;
      a_r[mt][h] = a.q_scale[tile.q_row + min(r, tile.rows - 1)] * a.scale_log2;
      m[mt][h] = neg_inf();
      l[mt][h] = 0.0f;
    }
  float o[Mt][ND][4];
#pragma unroll
  for (int mt = 0; mt < Mt; ++mt)
#pragma unroll
    for (int n = 0; n < ND; ++n)
#pragma unroll
      for (int i = 0; i < 4; ++i) o[mt][n][i] = 0.0f;

  const int kv_end = a.causal ? max(0, min(tile.row0 + tile.rows + off, a.lk)) : a.lk;
  const int steps = (kv_end + Bc - 1) / Bc;
  // Keys every row of the tile sees: tiles inside need no mask.
  const int vis_all = a.causal ? max(0, min(tile.row0 + off + 1, a.lk)) : a.lk;

  load_q(sm, a, tile);
  if (steps > 0) {
    load_k(sm, a, tile, 0, 0);
    load_v(sm, a, tile, 0, 0);
  }
  cp_async_commit();

  for (int j = 0; j < steps; ++j) {
    const int stage = j & 1;
    if (j + 1 < steps) {
      load_k(sm, a, tile, j + 1, stage ^ 1);
      load_v(sm, a, tile, j + 1, stage ^ 1);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();

    const long long t0 = tick<kTimed>();
    int32_t s[Mt][NT][4];
    qk_tile<T>(sm, stage, warp, lane, s);
    const long long t1 = tick<kTimed>();

    // Scores in base-2 units, masked, and their row maxima.
    float x[Mt][NT][4];
    const float* ks = sm.ks(stage);
#pragma unroll
    for (int n = 0; n < NT; ++n) {
      const float2 kk = *reinterpret_cast<const float2*>(ks + 8 * n + 2 * tig);
#pragma unroll
      for (int mt = 0; mt < Mt; ++mt)
#pragma unroll
        for (int i = 0; i < 4; ++i)
          x[mt][n][i] = a_r[mt][i >> 1] * (exact_float(s[mt][n][i]) * ((i & 1) ? kk.y : kk.x));
    }
    if ((j + 1) * Bc > vis_all) {
#pragma unroll
      for (int mt = 0; mt < Mt; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          // Keys this row sees, relative to the thread's first key column in the tile.
          const int r = warp * 16 * Mt + mt * 16 + g + 8 * h;
          const int vis = (a.causal ? min(tile.row0 + r + off + 1, a.lk) : a.lk) - j * Bc - 2 * tig;
#pragma unroll
          for (int n = 0; n < NT; ++n)
#pragma unroll
            for (int e = 0; e < 2; ++e)
              if (8 * n + e >= vis) x[mt][n][2 * h + e] = neg_inf();
        }
    }
    float mx[Mt][2];
#pragma unroll
    for (int mt = 0; mt < Mt; ++mt)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float v = neg_inf();
#pragma unroll
        for (int n = 0; n < NT; ++n) v = fmaxf(v, fmaxf(x[mt][n][2 * h], x[mt][n][2 * h + 1]));
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
        mx[mt][h] = v;
      }

    // Running maximum and the rescale factor of what O and l hold so far.
    float alpha[Mt][2], mp[Mt][2], beta[Mt][2];
    bool rescale = false;
#pragma unroll
    for (int mt = 0; mt < Mt; ++mt)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const float m_new = fmaxf(m[mt][h], mx[mt][h]);
        if constexpr (T::kInt8Pv) {
          // u8 P against the tile maximum; beta brings it to the running maximum.
          const bool none = mx[mt][h] == neg_inf();
          mp[mt][h] = none ? 0.0f : mx[mt][h];
          beta[mt][h] = none ? 0.0f : ex2(mx[mt][h] - m_new) / 255.0f;
        } else {
          mp[mt][h] = m_new == neg_inf() ? 0.0f : m_new;
          beta[mt][h] = 1.0f;
        }
        alpha[mt][h] = m[mt][h] == neg_inf() ? 0.0f : ex2(m[mt][h] - m_new);
        rescale |= alpha[mt][h] != 1.0f;
        m[mt][h] = m_new;
        l[mt][h] *= alpha[mt][h];
      }
    if (__any_sync(0xffffffffu, rescale)) {
#pragma unroll
      for (int mt = 0; mt < Mt; ++mt)
#pragma unroll
        for (int n = 0; n < ND; ++n)
#pragma unroll
          for (int i = 0; i < 4; ++i) o[mt][n][i] *= alpha[mt][i >> 1];
    }

    if constexpr (!T::kInt8Pv) {
      // P as bf16 A fragments (layout::p16_ntile); l sums the rounded values P.V will use.
      uint32_t pa[Mt][Bc / 16][4];
#pragma unroll
      for (int mt = 0; mt < Mt; ++mt)
#pragma unroll
        for (int t = 0; t < Bc / 16; ++t)
#pragma unroll
          for (int r = 0; r < 4; ++r) {
            const int n = layout::p16_ntile(t, r), h = layout::p_half(r);
            const uint32_t p = pack_bf16(ex2(x[mt][n][2 * h] - mp[mt][h]), ex2(x[mt][n][2 * h + 1] - mp[mt][h]));
            l[mt][h] += __uint_as_float(p << 16) + __uint_as_float(p & 0xffff0000u);
            pa[mt][t][r] = p;
          }
      const long long t2 = tick<kTimed>();
      const uint32_t sv = smem_addr(sm.v(stage));
#pragma unroll
      for (int t = 0; t < Bc / 16; ++t)
#pragma unroll
        for (int cp = 0; cp < D / 16; ++cp) {
          uint32_t vb[4];
          ldsm_x4_trans(sv + swizzle<D / 8>(16 * t + layout::vt_row(lane), layout::vt_chunk(lane, cp)) * 16, vb);
#pragma unroll
          for (int mt = 0; mt < Mt; ++mt) {
            mma_bf16(o[mt][2 * cp], pa[mt][t], vb[0], vb[1]);
            mma_bf16(o[mt][2 * cp + 1], pa[mt][t], vb[2], vb[3]);
          }
        }
      if constexpr (kTimed) {
        const long long t3 = tick<kTimed>();
        cyc_qk += t1 - t0;
        cyc_sm += t2 - t1;
        cyc_pv += t3 - t2;
      }
    } else {
      // P as u8 A fragments of m16n8k32 (see layout::slot_key and layout::p8_*).
      uint32_t pa[Mt][Bc / 32][4];
#pragma unroll
      for (int mt = 0; mt < Mt; ++mt) {
        int32_t isum[2] = {0, 0};
#pragma unroll
        for (int t = 0; t < Bc / 32; ++t)
#pragma unroll
          for (int r = 0; r < 4; ++r) {
            const int h = layout::p_half(r);
            uint32_t b[4];
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              const float xv = x[mt][layout::p8_ntile(t, r, e)][layout::p8_elem(r, e)];
              // rint(255 * 2^(x - m_tile)) by the magic add: the integer sits in the low bits.
              b[e] = __float_as_uint(__fadd_rn(__fmul_rn(255.0f, ex2(xv - mp[mt][h])), kMagic));
              isum[h] += static_cast<int32_t>(b[e]) - kMagicBits;
            }
            pa[mt][t][r] = __byte_perm(__byte_perm(b[0], b[1], 0x0040), __byte_perm(b[2], b[3], 0x0040), 0x5410);
          }
#pragma unroll
        for (int h = 0; h < 2; ++h) l[mt][h] += beta[mt][h] * static_cast<float>(isum[h]);
      }
      const long long t2 = tick<kTimed>();
      const uint32_t sv = smem_addr(sm.v(stage));
      const float* vs = sm.vs();
#pragma unroll
      for (int c64 = 0; c64 < D / 64; ++c64) {
        int32_t acc[Mt][8][4];
#pragma unroll
        for (int mt = 0; mt < Mt; ++mt)
#pragma unroll
          for (int n = 0; n < 8; ++n)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[mt][n][i] = 0;
#pragma unroll
        for (int t = 0; t < Bc / 32; ++t)
#pragma unroll
          for (int cp = 0; cp < 4; ++cp) {
            uint32_t vb[4];
            ldsm_x4(sv + swizzle<Bc / 16>(c64 * 64 + cp * 16 + layout::b_row(lane), layout::b_chunk(lane, t)) * 16, vb);
#pragma unroll
            for (int mt = 0; mt < Mt; ++mt) {
              mma_u8s8(acc[mt][2 * cp], pa[mt][t], vb[0], vb[1]);
              mma_u8s8(acc[mt][2 * cp + 1], pa[mt][t], vb[2], vb[3]);
            }
          }
#pragma unroll
        for (int n = 0; n < 8; ++n) {
          const float2 sc = *reinterpret_cast<const float2*>(vs + c64 * 64 + 8 * n + 2 * tig);
#pragma unroll
          for (int mt = 0; mt < Mt; ++mt)
#pragma unroll
            for (int i = 0; i < 4; ++i)
              o[mt][c64 * 8 + n][i] = fmaf(exact_float(acc[mt][n][i]), beta[mt][i >> 1] * ((i & 1) ? sc.y : sc.x),
                                           o[mt][c64 * 8 + n][i]);
        }
      }
      if constexpr (kTimed) {
        const long long t3 = tick<kTimed>();
        cyc_qk += t1 - t0;
        cyc_sm += t2 - t1;
        cyc_pv += t3 - t2;
      }
    }
    __syncthreads();  // the stage is refilled by the next iteration's loads
  }
  cp_async_wait<0>();

  // O = acc / l, LSE = ln(sum exp) = (m + log2 l) ln 2 + shift (K smoothing's term), as
  // finalize_rows computes them (double, no contraction).
#pragma unroll
  for (int mt = 0; mt < Mt; ++mt)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float lsum = l[mt][h];
      lsum += __shfl_xor_sync(0xffffffffu, lsum, 1);
      lsum += __shfl_xor_sync(0xffffffffu, lsum, 2);
      const int r = warp * 16 * Mt + mt * 16 + g + 8 * h;
      if (r >= tile.rows) continue;
      const int64_t row = tile.q_row + r;
      const bool seen = lsum > 0.0f;
      const float inv = seen ? 1.0f / lsum : 0.0f;
      float* orow = a.o + row * D;
#pragma unroll
      for (int n = 0; n < ND; ++n) {
        const float2 v = seen ? make_float2(o[mt][n][2 * h] * inv, o[mt][n][2 * h + 1] * inv) : make_float2(0.0f, 0.0f);
        *reinterpret_cast<float2*>(orow + 8 * n + 2 * tig) = v;
      }
      if (tig == 0) {
        // A volatile load, kept here: with a plain one ptxas spills in the D = 128 bf16 kernel
        // (255 registers), presumably by scheduling it earlier.
        float shift = 0.0f;
        if (a.lse_shift) asm volatile("ld.global.f32 %0, [%1];" : "=f"(shift) : "l"(a.lse_shift + row));
        const double ln_l = __dmul_rn(__dadd_rn(static_cast<double>(m[mt][h]), log2(static_cast<double>(lsum))),
                                      0.6931471805599453);
        a.lse[row] = seen ? __double2float_rn(__dadd_rn(ln_l, static_cast<double>(shift))) : neg_inf();
      }
    }

  if constexpr (kTimed) {
    // Sum over the warp's lanes is the same clock read 32 times: lane 0 adds for the warp.
    if (lane == 0) {
      atomicAdd(a.cycles + 0, static_cast<unsigned long long>(cyc_qk));
      atomicAdd(a.cycles + 1, static_cast<unsigned long long>(cyc_sm));
      atomicAdd(a.cycles + 2, static_cast<unsigned long long>(cyc_pv));
    }
  }
}

// S of every row of every tile against keys [0, lk), with the fused kernel's QK code.
template <class T>
__global__ void __launch_bounds__(T::kThreads) qk_scores_kernel(const AttnArgs a, int32_t* out, int64_t lds) {
  constexpr int Bc = T::kBc, Mt = T::kMt, NT = Bc / 8;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  const Smem<T> sm{smem_raw};
  const GpuTile tile = a.tiles[blockIdx.x];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, tig = lane & 3;
  load_q(sm, a, tile);
  cp_async_commit();
  for (int j = 0; j * Bc < a.lk; ++j) {
    load_k(sm, a, tile, j, 0);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();
    int32_t s[Mt][NT][4];
    qk_tile<T>(sm, 0, warp, lane, s);
#pragma unroll
    for (int mt = 0; mt < Mt; ++mt)
#pragma unroll
      for (int n = 0; n < NT; ++n)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int r = warp * 16 * Mt + mt * 16 + g + 8 * (i >> 1);
          const int key = j * Bc + 8 * n + 2 * tig + (i & 1);
          if (r < tile.rows && key < a.lk) out[(tile.q_row + r) * lds + key] = s[mt][n][i];
        }
    __syncthreads();
  }
}

template <class T, bool kTimed>
void launch_fused_as(const AttnArgs& a, cudaStream_t stream) {
  static const bool configured = [] {
    check_cuda(cudaFuncSetAttribute(fused_attention<T, kTimed>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    T::kSmemBytes),
               "cudaFuncSetAttribute (fused attention shared memory)");
    return true;
  }();
  (void)configured;
  if (a.num_tiles == 0) return;
  fused_attention<T, kTimed><<<a.num_tiles, T::kThreads, T::kSmemBytes, stream>>>(a);
  check_cuda(cudaGetLastError(), "fused attention launch");
}

template <class T>
void launch_fused(const AttnArgs& a, cudaStream_t stream) {
  if (a.cycles) launch_fused_as<T, true>(a, stream);
  else launch_fused_as<T, false>(a, stream);
}

template <class T>
void launch_scores(const AttnArgs& a, int32_t* s, int64_t lds, cudaStream_t stream) {
  static const bool configured = [] {
    check_cuda(cudaFuncSetAttribute(qk_scores_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, T::kSmemBytes),
               "cudaFuncSetAttribute (scores shared memory)");
    return true;
  }();
  (void)configured;
  if (a.num_tiles == 0) return;
  qk_scores_kernel<T><<<a.num_tiles, T::kThreads, T::kSmemBytes, stream>>>(a, s, lds);
  check_cuda(cudaGetLastError(), "qk scores launch");
}

}  // namespace

void launch_attention(const AttnArgs& a, PvPrecision pv, cudaStream_t stream) {
  const bool i8 = pv == PvPrecision::Int8;
  switch (a.d) {
    case 64: return i8 ? launch_fused<KernelTraits<64, true>>(a, stream) : launch_fused<KernelTraits<64, false>>(a, stream);
    case 128: return i8 ? launch_fused<KernelTraits<128, true>>(a, stream) : launch_fused<KernelTraits<128, false>>(a, stream);
    case 256: return i8 ? launch_fused<KernelTraits<256, true>>(a, stream) : launch_fused<KernelTraits<256, false>>(a, stream);
    default: throw_cuda_shape(a.d);
  }
}

void launch_qk_scores(const AttnArgs& a, int32_t* s, int64_t lds, cudaStream_t stream) {
  switch (a.d) {
    case 64: return launch_scores<KernelTraits<64, false>>(a, s, lds, stream);
    case 128: return launch_scores<KernelTraits<128, false>>(a, s, lds, stream);
    case 256: return launch_scores<KernelTraits<256, false>>(a, s, lds, stream);
    default: throw_cuda_shape(a.d);
  }
}

}  // namespace miniattn::cuda
