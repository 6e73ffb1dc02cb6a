#include "kernels/cuda/cuda_backend.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>

#include "kernels/cuda/cuda_config.hpp"
#include "kernels/cuda/cuda_launch.hpp"
#include "kernels/cuda/cuda_util.hpp"
#include "miniattn/phases.hpp"

namespace miniattn {

std::string cuda_unsupported() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error for later calls
    return std::string("no CUDA device (") + cudaGetErrorString(e) + ")";
  }
  if (n == 0) return "no CUDA device";
  int major = 0, minor = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0);
  if (major < 8)
    return "CUDA device 0 has compute capability " + std::to_string(major) + "." + std::to_string(minor) +
           "; the int8 mma.sync kernels need 8.0 or newer";
  return {};
}

namespace cuda {

int select_device() {
  int n = 0;
  check_cuda(cudaGetDeviceCount(&n), "cudaGetDeviceCount");
  if (n == 0) throw Error("cuda: no CUDA device", ExitCode::RuntimeFailure);
  const int dev = local_rank_from_env() % n;
  check_cuda(cudaSetDevice(dev), "cudaSetDevice");
  return dev;
}

struct DeviceAttention::Impl {
  AttnParams p;
  Range rows, groups;
  KernelShape shape;
  int64_t lk_pad = 0;
  Stream stream;
  std::vector<GpuTile> tiles;
  std::vector<QuantBlock> q_blocks, k_blocks;

  DeviceBuffer<float> q, k, v;  // float inputs
  DeviceBuffer<int8_t> q8, k8, vt8;
  DeviceBuffer<float> q_scale, k_scale, k_mean, v_scale, o, lse, lse_shift;
  DeviceBuffer<uint16_t> v_bf16;
  DeviceBuffer<unsigned> v_amax;
  DeviceBuffer<GpuTile> d_tiles;
  DeviceBuffer<QuantBlock> d_q_blocks, d_k_blocks;
  DeviceBuffer<unsigned long long> cycles;

  int64_t nrows() const { return rows.size(); }
  int64_t ngroups() const { return groups.size(); }

  AttnArgs args() const {
    AttnArgs a;
    a.q8 = q8.get();
    a.q_scale = q_scale.get();
    a.k8 = k8.get();
    a.k_scale = k_scale.get();
    a.v_bf16 = v_bf16.get();
    a.vt8 = vt8.get();
    a.v_scale = v_scale.get();
    a.o = o.get();
    a.lse = lse.get();
    a.lse_shift = p.smooth_k ? lse_shift.get() : nullptr;
    a.tiles = d_tiles.get();
    a.num_tiles = static_cast<int>(tiles.size());
    a.d = p.d;
    a.lq = static_cast<int>(p.lq);
    a.lk = static_cast<int>(p.lk);
    a.lk_pad = static_cast<int>(lk_pad);
    a.causal = p.causal ? 1 : 0;
    a.scale_log2 = p.scale_log2;
    return a;
  }
};

template <class T>
static void to_device(DeviceBuffer<T>& buf, const std::vector<T>& host, cudaStream_t s) {
  buf.allocate(host.size());
  if (!host.empty())
    check_cuda(cudaMemcpyAsync(buf.get(), host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice, s),
               "cudaMemcpyAsync (plan)");
}

DeviceAttention::DeviceAttention(const AttnParams& p, const Range& rows, const Range& groups)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  if (const std::string why = check_params(p); !why.empty()) throw Error("cuda: " + why);
  m.p = p;
  m.rows = rows;
  m.groups = groups;
  kernel_shape(p.d, p.pv, m.shape);
  m.lk_pad = padded_keys(p.lk);
  const std::size_t d = static_cast<std::size_t>(p.d);
  const std::size_t nr = static_cast<std::size_t>(rows.size()), ng = static_cast<std::size_t>(groups.size());
  const std::size_t keys = ng * static_cast<std::size_t>(p.lk), padded = ng * static_cast<std::size_t>(m.lk_pad);
  m.q.allocate(nr * d);
  m.k.allocate(keys * d);
  m.v.allocate(keys * d);
  m.q8.allocate(nr * d);
  m.q_scale.allocate(nr);
  m.k8.allocate(padded * d);
  m.k_scale.allocate(padded);
  m.k_mean.allocate(ng * d);
  if (p.smooth_k) m.lse_shift.allocate(nr);
  if (p.pv == PvPrecision::Int8) {
    m.vt8.allocate(padded * d);
    m.v_scale.allocate(ng * d);
    m.v_amax.allocate(ng * d);
  } else {
    m.v_bf16.allocate(padded * d);
  }
  m.o.allocate(nr * d);
  m.lse.allocate(nr);
  m.cycles.allocate(3);
  m.tiles = plan_tiles(p, rows, groups, m.shape.br);
  m.q_blocks = plan_q_quant(p, rows);
  m.k_blocks = plan_k_quant(p, groups.size());
  to_device(m.d_tiles, m.tiles, m.stream.get());
  to_device(m.d_q_blocks, m.q_blocks, m.stream.get());
  to_device(m.d_k_blocks, m.k_blocks, m.stream.get());
  m.stream.sync();
}

DeviceAttention::~DeviceAttention() = default;

void DeviceAttention::upload(const float* q, const float* k, const float* v) {
  Impl& m = *impl_;
  const cudaStream_t s = m.stream.get();
  check_cuda(cudaMemcpyAsync(m.q.get(), q, m.q.bytes(), cudaMemcpyHostToDevice, s), "cudaMemcpyAsync (Q)");
  check_cuda(cudaMemcpyAsync(m.k.get(), k, m.k.bytes(), cudaMemcpyHostToDevice, s), "cudaMemcpyAsync (K)");
  check_cuda(cudaMemcpyAsync(m.v.get(), v, m.v.bytes(), cudaMemcpyHostToDevice, s), "cudaMemcpyAsync (V)");
}

void DeviceAttention::quantize() {
  Impl& m = *impl_;
  const cudaStream_t s = m.stream.get();
  const AttnParams& p = m.p;
  const bool rotate = p.rotate == Rotation::Hadamard;
  launch_quantize_rows(m.q.get(), p.d, m.d_q_blocks.get(), static_cast<int64_t>(m.q_blocks.size()), nullptr, rotate,
                       m.q8.get(), m.q_scale.get(), s);
  if (p.smooth_k) {
    launch_k_mean(m.k.get(), m.ngroups(), p.lk, p.d, m.k_mean.get(), s);
    launch_lse_shift(m.q.get(), p.d, m.d_tiles.get(), static_cast<int64_t>(m.tiles.size()), m.k_mean.get(), p.scale,
                     m.lse_shift.get(), s);
  }
  launch_quantize_rows(m.k.get(), p.d, m.d_k_blocks.get(), static_cast<int64_t>(m.k_blocks.size()),
                       p.smooth_k ? m.k_mean.get() : nullptr, rotate, m.k8.get(), m.k_scale.get(), s);
  if (p.pv == PvPrecision::Bf16) launch_v_bf16(m.v.get(), m.ngroups(), p.lk, m.lk_pad, p.d, m.v_bf16.get(), s);
}

void DeviceAttention::pack() {
  Impl& m = *impl_;
  if (m.p.pv == PvPrecision::Int8)
    launch_v_int8(m.v.get(), m.ngroups(), m.p.lk, m.lk_pad, m.p.d, m.v_amax.get(), m.v_scale.get(), m.vt8.get(),
                  m.stream.get());
}

void DeviceAttention::attend(bool cycles) {
  Impl& m = *impl_;
  AttnArgs a = m.args();
  if (cycles) {
    check_cuda(cudaMemsetAsync(m.cycles.get(), 0, m.cycles.bytes(), m.stream.get()), "cudaMemsetAsync");
    a.cycles = m.cycles.get();
  }
  launch_attention(a, m.p.pv, m.stream.get());
}

void DeviceAttention::download(float* o, float* lse) {
  Impl& m = *impl_;
  const cudaStream_t s = m.stream.get();
  check_cuda(cudaMemcpyAsync(o, m.o.get(), m.o.bytes(), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync (O)");
  check_cuda(cudaMemcpyAsync(lse, m.lse.get(), m.lse.bytes(), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync (LSE)");
}

void DeviceAttention::sync() { impl_->stream.sync(); }

std::array<double, 3> DeviceAttention::cycle_split() {
  Impl& m = *impl_;
  unsigned long long c[3] = {};
  check_cuda(cudaMemcpyAsync(c, m.cycles.get(), sizeof c, cudaMemcpyDeviceToHost, m.stream.get()), "cudaMemcpyAsync");
  m.stream.sync();
  const double total = static_cast<double>(c[0]) + static_cast<double>(c[1]) + static_cast<double>(c[2]);
  if (!(total > 0)) return {0.0, 0.0, 0.0};
  return {c[0] / total, c[1] / total, c[2] / total};
}

DeviceAttention::HostQuant DeviceAttention::download_quantised() {
  Impl& m = *impl_;
  const AttnParams& p = m.p;
  const std::size_t d = static_cast<std::size_t>(p.d);
  HostQuant h;
  auto get = [&](auto& host, const auto& dev) {
    host.resize(dev.size());
    if (!host.empty())
      check_cuda(cudaMemcpy(host.data(), dev.get(), dev.bytes(), cudaMemcpyDeviceToHost), "cudaMemcpy");
  };
  m.stream.sync();
  get(h.q8, m.q8);
  get(h.q_scale, m.q_scale);
  get(h.k_mean, m.k_mean);
  get(h.lse_shift, m.lse_shift);
  get(h.v_scale, m.v_scale);
  std::vector<int8_t> k8;
  std::vector<float> ks;
  std::vector<uint16_t> vb;
  get(k8, m.k8);
  get(ks, m.k_scale);
  get(vb, m.v_bf16);
  // Drop the pads: groups x lk rows.
  const std::size_t lk = static_cast<std::size_t>(p.lk), lp = static_cast<std::size_t>(m.lk_pad);
  for (std::size_t g = 0; g < static_cast<std::size_t>(m.ngroups()); ++g) {
    h.k8.insert(h.k8.end(), k8.begin() + g * lp * d, k8.begin() + (g * lp + lk) * d);
    h.k_scale.insert(h.k_scale.end(), ks.begin() + g * lp, ks.begin() + g * lp + lk);
    if (!vb.empty()) h.v_bf16.insert(h.v_bf16.end(), vb.begin() + g * lp * d, vb.begin() + (g * lp + lk) * d);
  }
  return h;
}

void DeviceAttention::set_quantised_qk(const int8_t* q8, const int8_t* k8) {
  Impl& m = *impl_;
  const std::size_t d = static_cast<std::size_t>(m.p.d), lk = static_cast<std::size_t>(m.p.lk);
  check_cuda(cudaMemcpy(m.q8.get(), q8, m.q8.bytes(), cudaMemcpyHostToDevice), "cudaMemcpy (q8)");
  for (std::size_t g = 0; g < static_cast<std::size_t>(m.ngroups()); ++g)
    check_cuda(cudaMemcpy(m.k8.get() + g * static_cast<std::size_t>(m.lk_pad) * d, k8 + g * lk * d, lk * d,
                          cudaMemcpyHostToDevice),
               "cudaMemcpy (k8)");
  // Legacy-stream copies from pageable memory may still be in flight: the kernels run on a
  // non-blocking stream that does not wait for them.
  check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

std::vector<int32_t> DeviceAttention::scores() {
  Impl& m = *impl_;
  const int64_t lk = m.p.lk;
  DeviceBuffer<int32_t> s(static_cast<std::size_t>(m.nrows() * lk));
  launch_qk_scores(m.args(), s.get(), lk, m.stream.get());
  std::vector<int32_t> out(s.size());
  m.stream.sync();
  if (!out.empty()) check_cuda(cudaMemcpy(out.data(), s.get(), s.bytes(), cudaMemcpyDeviceToHost), "cudaMemcpy (S)");
  return out;
}

std::size_t DeviceAttention::device_bytes() const {
  const Impl& m = *impl_;
  return m.q.bytes() + m.k.bytes() + m.v.bytes() + m.q8.bytes() + m.k8.bytes() + m.vt8.bytes() + m.q_scale.bytes() +
         m.k_scale.bytes() + m.k_mean.bytes() + m.v_scale.bytes() + m.o.bytes() + m.lse.bytes() + m.lse_shift.bytes() +
         m.v_bf16.bytes() + m.v_amax.bytes() + m.d_tiles.bytes() + m.d_q_blocks.bytes() + m.d_k_blocks.bytes();
}

void* DeviceAttention::stream() const { return impl_->stream.get(); }
int64_t DeviceAttention::num_tiles() const { return static_cast<int64_t>(impl_->tiles.size()); }

namespace {

// Pins a host range for the life of the object (faster, truly asynchronous copies); pageable
// memory still works if the driver refuses.
class HostPin {
 public:
  HostPin(const void* p, std::size_t bytes) {
    if (p && bytes && cudaHostRegister(const_cast<void*>(p), bytes, cudaHostRegisterDefault) == cudaSuccess)
      p_ = const_cast<void*>(p);
    else
      cudaGetLastError();
  }
  HostPin(const HostPin&) = delete;
  HostPin& operator=(const HostPin&) = delete;
  ~HostPin() {
    if (p_) cudaHostUnregister(p_);
  }

 private:
  void* p_ = nullptr;
};

// The rank on its device. Phases from CUDA events: comm = host <-> device copies (the staging
// through host memory that a non-CUDA-aware MPI needs), quantize, pack, and the fused kernel
// split over qk_gemm / softmax / pv_gemm by the kernel's own per-tile clock64 sums.
class CudaExecutor final : public RankExecutor {
 public:
  CudaExecutor(const AttnParams& p, const RankSlice& slice)
      : device_((select_device())),
        slice_(slice),
        dev_(p, slice.rows, slice.groups),
        pins_{{slice.q, static_cast<std::size_t>(slice.rows.size()) * p.d * sizeof(float)},
              {slice.k, static_cast<std::size_t>(slice.groups.size() * p.lk) * p.d * sizeof(float)},
              {slice.v, static_cast<std::size_t>(slice.groups.size() * p.lk) * p.d * sizeof(float)},
              {slice.o, static_cast<std::size_t>(slice.rows.size()) * p.d * sizeof(float)},
              {slice.lse, static_cast<std::size_t>(slice.rows.size()) * sizeof(float)}} {}

  double run(PhaseSeconds& phases) override {
    check_cuda(cudaSetDevice(device_), "cudaSetDevice");
    const cudaStream_t s = static_cast<cudaStream_t>(dev_.stream());
    ev_[0].record(s);
    dev_.upload(slice_.q, slice_.k, slice_.v);
    ev_[1].record(s);
    dev_.quantize();
    ev_[2].record(s);
    dev_.pack();
    ev_[3].record(s);
    dev_.attend(true);
    ev_[4].record(s);
    dev_.download(slice_.o, slice_.lse);
    ev_[5].record(s);
    dev_.sync();
    phases[Phase::Comm] += seconds_between(ev_[0], ev_[1]) + seconds_between(ev_[4], ev_[5]);
    phases[Phase::Quantize] += seconds_between(ev_[1], ev_[2]);
    phases[Phase::Pack] += seconds_between(ev_[2], ev_[3]);
    const double kernel = seconds_between(ev_[3], ev_[4]);
    const std::array<double, 3> f = dev_.cycle_split();
    phases[Phase::QkGemm] += kernel * f[0];
    phases[Phase::Softmax] += kernel * f[1];
    phases[Phase::PvGemm] += kernel * f[2];
    return f[0] + f[1] + f[2] > 0 ? 0.0 : kernel;  // no split (no tiles): all of it is "other"
  }

  // Device memory of the rank (the host arrays belong to the driver).
  std::size_t bytes_allocated() const override { return dev_.device_bytes(); }

 private:
  int device_;
  RankSlice slice_;
  DeviceAttention dev_;
  HostPin pins_[5];
  Event ev_[6];
};

class CudaBackend final : public Backend {
 public:
  std::string_view name() const override { return "cuda"; }

  TileShape default_tiles(int d, PvPrecision pv) const override {
    KernelShape s;
    if (!kernel_shape(d, pv, s)) return {128, 64};
    return {s.br, s.bc};  // work items of one CTA each
  }

  std::string check(const AttnParams& p) const override { return check_params(p); }

  std::size_t scratch_bytes(const AttnParams&, int64_t) const override { return 0; }

  void attend(const AttnParams&, const QTile&, const KvBlock&, const RowState&, std::byte*,
              TileCycles&) const override {
    throw Error(
        "cuda: the backend runs whole ranks on the device through make_executor(); attend() per "
        "(query tile, key block) on host memory is not offered (each call would be a PCIe round trip)",
        ExitCode::RuntimeFailure);
  }

  // A device round trip through the fused kernel's Q.K^T code (for the bitwise tests).
  bool qk_scores(const AttnParams& p, const QTile& q, const KvBlock& kv, int64_t j0, int64_t n, int32_t* s,
                 int64_t lds, std::byte*) const override {
    select_device();
    AttnParams one = p;
    one.batch = one.heads = one.kv_heads = 1;
    one.lq = q.rows;
    one.lk = n;
    one.causal = false;
    one.smooth_k = false;
    // Any deck settings: the scores only need the Q.K^T code of a kernel for this head_dim.
    one.pv = PvPrecision::Bf16;
    one.exp2 = Exp2Kind::Accurate;
    one.variant = Variant::Fused;
    KernelShape sh;
    if (!kernel_shape(p.d, one.pv, sh)) return false;
    one.tile = {sh.br, sh.bc};
    DeviceAttention dev(one, Range{0, q.rows}, Range{0, 1});
    dev.set_quantised_qk(q.q8, kv.k8 + j0 * p.d);
    const std::vector<int32_t> all = dev.scores();
    for (int r = 0; r < q.rows; ++r)
      std::memcpy(s + r * lds, all.data() + static_cast<std::size_t>(r) * n, static_cast<std::size_t>(n) * 4);
    return true;
  }

  std::unique_ptr<RankExecutor> make_executor(const AttnParams& p, const Decomposition&, const RankSlice& slice,
                                              int) const override {
    return std::make_unique<CudaExecutor>(p, slice);
  }
};

}  // namespace
}  // namespace cuda

std::unique_ptr<Backend> make_cuda_backend() { return std::make_unique<cuda::CudaBackend>(); }

}  // namespace miniattn
